/**
 * What every endpoint kind shares: the sink (set once), counters, and the close promise. A kind
 * extends it, implements `send` and `closeResources`, and calls `deliver(frame)` for each frame it
 * receives.
 */

import type { Endpoint, FrameSink } from "./endpoint.ts";
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
