#!/usr/bin/env node
// The `greenlight` command: loads the TypeScript CLI through tsx so it runs from a checkout after `npm ci`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./cli/main.ts");
process.exitCode = await main(process.argv);
