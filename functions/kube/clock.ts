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
    const timer = setTimeout(fire, Math.max(0, ms));
    // A pending timeout must not keep a CLI or a Lambda alive after the pass.
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};

/** Waits `ms` on `clock`. */
export const sleepOn = (clock: Clock, ms: number): Promise<void> =>
  new Promise((resolve) => {
    clock.setTimer(resolve, ms);
  });
