// Secrets by name: `X_PARAMETER` (an SSM parameter) or `X_SECRET` (a Secrets Manager secret) becomes the value of X,
// fetched once per instance, before a Lambda builds its core.
/*
 * Why names and not values: a Lambda's environment is plain text to anyone allowed to read the function's
 * configuration, it is copied into the CloudFormation template, and it holds 4 KB in all (too little for a
 * kubeconfig with its CA). serverless.yml therefore passes only names, each function's role may read exactly those,
 * and the value stays in the store until the function asks for it.
 *
 * Only the Lambda entries call this. The local stack, the CLI and the CronJob keep reading X from the environment
 * or from files: with no `_PARAMETER` / `_SECRET` variable set, resolveSecrets hands the environment back unchanged
 * and loads no AWS SDK.
 *
 * Per instance: a fetched value is kept for the life of the Lambda container (a rotated secret reaches new
 * containers; redeploy or update the function's configuration to replace the running ones). A failed or late fetch
 * is not kept, so the next invocation asks again instead of failing until the container is recycled.
 */

export type SecretEnv = Readonly<Record<string, string | undefined>>;

/** Where a secret lives: an SSM parameter (SecureString, decrypted) or a Secrets Manager secret (its SecretString). */
export type SecretStore = "parameter" | "secret";

export const SECRET_SUFFIX: Readonly<Record<SecretStore, string>> = { parameter: "_PARAMETER", secret: "_SECRET" };

/** One secret to fetch: the variable it fills, and where it comes from. */
export interface SecretRef {
  /** The variable whose value this is, e.g. UPSTASH_REDIS_REST_TOKEN. */
  variable: string;
  /** The variable naming it, e.g. UPSTASH_REDIS_REST_TOKEN_PARAMETER. */
  from: string;
  store: SecretStore;
  /** The parameter name or secret id (name or ARN). */
  name: string;
}

/** Fetches one value; rejects with an Error saying what went wrong. Honours `signal` where it can. */
export type FetchSecret = (ref: SecretRef, signal: AbortSignal) => Promise<string>;

/**
 * How long one resolveSecrets call may take for all its secrets together (they are fetched in parallel). SSM and
 * Secrets Manager answer in tens of milliseconds; 5 s leaves room for the SDK's retries of a throttled call and
 * still ends well inside the flag function's 10 s timeout and the stepper's 55 s.
 */
export const DEFAULT_SECRETS_TIMEOUT_MS = 5_000;

/** A variable set two ways; the message names both and says which to keep. */
export class SecretConfigError extends Error {
  override readonly name = "SecretConfigError";
}

/** A secret that could not be fetched: the message names the variable, the store's name for it, and what to check. */
export class SecretFetchError extends Error {
  override readonly name = "SecretFetchError";
}

/** Fetched values, or fetches in flight, by store and name. */
export type SecretCache = Map<string, Promise<string>>;

export function createSecretCache(): SecretCache {
  return new Map();
}

/** The cache every entry of this instance shares when given none: the "per Lambda container" of the design. */
const instanceCache: SecretCache = createSecretCache();

const blank = (value: string | undefined): boolean => value === undefined || value.trim() === "";

/**
 * The secrets `variables` name through their `_PARAMETER` / `_SECRET` variables. Throws SecretConfigError when a
 * variable is given both as a value and as a name, or by both stores: guessing which one wins would hide a mistake.
 */
export function secretRefsOf(env: SecretEnv, variables: readonly string[]): SecretRef[] {
  const refs: SecretRef[] = [];
  for (const variable of variables) {
    const named = (Object.keys(SECRET_SUFFIX) as SecretStore[])
      .map((store) => ({ store, from: `${variable}${SECRET_SUFFIX[store]}` }))
      .filter(({ from }) => !blank(env[from]));
    if (named.length === 0) continue;
    const [first, second] = named;
    if (second !== undefined && first !== undefined) {
      throw new SecretConfigError(
        `${first.from} and ${second.from} are both set: set one (an SSM parameter or a Secrets Manager secret)`,
      );
    }
    if (first === undefined) continue;
    if (!blank(env[variable])) {
      throw new SecretConfigError(
        `${variable} and ${first.from} are both set: set one (on Lambda, ${first.from} names where the value is ` +
          `kept and ${variable} stays unset; locally, ${variable} alone)`,
      );
    }
    refs.push({ variable, from: first.from, store: first.store, name: (env[first.from] ?? "").trim() });
  }
  return refs;
}

