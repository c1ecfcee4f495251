/**
 * The time source of the grouper. In the cluster it is the wall clock with setTimeout; in
 * `replay`, tests and the bench it is a virtual clock that the caller advances between events,
 * so an hour of grouping timers runs in milliseconds and always in the same order.
 */

export interface Clock {
  now(): number;
  /** Run `fn` at time `at` (or at once when that has passed). Returns a cancel function. */
  schedule(at: number, fn: () => Promise<void>): () => void;
}

/** The wall clock. Errors of a timer callback go to `onError`: a timer has no caller to throw to. */
export function systemClock(onError: (err: unknown) => void): Clock {
  return {
    now: () => Date.now(),
    schedule(at, fn) {
      // setTimeout holds at most ~24.8 days; grouping timers are hours at most, but clamp anyway.
      const timer = setTimeout(() => {
        fn().catch(onError);
      }, Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1));
      timer.unref?.();
      return () => clearTimeout(timer);
    },
  };
}

interface Pending {
  at: number;
  seq: number;
  fn: () => Promise<void>;
}

/** A clock that only moves when told to; due timers run in time order, each awaited. */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #pending: Pending[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  schedule(at: number, fn: () => Promise<void>): () => void {
    const entry: Pending = { at: Math.max(at, this.#now), seq: this.#seq++, fn };
    this.#pending.push(entry);
    return () => {
      this.#pending = this.#pending.filter((p) => p !== entry);
    };
  }

  /** The earliest scheduled time, if any. */
  get next(): number | undefined {
    return this.#earliest()?.at;
  }

  #earliest(): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.#pending) if (!best || p.at < best.at || (p.at === best.at && p.seq < best.seq)) best = p;
    return best;
  }

  /** Run every timer due up to `t` (timers they schedule included), then stand at `t`. */
  async advanceTo(t: number): Promise<void> {
    for (;;) {
      const p = this.#earliest();
      if (!p || p.at > t) break;
      this.#pending = this.#pending.filter((x) => x !== p);
      this.#now = Math.max(this.#now, p.at);
      await p.fn();
    }
    this.#now = Math.max(this.#now, t);
  }

  /**
   * Run timers until none is left, e.g. the end of a replay. `maxSteps` guards against a timer
   * that keeps rescheduling itself; hitting it is an error.
   */
  async runUntilIdle(maxSteps = 100_000): Promise<void> {
    for (let step = 0; step < maxSteps; step++) {
      const p = this.#earliest();
      if (!p) return;
      await this.advanceTo(p.at);
    }
    throw new Error(`virtual clock still busy after ${maxSteps} timers: a timer keeps rescheduling itself`);
  }
}
