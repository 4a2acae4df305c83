/**
 * What every endpoint kind shares: the sink (set once), counters, and the close promise. A kind
 * extends it, implements `send` and `closeResources`, and calls `deliver(frame)` for each frame it
 * receives.
 */

import { type Endpoint, type FrameSink, MIN_FRAME } from "./endpoint.ts";
import { FrameCounters } from "./counters.ts";
import type { EndpointStats } from "./counters.ts";

export abstract class EndpointBase implements Endpoint {
  readonly counters = new FrameCounters();
  readonly closed: Promise<void>;
  #sink: FrameSink | undefined;
  #resolveClosed!: () => void;
  #isClosed = false;

  constructor(readonly url: string, readonly mtu: number) {
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  abstract send(frame: Uint8Array): boolean;

  /** Release OS resources; called once by `close()`. */
  protected abstract closeResources(): void;

  get isClosed(): boolean {
    return this.#isClosed;
  }

  setSink(sink: FrameSink): void {
    this.#sink = sink;
  }

  /**
   * Why a frame of `length` bytes cannot be sent here — `closed`, `runt` (shorter than an
   * Ethernet header) or `oversize` (above the MTU) — or undefined when it can. Every kind checks
   * this first in `send`: `const why = this.unfit(n); if (why) return this.counters.drop(why);`
   */
  protected unfit(length: number): "closed" | "runt" | "oversize" | undefined {
    if (this.isClosed) return "closed";
    if (length < MIN_FRAME) return "runt";
    if (length > this.mtu) return "oversize";
    return undefined;
  }

  /** Deliver a received frame if its size is sane; count it as `runt` or `oversize` otherwise. */
  protected deliverChecked(frame: Uint8Array): void {
    const n = frame.length;
    if (n < MIN_FRAME) this.counters.drop("runt");
    else if (n > this.mtu) this.counters.drop("oversize");
    else this.deliver(frame);
  }

  /** Hand a received (borrowed) frame to the sink, counting it. */
  protected deliver(frame: Uint8Array): void {
    const c = this.counters;
    c.countIn(frame.length);
    const sink = this.#sink;
    if (sink === undefined) c.drop("noSink");
    else sink(frame);
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    try {
      this.closeResources();
    } finally {
      this.#resolveClosed();
    }
  }

  stats(): EndpointStats {
    return this.counters.snapshot();
  }
}
