// What the edge suites share: real Redis behind the Upstash REST bridge with the suite's flags written through it,
// and the bindings a deployment gives the worker.

import type { Flag, FlagStore } from "../../functions/flags/types.ts";
import { createUpstashClient, createUpstashStore } from "../../functions/flags/upstash-store.ts";
import { type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";

/** The rule cache's TTL in the suites: short, so a write and a recovery show within about a second. */
export const TTL_MS = 1_000;

/** Settings every suite gives the worker on top of what the deployment's config says. */
export const SUITE_SETTINGS = {
  GREENLIGHT_FLAGS_CACHE_TTL: `${TTL_MS / 1000}s`,
  GREENLIGHT_FLAGS_MAX_STALE: "1m",
  // Many requests from one address in a minute: the per-address limit stays on, well above what the suite sends.
  GREENLIGHT_RATE_LIMIT_OFREP: "100000/1m",
  // The suite counts the isolate's store calls: usage flushes are on only where a test looks at them (workerd.test.ts).
  GREENLIGHT_FLAGS_USAGE_FLUSH: "off",
} as const;

/** The flags the suites evaluate: every kind of answer, and the patterns of the hostile-input checks. */
export const EDGE_FLAGS: readonly Flag[] = [
  { key: "banner", state: "enabled" },
  { key: "checkout", state: "disabled" },
  {
    key: "theme",
    state: "enabled",
    variants: { dark: { value: "dark", weight: 1 }, light: { value: "light", weight: 0 } },
    defaultVariant: "light",
  },
  {
    key: "company-email",
    state: "partial",
    conditions: [{ attribute: "email", op: "matches", value: "^[a-z0-9._%+-]+@(example\\.com|example\\.org)$" }],
  },
  // Exponential for a backtracking engine on "aaa...a!": RE2 answers in time linear in the input.
  { key: "hostile-pattern", state: "partial", conditions: [{ attribute: "name", op: "matches", value: "^(a|aa)+$" }] },
  { key: "half", state: "partial", percentage: 50 },
];

export interface EdgeStore {
  redis: RunningRedis;
  bridge: RunningUpstashBridge;
  /** The Upstash store in this process, through the bridge, as the Lambda or `flags serve` would write. */
  store: FlagStore;
  secrets: { UPSTASH_REDIS_REST_URL: string; UPSTASH_REDIS_REST_TOKEN: string };
  close(): Promise<void>;
}

/** redis-server, the REST bridge in front of it, and EDGE_FLAGS written through the bridge. */
export async function startEdgeStore(token: string): Promise<EdgeStore> {
  const redis = await startRedis();
  const bridge = await startUpstashBridge({ redisPort: redis.port, token });
  const close = async () => {
    await bridge.close();
    await redis.close();
  };
  try {
    const store = createUpstashStore(createUpstashClient({ url: bridge.url, token, timeoutMs: 5_000 }));
    for (const flag of EDGE_FLAGS) await store.put(flag, { actor: "edge-suite" });
    return {
      redis,
      bridge,
      store,
      secrets: { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: token },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
