/**
 * StackListener: a listening TCP socket of the stack shaped like `Deno.TcpListener`.
 *
 * The engine hands over connections that completed the handshake; they wait in an accept queue
 * bounded by the backlog (like the kernel's accept queue, listen(2)). When the program does not
 * accept fast enough, further connections are reset and counted in `drops.backlogFull` rather
 * than queued without bound.
 */

import { format_addr } from "../addr.ts";
import type { TcpListenerCore, TcpSocketCore } from "../socket_core.ts";
import { bad_resource } from "./errors.ts";
import { StackConn } from "./tcp_conn.ts";
import { Waiters } from "./waiters.ts";

export const DEFAULT_BACKLOG = 128;

export class StackListener implements AsyncIterable<StackConn>, Disposable {
  readonly addr: Deno.NetAddr;
  /** Connections turned away, by reason. */
  readonly drops: Record<string, number> = {};

  #core: TcpListenerCore;
  #backlog: number;
  #queue: TcpSocketCore[] = [];
  #waiters = new Waiters();
  #closed = false;

  constructor(core: TcpListenerCore, backlog = DEFAULT_BACKLOG) {
    this.#core = core;
    this.#backlog = Math.max(1, backlog);
    this.addr = { transport: "tcp", hostname: format_addr(core.localAddr), port: core.localPort };
    core.onAccept = (c) => this.#onAccept(c);
  }

  #onAccept(c: TcpSocketCore): void {
    if (this.#closed || this.#queue.length >= this.#backlog) {
      this.drops.backlogFull = (this.drops.backlogFull ?? 0) + 1;
      c.abort();
      return;
    }
    this.#queue.push(c);
    this.#waiters.wake();
  }

  /** Connections waiting to be accepted. */
  get pending(): number {
    return this.#queue.length;
  }

  /** The next connection; rejects with BadResource once the listener is closed. */
  async accept(): Promise<StackConn> {
    for (;;) {
      if (this.#closed) throw bad_resource("Listener");
      const c = this.#queue.shift();
      if (c !== undefined) return new StackConn(c);
      await this.#waiters.wait();
    }
  }

  /** Stop listening; connections not yet accepted are reset. */
  close(): void {
    if (this.#closed) throw bad_resource("Listener");
    this.#closed = true;
    this.#core.onAccept = undefined;
    this.#core.close();
    for (const c of this.#queue) c.abort();
    this.#queue = [];
    this.#waiters.fail(bad_resource("Listener"));
  }

  /** Accepted connections until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<StackConn> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (this.#closed && e instanceof Deno.errors.BadResource) return;
        throw e;
      }
    }
  }

  /** No-op, as StackConn.ref. */
  ref(): void {}
  /** No-op, as StackConn.unref. */
  unref(): void {}

  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }
}
