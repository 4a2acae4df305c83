/**
 * An endpoint that lets an observer see each incoming frame before the real sink does: the router
 * puts one between an interface's NIC and its Stack, so that Router Solicitations — addressed to
 * all-routers, which a host stack filters out — reach the RA sender (router/ra.ts). Everything
 * else passes straight through; the frame stays borrowed (the observer must not keep or change
 * it).
 */

import type { Endpoint, FrameSink } from "../core/endpoint.ts";
import type { EndpointStats } from "../core/counters.ts";

export class ObservedEndpoint implements Endpoint {
  /** Sees every incoming frame first; set at most once before frames flow. */
  observer: ((frame: Uint8Array) => void) | undefined;

  constructor(readonly inner: Endpoint) {}

  get url(): string {
    return this.inner.url;
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  get closed(): Promise<void> {
    return this.inner.closed;
  }
  send(frame: Uint8Array): boolean {
    return this.inner.send(frame);
  }
  setSink(sink: FrameSink): void {
    this.inner.setSink((frame) => {
      this.observer?.(frame);
      sink(frame);
    });
  }
  close(): void {
    this.inner.close();
  }
  stats(): EndpointStats {
    return this.inner.stats();
  }
}
