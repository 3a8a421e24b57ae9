// `greenlight webhook serve|replay`: the admission webhook server, and a dry replay of one AdmissionReview.
import type { Command } from "commander";
import type { OnError } from "../../webhooks/mutate/mutate.ts";
import { CliError } from "./errors.ts";
import { readInput } from "./input.ts";

export function parsePortOption(raw: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) throw new CliError(`--port ${raw} is not a port: use 0..65535`);
  return port;
}

function parseOnError(raw: string): OnError {
  if (raw !== "allow" && raw !== "deny") throw new CliError(`--on-error ${raw} is not supported: use allow or deny`);
  return raw;
}

interface ServeFlags {
  port?: number;
  host: string;
  tlsCert?: string;
  tlsKey?: string;
  onError: OnError;
  bodyLimit?: string;
}

async function bodyLimitOf(raw: string | undefined): Promise<number | undefined> {
  if (raw === undefined) return undefined;
  const { parseByteSize } = await import("../../functions/contract/values.ts");
  const { BODY_LIMIT_RANGE } = await import("../../webhooks/http/env.ts");
  const parsed = parseByteSize(raw, BODY_LIMIT_RANGE.min, BODY_LIMIT_RANGE.max);
  if (!parsed.ok) throw new CliError(`--body-limit ${raw} is not a size; ${parsed.problem}`);
  return parsed.value;
}

async function serve(flags: ServeFlags): Promise<void> {
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) {
    throw new CliError("--tls-cert and --tls-key go together: pass both, or neither for plain HTTP");
  }
  // Loaded on use so `greenlight --help` and the offline commands start fast.
  const { createWebhookListener } = await import("../../webhooks/http/core.ts");
  const { startHttpServer, startHttpsServer } = await import("../../webhooks/http/server.ts");
  const bodyLimitBytes = await bodyLimitOf(flags.bodyLimit);
  const app = createWebhookListener({
    onError: flags.onError,
    ...(bodyLimitBytes === undefined ? {} : { bodyLimitBytes }),
  });
  const tls = flags.tlsCert && flags.tlsKey ? { certFile: flags.tlsCert, keyFile: flags.tlsKey } : undefined;
  const port = flags.port ?? (tls ? 8443 : 8080);
  const running = tls
    ? await startHttpsServer(app, {
        port,
        host: flags.host,
        ...tls,
        onReload: (error) =>
          process.stderr.write(
            error ? `certificate reload failed, keeping the old one: ${error.message}\n` : "certificate reloaded\n",
          ),
      }).catch((error: Error) => {
        throw new CliError(`cannot serve TLS with ${tls.certFile} and ${tls.keyFile}: ${error.message}`);
      })
    : await startHttpServer(app, { port, host: flags.host }).catch((error: NodeJS.ErrnoException) => {
        const hint = error.code === "EADDRINUSE" ? ` (port ${port} is taken: pass --port)` : "";
        throw new CliError(`cannot listen on ${flags.host}:${port}: ${error.message}${hint}`);
      });
  const scheme = tls ? "https" : "http";
  // The signal handlers go in before the "listening" line: whoever reads that line may signal at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.stderr.write("shutting down\n");
      running.close().then(resolve, resolve);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.stderr.write(
    `greenlight webhook listening on ${scheme}://${flags.host}:${running.port} (POST /mutate, /mutate/namespace, /validate; GET /healthz, /metrics)\n`,
  );
  if (!tls)
    process.stderr.write("plain HTTP: for local use only; the API server requires HTTPS (--tls-cert/--tls-key)\n");
  await stopped;
}

async function replay(flags: { file?: string; path: string; patch?: boolean; onError: OnError }): Promise<void> {
  const { admissionRoutes } = await import("../../webhooks/http/core.ts");
  const { decodePatch, parseAdmissionReview } = await import("../../webhooks/admission/review.ts");
  const routes = admissionRoutes(flags.onError);
  const decide = routes[flags.path];
  if (!decide) throw new CliError(`--path ${flags.path} is not a webhook path: use ${Object.keys(routes).join(", ")}`);
  const input = await readInput(flags.file);
  let body: unknown;
  try {
    body = JSON.parse(input.text);
  } catch (error) {
    throw new CliError(`${input.name} is not JSON: ${(error as Error).message}`);
  }
  const parsed = parseAdmissionReview(body);
  if (!parsed.ok) throw new CliError(`${input.name} is not an AdmissionReview: ${parsed.message}`);
  const answer = decide(parsed.review);
  const output = flags.patch ? decodePatch(answer.response) : answer;
  process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
}

export function registerWebhookCommand(program: Command): void {
  const webhook = program
    .command("webhook")
    .description("Run the admission webhooks, or replay a review offline")
    .addHelpText(
      "after",
      `
serve answers the API server (or curl) over HTTP(S); replay prints the answer to one AdmissionReview from a
file, offline, as serve would give it.

Examples:
  greenlight webhook serve --port 8080
  greenlight webhook serve --tls-cert .greenlight/certs/tls.crt --tls-key .greenlight/certs/tls.key
  greenlight webhook replay -f test/fixtures/reviews/create.json --patch
  greenlight webhook replay -f review.json --path /validate | jq .response.allowed`,
    );
  webhook
    .command("serve")
    .description("Serve POST /mutate, /mutate/namespace, /validate, GET /healthz and /metrics")
    .option("--port <port>", "port to listen on (default 8443 with TLS, 8080 without)", parsePortOption)
    .option("--host <host>", "address to bind", "0.0.0.0")
    .option("--tls-cert <file>", "PEM certificate; reloaded when the file changes")
    .option("--tls-key <file>", "PEM private key for --tls-cert")
    .option("--body-limit <size>", "largest AdmissionReview accepted, e.g. 3MiB (default), 8MiB; larger is 413")
    .option(
      "--on-error <mode>",
      "when a mutation fails: allow (admit unchanged, with a warning) or deny",
      parseOnError,
      "allow",
    )
    .addHelpText(
      "after",
      `
Without --tls-cert/--tls-key it serves plain HTTP, for local use only. In a cluster, mount the Secret
written by \`greenlight certs\` and pass both; a rotated certificate is picked up without a restart.

Examples:
  greenlight webhook serve --port 8080
  greenlight webhook serve --tls-cert /tls/tls.crt --tls-key /tls/tls.key`,
    )
    .action((flags: ServeFlags) => serve(flags));
  webhook
    .command("replay")
    .description("Print the AdmissionReview response the server would return for a review")
    .requiredOption("-f, --file <file>", "AdmissionReview JSON, or - for standard input")
    .option("--path <path>", "webhook path: /mutate, /mutate/namespace or /validate", "/mutate")
    .option("--patch", "print only the decoded JSON Patch")
    .option("--on-error <mode>", "allow or deny, as for serve", parseOnError, "allow")
    .addHelpText(
      "after",
      `
Examples:
  greenlight webhook replay -f review.json
  greenlight webhook replay -f review.json --patch
  greenlight webhook replay -f review.json --path /validate | jq .response.status.message`,
    )
    .action((flags: { file?: string; path: string; patch?: boolean; onError: OnError }) => replay(flags));
}
