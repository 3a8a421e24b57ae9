// `greenlight start` (npm start): the whole local stack in one process, until SIGINT or SIGTERM.
import type { Command } from "commander";
import type { StartFlags } from "../local/settings.ts";
import { CliError } from "./errors.ts";

/** The flags as commander hands them over; settings.ts resolves them against the environment. */
type StartOptions = StartFlags;

async function start(flags: StartOptions): Promise<void> {
  // Loaded on use so `greenlight --help` and the offline commands stay fast.
  const { LocalConfigError, resolveSettings } = await import("../local/settings.ts");
  const { createLogger } = await import("../local/log.ts");
  const { LocalStackError, startLocalStack, startupLines } = await import("../local/stack.ts");

  let settings: ReturnType<typeof resolveSettings>;
  try {
    settings = resolveSettings(flags, process.env, process.cwd(), process.stdout.isTTY === true);
  } catch (error) {
    if (error instanceof LocalConfigError) throw new CliError(error.message);
    throw error;
  }
  const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });

  // The handlers go in before anything listens: whoever reads the startup lines may signal at once.
  let signalled: NodeJS.Signals | undefined;
  let requestStop: (signal: NodeJS.Signals) => void = () => undefined;
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    requestStop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      // A second Ctrl-C means "now": skip waiting for the stepper pass and the servers.
      process.stderr.write(`${signal} again: exiting without waiting\n`);
      process.exit(130);
    }
    signalled = signal;
    requestStop(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    let stack: Awaited<ReturnType<typeof startLocalStack>>;
    try {
      stack = await startLocalStack({ ...settings, cwd: process.cwd(), env: process.env, logger });
    } catch (error) {
      if (error instanceof LocalStackError) throw new CliError(error.message);
      throw error;
    }
    if (!signalled) process.stderr.write(`${startupLines(stack).join("\n")}\n`);
    const signal = await stopRequested;
    logger.info({ signal }, "signal received");
    await stack.close();
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export function registerStartCommand(program: Command): void {
  program
    .command("start")
    .description(
      "Run the local stack: webhooks (HTTPS, local CA), flag API, the stepper (canary, blue/green, rolling, flag rollouts) and the dashboard",
    )
    .option("--port <port>", "port of the / page (env GREENLIGHT_PORT; default 8080)")
    .option("--webhook-port <port>", "HTTPS port of the webhooks (env GREENLIGHT_WEBHOOK_PORT; default 8443)")
    .option("--flags-port <port>", "port of the flag API (env GREENLIGHT_FLAGS_PORT; default 8081)")
    .option("--host <host>", "address to bind (env GREENLIGHT_HOST; default 127.0.0.1)")
    .option(
      "--public-host <name>",
      "name a cluster uses to reach the webhooks: in the certificate and the webhook configurations (env GREENLIGHT_PUBLIC_HOST)",
    )
    .option(
      "--home <dir>",
      "where the CA, the flag files and demo.svg live (env GREENLIGHT_HOME; default ./.greenlight)",
    )
    .option(
      "--step-interval <duration>",
      "time between stepper passes, e.g. 30s or 1m (env GREENLIGHT_STEP_INTERVAL; default 60s)",
    )
    .option("--dry-run", "the stepper reports what it would write and writes nothing")
    .option("--no-rate-limit", "turn the flag API's abuse limits off (as GREENLIGHT_RATE_LIMIT=off)")
    .option("--on-error <mode>", "when a mutation fails: allow (admit unchanged) or deny", "allow")
    .option(
      "--log-level <level>",
      "fatal, error, warn, info, debug (one line per request) or trace (env GREENLIGHT_LOG_LEVEL)",
    )
    .option(
      "--log-format <format>",
      "json or pretty (env GREENLIGHT_LOG_FORMAT; default pretty on a terminal, else json)",
    )
    .addHelpText(
      "after",
      `
Logs go to stdout (pino JSON lines, or one readable line per record with --log-format pretty); the startup
lines (URLs, the CA to trust, the admin token) go to stderr once.

The CA is made on the first start and reused after (<home>/tls/ca.crt). The flags come from Upstash when
UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are set, else from files in <home> seeded with the examples.
Without GREENLIGHT_ADMIN_TOKEN an admin token is generated for the run and printed once. The stepper runs the
canary, blue/green and rolling pass on the kubeconfig's current context (KUBECONFIG or ~/.kube/config) when that cluster answers, reading
metrics from PROMETHEUS_URL; otherwise it says so once and stays idle. It writes to that cluster: use --dry-run
to only look.

Examples:
  npm start
  greenlight start --port 3000 --webhook-port 9443 --step-interval 30s
  greenlight start --host 0.0.0.0 --public-host host.docker.internal   # a local cluster calls the webhooks
  GREENLIGHT_LOG_LEVEL=debug greenlight start --log-format json | jq .`,
    )
    .action((flags: StartOptions) => start(flags));
}
