/**
 * The frame endpoint contract: one interface for everything that sends and receives Ethernet
 * frames — switch ports, cable ends, stack NICs, taps and wrappers (ARCHITECTURE §3).
 *
 * Rules every implementation keeps:
 * - `send(frame)` never throws for a frame; it returns `false` when the frame was dropped, and the
 *   drop is counted by reason in `stats().drops`.
 * - Frames are *borrowed*: a frame handed to `send` or to the sink is valid only during that call.
 *   Whoever keeps it copies it; nobody mutates it (a flood hands one view to many ports).
 * - The sink is synchronous and set once, before frames flow. Frames that arrive before a sink is
 *   set are dropped and counted as `noSink`.
 * - `close()` is idempotent; `closed` resolves once the endpoint is closed for whatever reason.
 */

import type { EndpointStats } from "./counters.ts";

/** Receives frames from an endpoint. The frame is borrowed (see the module doc). */
export type FrameSink = (frame: Uint8Array) => void;

export interface Endpoint {
  /** What this endpoint is, as a URL (`vde:///run/sw`, `stdio:`), for logs and the API. */
  readonly url: string;
  /** Largest frame (Ethernet header included, FCS excluded) this endpoint accepts, in bytes. */
  readonly mtu: number;
  /** Queue a frame for transmission. Returns false when it was dropped (and counted). */
  send(frame: Uint8Array): boolean;
  /** Set the receiver of incoming frames. */
  setSink(sink: FrameSink): void;
  /** Close the endpoint and release its resources. Idempotent. */
  close(): void;
  /** Resolves when the endpoint has closed: by `close()`, by its peer, or by an error. */
  readonly closed: Promise<void>;
  /** A snapshot of the counters. */
  stats(): EndpointStats;
  /**
   * For endpoints whose link can go down and come back without closing (a reconnecting cable):
   * the listener hears each change, e.g. so a switch flushes the MAC entries of that port.
   */
  setLinkListener?(listener: (up: boolean) => void): void;
}

/** Smallest frame accepted anywhere: an Ethernet header (RFC 894 framing, no FCS). */
export const MIN_FRAME = 14;
/** Largest frame weft moves between any two points (passt's ETH_MAX_MTU, PROTOCOLS §8). */
export const MAX_FRAME = 65535;
