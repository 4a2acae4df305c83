/**
 * An endpoint that outlives its connections: it forwards to the current connection and, when that
 * ends, dials again with exponential back-off and jitter (100 ms doubling to at most 30 s, each
 * delay drawn from its upper half, so a fleet of cables does not reconnect in lock-step).
 *
 * While down, frames are dropped and counted as `down` — never buffered without bound — and the
 * link listener hears `false`, so a switch flushes the MAC entries behind this port.
 */

import { EndpointBase } from "../core/endpoint_base.ts";
import type { Endpoint } from "../core/endpoint.ts";
import type { Logger } from "../core/log.ts";
import { CryptoRng, type Rng } from "../core/rng.ts";

export interface ReconnectOptions {
  /** An already established first connection. */
  first?: Endpoint;
  logger: Logger;
  /** Failures that make further attempts pointless (logged, and the endpoint keeps trying slower). */
  isFatal?: (e: unknown) => boolean;
  rng?: Rng;
  baseMs?: number;
  capMs?: number;
}

export class ReconnectingEndpoint extends EndpointBase {
  /** Connections established so far, the first one included. */
  connects = 0;
  /** Failed attempts so far. */
  failures = 0;
  /** Why the last attempt failed. */
  lastError: string | undefined;
  #current: Endpoint | undefined;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #link: ((up: boolean) => void) | undefined;
  readonly #rng: Rng;

  constructor(
    url: string,
    mtu: number,
    readonly dial: () => Promise<Endpoint>,
    readonly options: ReconnectOptions,
  ) {
    super(url, mtu);
    this.#rng = options.rng ?? new CryptoRng();
    if (options.first) this.#use(options.first);
    else this.#schedule();
  }

  get up(): boolean {
    return this.#current !== undefined;
  }

  setLinkListener(listener: (up: boolean) => void): void {
    this.#link = listener;
  }

  send(frame: Uint8Array): boolean {
    const c = this.counters;
    const cur = this.#current;
    if (cur === undefined) return c.drop(this.isClosed ? "closed" : "down");
    const why = this.unfit(frame.length);
    if (why) return c.drop(why);
    // The connection refuses a valid frame only when it is closing or its queue is full.
    if (!cur.send(frame)) return c.drop("queueFull");
    this.counters.countOut(frame.length);
    return true;
  }

  #use(ep: Endpoint): void {
    this.connects++;
    this.#attempt = 0;
    this.#current = ep;
    ep.setSink((f) => this.deliver(f));
    ep.closed.then(() => {
      if (this.#current !== ep) return;
      this.#current = undefined;
      if (this.isClosed) return;
      this.options.logger.log("warn", "cable down, reconnecting", { url: this.url });
      this.#link?.(false);
      this.#schedule();
    });
    if (this.connects > 1) {
      this.options.logger.log("info", "cable up again", { url: this.url });
      this.#link?.(true);
    }
  }

  #schedule(): void {
    const base = this.options.baseMs ?? 100;
    const cap = this.options.capMs ?? 30_000;
    const max = Math.min(cap, base * 2 ** this.#attempt++);
    const delay = max / 2 + this.#rng.float() * (max / 2);
    this.#timer = setTimeout(() => this.#try(), delay);
  }

  async #try(): Promise<void> {
    if (this.isClosed) return;
    try {
      const ep = await this.dial();
      if (this.isClosed) return ep.close();
      this.#use(ep);
    } catch (e) {
      this.failures++;
      this.lastError = e instanceof Error ? e.message : String(e);
      if (this.options.isFatal?.(e) || this.failures === 1 || this.#attempt % 8 === 0) {
        this.options.logger.log("warn", "cable connect failed", {
          url: this.url,
          error: this.lastError,
        });
      }
      if (!this.isClosed) this.#schedule();
    }
  }

  protected closeResources(): void {
    clearTimeout(this.#timer);
    this.#current?.close();
    this.#current = undefined;
  }
}
