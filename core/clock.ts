/**
 * Time as an injected dependency: protocol code reads `clock.now()` (milliseconds) and keeps its
 * timers as deadlines in data, so whole topologies can run in simulated time (ARCHITECTURE §4).
 */

export interface Clock {
  /** Milliseconds on a monotonic scale; only differences are meaningful. */
  now(): number;
}

/** The real monotonic clock. */
export const systemClock: Clock = { now: () => performance.now() };

/** A clock that moves only when told to: for deterministic tests. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = 0) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`Cannot advance a clock by ${ms} ms: expected ms >= 0`);
    this.#now += ms;
  }
}
