/**
 * `pair:` — two endpoints joined back to back in one process, a virtual patch cable. What one
 * side sends, the other side's sink receives synchronously, without a copy (the frame stays
 * borrowed). For tests, demos and in-process stacks.
 */

import { EndpointBase } from "../core/endpoint_base.ts";
import { MAX_FRAME } from "../core/endpoint.ts";

export class PairEnd extends EndpointBase {
  peer!: PairEnd;

  send(frame: Uint8Array): boolean {
    const c = this.counters;
    const why = this.unfit(frame.length);
    if (why) return c.drop(why);
    c.countOut(frame.length);
    this.peer.receive(frame);
    return true;
  }

  /** Called by the peer. */
  receive(frame: Uint8Array): void {
    if (this.isClosed) this.counters.drop("closed");
    else this.deliver(frame);
  }

  protected closeResources(): void {
    // Closing one end unplugs the cable: the other end closes too.
    queueMicrotask(() => this.peer.close());
  }
}

/** Create two joined endpoints. */
export function createPair(name = "pair", mtu = MAX_FRAME): [PairEnd, PairEnd] {
  const a = new PairEnd(`pair:${name}#a`, mtu);
  const b = new PairEnd(`pair:${name}#b`, mtu);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
