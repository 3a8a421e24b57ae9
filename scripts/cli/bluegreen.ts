// `greenlight bluegreen switch|rollback`: move a Service's version selector by hand, checked before and verified after.
import { hostname } from "node:os";
import type { Command } from "commander";
import type { BlueGreenReport } from "../../functions/bluegreen/switch.ts";
import { parseLabelValue, parseServiceName } from "../../functions/contract/values.ts";
import { formatTable } from "../text/table.ts";
import { kubeconfigNamespace } from "./cluster.ts";
import { CliError } from "./errors.ts";

interface Flags {
  namespace?: string;
  output: string;
  dryRun?: boolean;
}

/** Outcomes that did what was asked (or nothing needed doing); every other one exits 1. */
const SUCCESS = new Set(["switched", "rolled-back", "unchanged", "dry-run"]);

function outputFormat(raw: string): "table" | "json" {
  if (raw !== "table" && raw !== "json") throw new CliError(`-o ${raw} is not supported: use -o table or -o json`);
  return raw;
}

function checkService(service: string): void {
  const parsed = parseServiceName(service);
  if (!parsed.ok) throw new CliError(`SERVICE ${JSON.stringify(service)} is invalid: ${parsed.problem}`);
}

async function connect() {
  const { loadKubeConfig } = await import("../../functions/stepper/config.ts");
  const { createKubeClients } = await import("../../functions/kube/clients.ts");
  try {
    return createKubeClients(loadKubeConfig(), `greenlight-cli@${hostname()}`.slice(0, 128));
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

const progress = (line: string) => process.stderr.write(`  ${line}\n`);

function print(report: BlueGreenReport, format: "table" | "json"): void {
  for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`);
  if (format === "json") {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(
      formatTable(
        ["NAMESPACE", "SERVICE", "FROM", "TO", "OUTCOME", "MESSAGE"],
        [[report.namespace, report.service, report.from ?? "-", report.to ?? "-", report.outcome, report.message]],
      ),
    );
    if (report.patch)
      process.stdout.write(`\n# the JSON Patch it would send\n${JSON.stringify(report.patch, null, 2)}\n`);
  }
  if (!SUCCESS.has(report.outcome)) throw new CliError(report.message);
}

async function runSwitch(service: string, flags: Flags & { to: string }): Promise<void> {
  const format = outputFormat(flags.output);
  checkService(service);
  const version = parseLabelValue(flags.to);
  if (!version.ok) throw new CliError(`--to ${JSON.stringify(flags.to)} is invalid: ${version.problem}`);
  const namespace = flags.namespace ?? (await kubeconfigNamespace()) ?? "default";
  const clients = await connect();
  const { switchBlueGreen } = await import("../../functions/bluegreen/switch.ts");
  const report = await switchBlueGreen(clients, {
    namespace,
    service,
    to: version.value,
    dryRun: Boolean(flags.dryRun),
    onProgress: progress,
  });
  print(report, format);
}

async function runRollback(service: string, flags: Flags): Promise<void> {
  const format = outputFormat(flags.output);
  checkService(service);
  const namespace = flags.namespace ?? (await kubeconfigNamespace()) ?? "default";
  const clients = await connect();
  const { rollbackBlueGreen } = await import("../../functions/bluegreen/switch.ts");
  const report = await rollbackBlueGreen(clients, {
    namespace,
    service,
    dryRun: Boolean(flags.dryRun),
    onProgress: progress,
  });
  print(report, format);
}

const COMMON = `
Output: -o table (default) or -o json (the whole report: outcome, message, smoke attempts, endpoint checks,
events, with --dry-run the patch). Progress goes to stderr, the report to stdout.
Environment: KUBECONFIG (or GREENLIGHT_KUBECONFIG with the kubeconfig itself). RBAC: services get/list/patch,
services/proxy get, discovery.k8s.io endpointslices list, pods list, deployments list, events.k8s.io events create.`;

export function registerBlueGreenCommands(program: Command): void {
  const bluegreen = program
    .command("bluegreen")
    .description("Switch a blue/green Service between versions, or roll it back")
    .addHelpText(
      "after",
      `
The main Service (the seed's myapp) selects one version through its spec.selector.version; each version runs in
its own Deployment (myapp-blue, myapp-green) with its own per-version Service. See manifests/examples/bluegreen.yaml.

Examples:
  greenlight bluegreen switch myapp --to green -n production
  greenlight bluegreen rollback myapp -n production`,
    );

  bluegreen
    .command("switch")
    .description("Switch SERVICE to VERSION: rollout check, smoke check, one guarded switch, endpoint verification")
    .argument("<service>", "the main Service, whose spec.selector.version is switched")
    .requiredOption("--to <version>", "the version to serve: the pod template label version of the new Deployment")
    .option("--dry-run", "check everything and print the JSON Patch; change nothing, record no Event")
    .option("-n, --namespace <namespace>", "the Service's namespace (default: the kubeconfig context's, else default)")
    .option("-o, --output <format>", "table or json", "table")
    .addHelpText(
      "after",
      `
Steps; a failure in 1-3 stops with the Service untouched:
  1. The Deployment annotated greenlight.dev/service: SERVICE whose pod template has version: VERSION must be fully
     rolled out: observedGeneration current, updated = ready = available = desired replicas, no old pods left,
     no ProgressDeadlineExceeded.
  2. Smoke check: GET its greenlight.dev/smoke-path (default /health) through the API server's service proxy on
     the per-version Service: the one Service other than SERVICE whose selector has version: VERSION and only
     labels of the pod template (none or several is an error). Up to 5 tries, 1s, 2s, 4s, 8s apart; a 2xx passes.
  3. One JSON Patch on SERVICE: test the version it selects now, replace it with VERSION, and record
     greenlight.dev/status (previous, current, when, why). If someone else switched first, the test fails and
     nothing is written ("lost-race").
  4. Verification: SERVICE's EndpointSlices must hold only pods of VERSION, at least one ready (5 checks over
     about 15s). If they do not, it switches back (guarded by a test on VERSION) and exits 1.
Nothing is rolled back after a verified switch: use "greenlight bluegreen rollback" for that.

Exit status: 0 when switched, already serving VERSION, or --dry-run passed every check; 1 otherwise, with the
reason as the last line on stderr.
${COMMON}

Examples:
  greenlight bluegreen switch myapp --to green -n production
  greenlight bluegreen switch myapp --to green -n production --dry-run
  greenlight bluegreen switch myapp --to green -o json | jq '.smoke'`,
    )
    .action((service: string, flags: Flags & { to: string }) => runSwitch(service, flags));

  bluegreen
    .command("rollback")
    .description("Switch SERVICE back to the previous version recorded by its last switch")
    .argument("<service>", "the main Service")
    .option("--dry-run", "check everything and print the JSON Patch; change nothing, record no Event")
    .option("-n, --namespace <namespace>", "the Service's namespace (default: the kubeconfig context's, else default)")
    .option("-o, --output <format>", "table or json", "table")
    .addHelpText(
      "after",
      `
Reads greenlight.dev/status on SERVICE: when its last change was a switch and the selector still has the version
that switch set, switches back to the recorded previous version in one JSON Patch guarded by tests on the version
and on that status, then verifies the EndpointSlices. No smoke check (it is the way back), but the previous version's
Deployment must have at least one available replica. There is nothing to roll back when greenlight never switched
SERVICE, or when its last change was already a switch back or a rollback.

Exit status: 0 when rolled back (or --dry-run passed every check); 1 otherwise, with the reason as the last line
on stderr.
${COMMON}

Examples:
  greenlight bluegreen rollback myapp -n production
  greenlight bluegreen rollback myapp -n production --dry-run -o json`,
    )
    .action((service: string, flags: Flags) => runRollback(service, flags));
}
