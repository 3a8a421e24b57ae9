// `npm run demo` (tsx scripts/demo/index.ts): a full canary on one machine; see cli.ts for options and exit status.
import { main } from "./cli.ts";

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything the demo starts is stopped before main returns; should a stray handle still hold the event loop, the
// demo must not hang a terminal or a CI job over it.
setTimeout(() => {
  process.stderr.write("demo: a handle was still open 3 s after the end; exiting anyway\n");
  process.exit(code);
}, 3_000).unref();
