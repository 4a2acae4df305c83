/**
 * StackConn: a TCP connection of the user-space stack shaped like `Deno.TcpConn`, so code written
 * for `Deno.connect` (read/write, readable/writable streams, closeWrite, Deno.errors) runs on a
 * stack unchanged.
 *
 * It owns no protocol state: bytes live in the engine's buffers (TcpSocketCore), and this class
 * only turns the engine's synchronous events into settled promises. Every operation first tries
 * the core; only when it cannot progress does it park until the next event (waiters.ts).
 */

import { format_addr } from "../addr.ts";
import type { TcpSocketCore, TcpStateName } from "../socket_core.ts";
import { bad_resource, format_endpoint, not_connected, tcp_error } from "./errors.ts";
import { Waiters } from "./waiters.ts";

/** Chunk size of `readable`, as Deno's own conns (64 KiB). */
export const READ_CHUNK = 64 * 1024;

/**
 * RFC 1122 §4.2.3.6: the keepalive interval MUST default to no less than two hours; used when
 * `setKeepAlive(true)` gives no interval.
 */
export const KEEPALIVE_IDLE_MS = 2 * 60 * 60 * 1000;

/** States where more data may still arrive from the peer (its FIN not yet seen). */
function can_receive(s: TcpStateName): boolean {
  return s === "ESTABLISHED" || s === "FIN-WAIT-1" || s === "FIN-WAIT-2" ||
    s === "SYN-SENT" || s === "SYN-RECEIVED";
}

/** States where our side may still queue data (we have not sent FIN). */
function can_send(s: TcpStateName): boolean {
  return s === "ESTABLISHED" || s === "CLOSE-WAIT" || s === "SYN-SENT" || s === "SYN-RECEIVED";
}

export class StackConn implements Deno.TcpConn {
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  /** `Deno.Conn` legacy field; stack sockets have no resource id. */
  readonly rid = -1;

