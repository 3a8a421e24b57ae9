// The stepper's sense of time: the system clock in production, a virtual one in the simulator (no sleeps, no wall
// time), so deadlines, per-call timeouts and Retry-After waits are testable over thousands of timelines.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fire` after `ms`; the returned function cancels it. */
  setTimer(fire: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fire, ms) {
    // Not unref'd: a wait (a Retry-After, a smoke check's back-off) must keep a CLI alive until it ends. Timeouts are
    // cancelled as soon as their call settles, so none outlives a pass.
    const timer = setTimeout(fire, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

/** Waits `ms` on `clock`. */
export const sleepOn = (clock: Clock, ms: number): Promise<void> =>
  new Promise((resolve) => {
    clock.setTimer(resolve, ms);
  });
