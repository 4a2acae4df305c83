/**
 * StackDatagramConn: a UDP socket of the stack shaped like `Deno.DatagramConn`.
 *
 * Datagrams arrive as borrowed views from the engine, so each is copied once into a bounded
 * receive queue (a socket receive buffer, as SO_RCVBUF bounds the kernel's); when the program
 * does not keep up, new datagrams are dropped and counted (`drops.queueFull`), which is what UDP
 * promises anyway (RFC 768: no delivery guarantee).
 */

import type { IpAddr } from "../addr.ts";
import { format_addr } from "../addr.ts";
import type { UdpSocketCore } from "../socket_core.ts";
import { bad_resource } from "./errors.ts";
import { check_port, parse_host } from "./host.ts";
import { Waiters } from "./waiters.ts";

export const DEFAULT_RECEIVE_QUEUE = 256;

interface Queued {
  data: Uint8Array;
  src: IpAddr;
  port: number;
}

export class StackDatagramConn implements AsyncIterable<[Uint8Array, Deno.NetAddr]>, Disposable {
  readonly addr: Deno.NetAddr;
  /** Datagrams lost, by reason: `queueFull` (receive), `sendRejected` (engine refused). */
  readonly drops: Record<string, number> = {};

  #core: UdpSocketCore;
  #max: number;
  #queue: Queued[] = [];
  #waiters = new Waiters();
  #closed = false;

  constructor(core: UdpSocketCore, maxQueue = DEFAULT_RECEIVE_QUEUE) {
    this.#core = core;
    this.#max = Math.max(1, maxQueue);
    this.addr = { transport: "udp", hostname: format_addr(core.localAddr), port: core.localPort };
    core.onDatagram = (data, src, port) => {
      if (this.#queue.length >= this.#max) {
        this.drops.queueFull = (this.drops.queueFull ?? 0) + 1;
        return;
      }
      // Borrowed views: copy before the engine reuses them. Text for the address is made only
      // when the program receives the datagram.
      this.#queue.push({ data: data.slice(), src: src.slice(), port });
      this.#waiters.wake();
    };
  }

  /**
   * The next datagram and its sender. With `buf`, the data is copied into it and truncated to
   * its length (as recvfrom(2) truncates); without, a fresh array is returned.
   */
  async receive(buf?: Uint8Array): Promise<[Uint8Array, Deno.NetAddr]> {
    for (;;) {
      if (this.#closed) throw bad_resource("Datagram socket");
      const q = this.#queue.shift();
      if (q !== undefined) {
        const addr: Deno.NetAddr = { transport: "udp", hostname: format_addr(q.src), port: q.port };
        if (buf === undefined) return [q.data, addr];
        const n = Math.min(buf.length, q.data.length);
        buf.set(q.data.subarray(0, n));
        return [buf.subarray(0, n), addr];
      }
      await this.#waiters.wait();
    }
  }

  /**
   * Send one datagram to a literal address. Resolves with the bytes sent, or 0 when the engine
   * dropped it (no route, too big; counted in `drops.sendRejected` here and by reason in the
   * engine).
   */
  send(data: Uint8Array, addr: Deno.NetAddr): Promise<number> {
    try {
      if (this.#closed) throw bad_resource("Datagram socket");
      const dst = parse_host(addr.hostname, "send");
      const port = check_port(addr.port, "send", 1);
      if (!this.#core.sendTo(data, dst, port)) {
        this.drops.sendRejected = (this.drops.sendRejected ?? 0) + 1;
        return Promise.resolve(0);
      }
      return Promise.resolve(data.length);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  close(): void {
    if (this.#closed) throw bad_resource("Datagram socket");
    this.#closed = true;
    this.#core.onDatagram = undefined;
    this.#core.close();
    this.#queue = [];
    this.#waiters.fail(bad_resource("Datagram socket"));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<[Uint8Array, Deno.NetAddr]> {
    for (;;) {
      try {
        yield await this.receive();
      } catch (e) {
        if (this.#closed && e instanceof Deno.errors.BadResource) return;
        throw e;
      }
    }
  }

  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }
}