export interface ResolveOptions {
  /** How values are fetched; default the AWS SDK clients (functions/secrets/aws.ts), loaded only when needed. */
  fetch?: FetchSecret;
  /** Deadline for all the fetches of this call, default DEFAULT_SECRETS_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Default: the instance's cache, shared by every call in this process. */
  cache?: SecretCache;
}

const STORE_LABEL: Readonly<Record<SecretStore, string>> = { parameter: "SSM", secret: "Secrets Manager" };

const cacheKey = (ref: SecretRef): string => `${ref.store}\u0000${ref.name}`;

let defaultFetch: FetchSecret | undefined;

/** The AWS fetcher, imported on first use so that a function given no names never loads the SDK. */
async function awsFetch(ref: SecretRef, signal: AbortSignal): Promise<string> {
  if (defaultFetch === undefined) {
    const { createAwsFetcher } = await import("./aws.ts");
    defaultFetch = createAwsFetcher();
  }
  return defaultFetch(ref, signal);
}

/**
 * `env` with the value of every secret in `variables` that is given by name, fetched (or taken from the instance's
 * cache). Returns a new object; `env` is not changed. With no names set it returns a copy of `env` at once.
 * Rejects with SecretConfigError or SecretFetchError, whose messages never contain a value.
 */
export async function resolveSecrets(
  env: SecretEnv,
  variables: readonly string[],
  options: ResolveOptions = {},
): Promise<Record<string, string | undefined>> {
  const refs = secretRefsOf(env, variables);
  const resolved: Record<string, string | undefined> = { ...env };
  if (refs.length === 0) return resolved;

  const fetch = options.fetch ?? awsFetch;
  const cache = options.cache ?? instanceCache;
  const timeoutMs = options.timeoutMs ?? DEFAULT_SECRETS_TIMEOUT_MS;
  const controller = new AbortController();
  // Which names have not answered yet, for the deadline's message.
  const waiting = new Set(refs);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // A fetch that ignores the abort must not be handed to the next invocation still hanging.
      for (const ref of waiting) cache.delete(cacheKey(ref));
      controller.abort();
      reject(new SecretFetchError(lateMessage([...waiting], timeoutMs)));
    }, timeoutMs);
  });

  try {
    const fetches = refs.map((ref) =>
      cachedFetch(ref, cache, fetch, controller.signal).finally(() => waiting.delete(ref)),
    );
    const values = await Promise.race([Promise.all(fetches), deadline]);
    for (const [i, ref] of refs.entries()) resolved[ref.variable] = values[i];
    return resolved;
  } finally {
    clearTimeout(timer);
    // Whatever is still in flight now was given up on: abort it (its cache entry goes when it rejects).
    controller.abort();
  }
}

/** The one fetch of this name, shared by every caller; forgotten when it fails, so a later call retries. */
function cachedFetch(ref: SecretRef, cache: SecretCache, fetch: FetchSecret, signal: AbortSignal): Promise<string> {
  const key = cacheKey(ref);
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const pending = fetchChecked(ref, fetch, signal);
  cache.set(key, pending);
  pending.catch(() => {
    if (cache.get(key) === pending) cache.delete(key);
  });
  return pending;
}

async function fetchChecked(ref: SecretRef, fetch: FetchSecret, signal: AbortSignal): Promise<string> {
  let value: string;
  try {
    value = await fetch(ref, signal);
  } catch (error) {
    if (error instanceof SecretFetchError) throw error;
    throw new SecretFetchError(`${where(ref)}: ${(error as Error).message ?? String(error)}`);
  }
  if (value.trim() === "") {
    throw new SecretFetchError(`${where(ref)} is empty: store the value of ${ref.variable} there`);
  }
  return value;
}

/** "UPSTASH_REDIS_REST_TOKEN_PARAMETER=/greenlight/prod/upstash-token (SSM)": what to look up, never the value. */
function where(ref: SecretRef): string {
  return `${ref.from}=${ref.name} (${STORE_LABEL[ref.store]})`;
}

function lateMessage(late: SecretRef[], timeoutMs: number): string {
  const stores = [...new Set(late.map((ref) => STORE_LABEL[ref.store]))].join(" and ");
  return (
    `no answer within ${timeoutMs / 1000} s for ${late.map(where).join(", ")}: the function must reach ${stores} ` +
    "(from a VPC, through a NAT gateway or an interface endpoint); it asks again on its next invocation"
  );
}
