/**
 * A simulated Ethernet link on a ManualClock for deterministic stack scenarios: frames sent on one
 * end arrive at the other after `delayMs` ± `jitterMs` (jitter reorders), `loss` of them vanish,
 * all decided by a seeded Rng. `runSim` moves time from event to event (the link's next delivery
 * or a stack's next deadline), so a minute of simulated TCP costs milliseconds.
 */

import { EndpointBase } from "../../core/endpoint_base.ts";
import type { ManualClock } from "../../core/clock.ts";
import type { Rng } from "../../core/rng.ts";

export interface SimLinkOptions {
  loss?: number;
  delayMs?: number;
  jitterMs?: number;
  mtu?: number;
}

class SimEnd extends EndpointBase {
  peer!: SimEnd;
  constructor(readonly link: SimLink, name: string, mtu: number) {
    super(`sim:${name}`, mtu);
  }
  send(frame: Uint8Array): boolean {
    const why = this.unfit(frame.length);
    if (why) return this.counters.drop(why);
    this.counters.countOut(frame.length);
    this.link.carry(this.peer, frame);
    return true;
  }
  arrive(frame: Uint8Array): void {
    if (!this.isClosed) this.deliver(frame);
  }
  protected closeResources(): void {}
}

interface InFlight {
  at: number;
  order: number;
  to: SimEnd;
  frame: Uint8Array;
}

export class SimLink {
  readonly a: SimEnd;
  readonly b: SimEnd;
  readonly stats = { carried: 0, lost: 0, delivered: 0 };
  /** Sees every frame put on the link (borrowed), with the end it is headed to. */
  tap: ((to: "a" | "b", frame: Uint8Array) => void) | undefined;
  #queue: InFlight[] = [];
  #order = 0;
  #o: Required<SimLinkOptions>;

  constructor(readonly clock: ManualClock, readonly rng: Rng, opts: SimLinkOptions = {}) {
    this.#o = { loss: 0, delayMs: 1, jitterMs: 0, mtu: 1514, ...opts };
    this.a = new SimEnd(this, "a", this.#o.mtu);
    this.b = new SimEnd(this, "b", this.#o.mtu);
    this.a.peer = this.b;
    this.b.peer = this.a;
  }

  /** Called by an end: copy the (borrowed) frame into flight, or lose it. */
  carry(to: SimEnd, frame: Uint8Array): void {
    this.stats.carried++;
    this.tap?.(to === this.a ? "a" : "b", frame);
    if (this.rng.float() < this.#o.loss) {
      this.stats.lost++;
      return;
    }
    const jitter = this.#o.jitterMs ? (this.rng.float() * 2 - 1) * this.#o.jitterMs : 0;
    const at = this.clock.now() + Math.max(0, this.#o.delayMs + jitter);
    const item = { at, order: this.#order++, to, frame: frame.slice() };
    // Insert in (at, order) order: the queue is short, a linear scan from the end is cheap.
    let i = this.#queue.length;
    while (i > 0 && this.#queue[i - 1].at > at) i--;
    this.#queue.splice(i, 0, item);
  }

  /** When the next frame arrives (Infinity when none is in flight). */
  nextAt(): number {
    return this.#queue.length ? this.#queue[0].at : Infinity;
  }

  /** Deliver every frame due by now. */
  deliverDue(): void {
    const now = this.clock.now();
    while (this.#queue.length && this.#queue[0].at <= now) {
      const f = this.#queue.shift()!;
      this.stats.delivered++;
      f.to.arrive(f.frame);
    }
  }
}

/** Anything with deadlines driven by the simulation (a Stack with `timers: "manual"`). */
export interface SimNode {
  poll(): number;
}

/**
 * Advance simulated time event by event until `done()` or `limitMs` of simulated time passed.
 * Returns the simulated milliseconds used.
 */
export function runSim(
  clock: ManualClock,
  links: SimLink[],
  nodes: SimNode[],
  done: () => boolean,
  limitMs: number,
): number {
  const start = clock.now();
  let stuck = 0;
  while (!done()) {
    for (const l of links) l.deliverDue();
    let next = Infinity;
    for (const n of nodes) next = Math.min(next, n.poll());
    for (const l of links) next = Math.min(next, l.nextAt());
    if (done()) break;
    if (next === Infinity || next - start > limitMs) break;
    if (next > clock.now()) {
      clock.advance(next - clock.now());
      stuck = 0;
    } else if (++stuck > 1000) {
      // A deadline that stays due after a poll would spin forever: let time move instead.
      clock.advance(1);
      stuck = 0;
    }
  }
  return clock.now() - start;
}
