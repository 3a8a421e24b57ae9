// The seed's three example flags, as greenlight flags: what a fresh store is seeded with and what the docs show.
/*
 * Fixed from the seed's Python: it stored these in Redis with a one-hour expiry, so they vanished an hour after start;
 * here they are ordinary flags. It also kept conditions in a dict keyed by attribute, so its second `request_time`
 * condition overwrote the first and only "before 20" was ever checked; here both hold (8 < request_time < 20).
 */
import { deepFreeze } from "../contract/objects.ts";
import type { Flag } from "./types.ts";

/** Frozen all the way down: a store or a test that changed one would change it for every later user. */
export const EXAMPLE_FLAGS: readonly Flag[] = deepFreeze([
  {
    key: "new_recommendation_engine",
    description: "New AI-powered recommendation engine",
    state: "partial",
    segments: ["internal", "beta"],
    percentage: 50,
    startTime: "2025-01-01T00:00:00Z",
    conditions: [
      { attribute: "request_time", op: "gt", value: 8 },
      { attribute: "request_time", op: "lt", value: 20 },
    ],
    owner: "recommendations",
    expires: "2027-06-30",
  },
  {
    key: "new_ui_interface",
    description: "New modern UI interface",
    state: "partial",
    segments: ["all"],
    percentage: 20,
    owner: "web",
  },
  {
    key: "payment_feature",
    description: "Payment feature temporarily disabled due to maintenance",
    state: "disabled",
    owner: "payments",
  },
]);