  #core: TcpSocketCore;
  #peer: string;
  #readers = new Waiters();
  #writers = new Waiters();
  #closed = false;
  #writeShut = false;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  constructor(core: TcpSocketCore) {
    this.#core = core;
    this.localAddr = {
      transport: "tcp",
      hostname: format_addr(core.localAddr),
      port: core.localPort,
    };
    this.remoteAddr = {
      transport: "tcp",
      hostname: format_addr(core.remoteAddr),
      port: core.remotePort,
    };
    this.#peer = format_endpoint(core.remoteAddr, core.remotePort);
    core.onEvent = (ev) => {
      // Error/closed wake both sides: the parked operations re-check and throw or see EOF.
      if (ev !== "writable") this.#readers.wake();
      if (ev !== "readable" && ev !== "established") this.#writers.wake();
    };
  }

  /** Resolve once the handshake of `core` (from `tcpConnect`) is done; reject if it fails. */
  static async connected(core: TcpSocketCore): Promise<StackConn> {
    const conn = new StackConn(core);
    for (;;) {
      const err = core.error;
      if (err !== undefined) {
        conn.#drop();
        throw tcp_error(err, conn.#peer);
      }
      const s = core.state;
      if (s === "CLOSED" || s === "LISTEN") {
        conn.#drop();
        throw tcp_error("aborted", conn.#peer);
      }
      if (s !== "SYN-SENT" && s !== "SYN-RECEIVED") return conn;
      await conn.#readers.wait();
    }
  }

  /**
   * Read into `p`: resolves with the count (≥ 1), or null at end of stream (peer's FIN after all
   * its data). Rejects with the mapped `Deno.errors.*` when the connection failed.
   */
  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw bad_resource("Connection");
      if (p.length === 0) return 0;
      const n = this.#core.recv(p);
      if (n > 0) return n;
      if (n < 0) return null;
      const err = this.#core.error;
      if (err !== undefined) throw tcp_error(err, this.#peer);
      // Nothing buffered and nothing more can come (e.g. closed without an EOF marker).
      if (!can_receive(this.#core.state)) return null;
      await this.#readers.wait();
    }
  }

  /**
   * Write from `p`: waits for send-buffer space, then resolves with how many bytes the engine
   * accepted (≥ 1, possibly fewer than `p.length`, like `Deno.Conn.write`).
   */
  async write(p: Uint8Array): Promise<number> {
    for (;;) {
      if (this.#closed) throw bad_resource("Connection");
      if (this.#writeShut) throw not_connected(this.#peer, "write side closed");
      const err = this.#core.error;
      if (err !== undefined) throw tcp_error(err, this.#peer);
      if (p.length === 0) return 0;
      const n = this.#core.send(p);
      if (n > 0) return n;
      if (!can_send(this.#core.state)) throw not_connected(this.#peer, this.#core.state);
      await this.#writers.wait();
    }
  }

  async #writeAll(p: Uint8Array): Promise<void> {
    let off = 0;
    while (off < p.length) off += await this.write(p.subarray(off));
  }

  /** Half close: FIN after the queued data; reading goes on until the peer's FIN. */
  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(bad_resource("Connection"));
    if (!this.#writeShut) {
      this.#writeShut = true;
      this.#core.shutdownWrite();
      this.#writers.wake();
    }
    return Promise.resolve();
  }

  /**
   * Close both directions (the engine sends FIN after queued data, or RST if received data is
   * left unread, RFC 9293 §3.6.1). Pending reads and writes reject with BadResource.
   */
  close(): void {
    if (this.#closed) throw bad_resource("Connection");
    this.#closed = true;
    this.#core.close();
    this.#drop();
  }

  /** Detach from the core and fail parked operations (the core is closed or failed). */
  #drop(): void {
    this.#closed = true;
    this.#core.onEvent = undefined;
    // Only when someone waits: building an Error captures a stack trace (µs), and the common
    // close — nothing parked — needs none.
    if (this.#readers.size + this.#writers.size === 0) return;
    const e = bad_resource("Connection");
    this.#readers.fail(e);
    this.#writers.fail(e);
  }

  #closeQuietly(): void {
    if (!this.#closed) this.close();
  }

  /** Byte stream of received data (BYOB-capable, auto-allocated 64 KiB chunks). */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: READ_CHUNK,
      pull: async (c) => {
        const req = c.byobRequest!;
        const v = req.view!;
        try {
          const n = await this.read(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
          if (n === null) {
            c.close();
            req.respond(0);
          } else {
            req.respond(n);
          }
        } catch (e) {
          // Closing the conn ends its stream quietly, as Deno's conns do.
          if (e instanceof Deno.errors.BadResource) {
            c.close();
            req.respond(0);
          } else {
            c.error(e);
          }
        }
      },
      cancel: () => this.#closeQuietly(),
    });
    return this.#readable as ReadableStream<Uint8Array<ArrayBuffer>>;
  }

  /**
   * Stream into the send buffer; each chunk resolves when the engine took all of it, so a full
   * send buffer is back-pressure. Closing it half-closes (FIN) rather than closing the conn, so
   * the response can still be read; abort closes.
   */
  get writable(): WritableStream<Uint8Array<ArrayBufferLike>> {
    this.#writable ??= new WritableStream<Uint8Array>({
      write: (chunk) => this.#writeAll(chunk),
      close: () => this.closeWrite(),
      abort: () => this.#closeQuietly(),
    });
    return this.#writable;
  }

  /** Nagle off (true) or on (false), RFC 1122 §4.2.3.4. */
  setNoDelay(noDelay = true): void {
    if (!this.#closed) this.#core.setNoDelay(noDelay);
  }

  /** Keepalive probes after two hours idle (RFC 1122 §4.2.3.6), or off. */
  setKeepAlive(keepAlive = true): void {
    if (!this.#closed) this.#core.setKeepAlive(keepAlive ? KEEPALIVE_IDLE_MS : 0);
  }

  /** No-op: a stack socket never keeps the process alive by itself (the NIC's cable does). */
  ref(): void {}
  /** No-op, see `ref`. */
  unref(): void {}

  [Symbol.dispose](): void {
    this.#closeQuietly();
  }
}
