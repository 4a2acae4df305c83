/**
 * Test helper: a tiny application on a TcpSocketCore that sends a deterministic byte pattern and
 * verifies what it receives, driven only by the engine's events (as the socket layer will be).
 */

import type { TcpEvent, TcpSocketCore } from "../socket_core.ts";

/** Pattern period: a prime, so a misplaced block of any power-of-two size is caught. */
const PERIOD = 65521;
const CHUNK = 65536;
const TABLE = new Uint8Array(PERIOD + CHUNK);
for (let i = 0; i < TABLE.length; i++) TABLE[i] = Math.imul((i % PERIOD) + 1, 2654435761) >>> 24;

/** The pattern byte at stream offset `i`. */
export function patternByte(i: number): number {
  return TABLE[i % PERIOD];
}

export interface AppOptions {
  /** Bytes to send. */
  send?: number;
  /** shutdownWrite() once everything is queued. */
  shutdown?: boolean;
  /** Read what arrives (default true). */
  read?: boolean;
  /** close() once EOF was read and everything sent. */
  closeOnEof?: boolean;
}

export class App {
  readonly conn: TcpSocketCore;
  readonly events: TcpEvent[] = [];
  sent = 0;
  received = 0;
  eof = false;
  /** First offset where the received stream differed from the pattern, or -1. */
  mismatchAt = -1;
  reading: boolean;
  readonly opts: AppOptions;
  #buf = new Uint8Array(CHUNK);
  #shut = false;

  constructor(conn: TcpSocketCore, opts: AppOptions = {}) {
    this.conn = conn;
    this.opts = opts;
    this.reading = opts.read ?? true;
    conn.onEvent = (ev) => this.onEvent(ev);
  }

  get sendDone(): boolean {
    return this.sent >= (this.opts.send ?? 0);
  }

  onEvent(ev: TcpEvent): void {
    this.events.push(ev);
    if (ev === "established" || ev === "writable") this.pump();
    if (ev === "readable") this.drain();
  }

  pump(): void {
    const total = this.opts.send ?? 0;
    while (this.sent < total) {
      const s = this.sent % PERIOD;
      const k = Math.min(CHUNK, total - this.sent);
      const n = this.conn.send(TABLE.subarray(s, s + k));
      if (n === 0) break;
      this.sent += n;
    }
    if (this.sent >= total && this.opts.shutdown && !this.#shut) {
      this.#shut = true;
      this.conn.shutdownWrite();
    }
  }

  drain(): void {
    if (!this.reading) return;
    for (;;) {
      const n = this.conn.recv(this.#buf);
      if (n === 0) return;
      if (n < 0) {
        if (!this.eof) {
          this.eof = true;
          if (this.opts.closeOnEof && this.sendDone) this.conn.close();
        }
        return;
      }
      if (this.mismatchAt < 0) {
        const buf = this.#buf;
        let k = this.received % PERIOD;
        for (let i = 0; i < n; i++, k++) {
          if (k === PERIOD) k = 0;
          if (buf[i] !== TABLE[k]) {
            this.mismatchAt = this.received + i;
            break;
          }
        }
      }
      this.received += n;
    }
  }
}
