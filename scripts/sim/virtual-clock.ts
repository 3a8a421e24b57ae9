// Virtual time for the simulator: the stepper's `Clock` whose timers fire only when the simulator advances time,
// and `settle`, which runs an async pass to its end by jumping to the next timer whenever nothing else can run.
import type { Clock } from "../../functions/kube/clock.ts";

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
  cancelled: boolean;
}

/** Lets every pending promise job run (a macrotask boundary: all microtasks drain before it). */
const drain = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class VirtualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(startMs: number) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  setTimer(fire: () => void, ms: number): () => void {
    const timer: Timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fire, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.setTimer(resolve, ms);
    });
  }

  /** Moves time forward to `ms` (never back), firing the timers due on the way in order. */
  async advanceTo(ms: number): Promise<void> {
    for (let next = this.nextTimer(ms); next; next = this.nextTimer(ms)) {
      this.time = Math.max(this.time, next.at);
      next.fire();
      await drain();
    }
    this.time = Math.max(this.time, ms);
  }

  private nextTimer(limit: number): Timer | undefined {
    this.timers = this.timers.filter((timer) => !timer.cancelled);
    let best: Timer | undefined;
    for (const timer of this.timers) {
      if (timer.at > limit) continue;
      if (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)) best = timer;
    }
    if (best) best.cancelled = true;
    return best;
  }

  /**
   * Runs `work` to its end in virtual time: whenever it waits on nothing but timers, time jumps to the next one.
   * Throws if it waits on something no timer will ever resolve (a deadlock in virtual time).
   */
  async settle<T>(work: Promise<T>): Promise<T> {
    let done = false;
    work.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    await drain();
    while (!done) {
      const next = this.nextTimer(Number.POSITIVE_INFINITY);
      if (!next) throw new Error("the pass waits on something no timer will end (a deadlock in virtual time)");
      this.time = Math.max(this.time, next.at);
      next.fire();
      await drain();
    }
    return work;
  }
}
