/**
 * Test double for the engine seam: connected pairs of in-memory TcpSocketCores with small
 * buffers (so back-pressure and EOF are exercised), UDP cores, and a SocketProvider over them.
 * Events are raised synchronously from inside the peer's calls, as a real engine raises them
 * from inside packet processing.
 */

import type { IpAddr } from "../addr.ts";
import { addr_equal, is_unspecified } from "../addr.ts";
import type {
  TcpErrorKind,
  TcpEvent,
  TcpListenerCore,
  TcpSocketCore,
  TcpStateName,
  UdpSocketCore,
} from "../socket_core.ts";
import { addr_in_use } from "./errors.ts";
import type { SocketProvider } from "./provider.ts";

export class FakeTcpCore implements TcpSocketCore {
  state: TcpStateName = "SYN-SENT";
  error: TcpErrorKind | undefined;
  peer: FakeTcpCore | undefined;
  onEvent: ((ev: TcpEvent) => void) | undefined;
  noDelay = false;
  keepAliveMs = 0;
  /** Bytes received and not yet read (the receive buffer, `cap` bytes). */
  rx: Uint8Array;
  rxLen = 0;
  finReceived = false;
  events: TcpEvent[] = [];

  constructor(
    readonly localAddr: IpAddr,
    readonly localPort: number,
    readonly remoteAddr: IpAddr,
    readonly remotePort: number,
    cap: number,
  ) {
    this.rx = new Uint8Array(cap);
  }

  emit(ev: TcpEvent): void {
    this.events.push(ev);
    this.onEvent?.(ev);
  }

  recv(into: Uint8Array): number {
    if (this.rxLen > 0) {
      const n = Math.min(into.length, this.rxLen);
      into.set(this.rx.subarray(0, n));
      this.rx.copyWithin(0, n, this.rxLen);
      this.rxLen -= n;
      this.peer?.emit("writable");
      return n;
    }
    return this.finReceived ? -1 : 0;
  }

  send(from: Uint8Array): number {
    const p = this.peer;
    if (!p || (this.state !== "ESTABLISHED" && this.state !== "CLOSE-WAIT")) return 0;
    const n = Math.min(from.length, p.rx.length - p.rxLen);
    if (n === 0) return 0;
    p.rx.set(from.subarray(0, n), p.rxLen);
    p.rxLen += n;
    p.emit("readable");
    return n;
  }

  shutdownWrite(): void {
    if (this.state === "ESTABLISHED") this.state = "FIN-WAIT-2";
    else if (this.state === "CLOSE-WAIT") this.state = "CLOSED";
    else return;
    const p = this.peer;
    if (p) {
      p.finReceived = true;
      if (p.state === "ESTABLISHED") p.state = "CLOSE-WAIT";
      else if (p.state === "FIN-WAIT-2") p.state = "CLOSED";
      p.emit("readable");
      if (p.state === "CLOSED") p.emit("closed");
    }
    if (this.state === "CLOSED") this.emit("closed");
  }

  close(): void {
    // RFC 9293 §3.6.1: closing with unread data resets the connection.
    if (this.rxLen > 0) return this.abort();
    this.shutdownWrite();
    this.state = "CLOSED";
  }

  abort(): void {
    if (this.state === "CLOSED") return;
    this.state = "CLOSED";
    this.peer?.fail("reset");
  }

  /** The engine giving up on this connection (RST received, retransmission timeout…). */
  fail(kind: TcpErrorKind): void {
    if (this.error !== undefined) return;
    this.error = kind;
    this.state = "CLOSED";
    this.rxLen = 0;
    this.emit("error");
    this.emit("closed");
  }

  setNoDelay(on: boolean): void {
    this.noDelay = on;
  }

  setKeepAlive(idleMs: number): void {
    this.keepAliveMs = idleMs;
  }
}

export class FakeListenerCore implements TcpListenerCore {
  onAccept: ((conn: TcpSocketCore) => void) | undefined;
  closed = false;
  constructor(
    readonly localAddr: IpAddr,
    readonly localPort: number,
    private readonly onClose: () => void,
  ) {}
  close(): void {
    this.closed = true;
    this.onClose();
  }
}

export class FakeUdpCore implements UdpSocketCore {
  onDatagram: ((data: Uint8Array, src: IpAddr, srcPort: number) => void) | undefined;
  closed = false;
  constructor(
    readonly localAddr: IpAddr,
    readonly localPort: number,
    private readonly net: FakeProvider,
  ) {}
  sendTo(data: Uint8Array, dst: IpAddr, dstPort: number): boolean {
    if (this.closed || data.length > this.net.maxDatagram) return false;
    const to = this.net.udp.get(dstPort);
    if (to && (is_unspecified(to.localAddr) || addr_equal(to.localAddr, dst))) {
      // A borrowed view: the receiver must copy, so hand it a buffer we then scribble over.
      const scratch = data.slice();
      to.onDatagram?.(scratch, this.localAddr, this.localPort);
      scratch.fill(0xee);
    }
    return true;
  }
  close(): void {
    this.closed = true;
    this.net.udp.delete(this.localPort);
  }
}

/**
 * One host talking to itself at `addr`: connects reach listeners by port; handshakes complete (or
 * are refused) in a microtask, as they would after a round trip.
 */
export class FakeProvider implements SocketProvider {
  listeners = new Map<number, FakeListenerCore>();
  udp = new Map<number, FakeUdpCore>();
  /** Every client core made by tcpConnect, in order. */
  clients: FakeTcpCore[] = [];
  maxDatagram = 1472;
  #nextPort = 49152;

  constructor(readonly addr: IpAddr, readonly bufferSize = 64) {}

  #port(port: number): number {
    return port === 0 ? this.#nextPort++ : port;
  }

  tcpListen(port: number, addr?: IpAddr): TcpListenerCore {
    if (this.listeners.has(port)) throw addr_in_use("tcp", addr ?? this.addr, port);
    const p = this.#port(port);
    const l = new FakeListenerCore(addr ?? new Uint8Array(this.addr.length), p, () => {
      this.listeners.delete(p);
    });
    this.listeners.set(p, l);
    return l;
  }

  tcpConnect(dst: IpAddr, port: number): TcpSocketCore {
    const local = this.#port(0);
    const c = new FakeTcpCore(this.addr, local, dst, port, this.bufferSize);
    this.clients.push(c);
    queueMicrotask(() => {
      const l = this.listeners.get(port);
      if (!l || !addr_equal(dst, this.addr)) return c.fail("refused");
      const s = new FakeTcpCore(dst, port, this.addr, local, this.bufferSize);
      c.peer = s;
      s.peer = c;
      c.state = s.state = "ESTABLISHED";
      l.onAccept?.(s);
      c.emit("established");
    });
    return c;
  }

  udpBind(port: number, addr?: IpAddr): UdpSocketCore {
    if (this.udp.has(port)) throw addr_in_use("udp", addr ?? this.addr, port);
    const u = new FakeUdpCore(addr ?? this.addr, this.#port(port), this);
    this.udp.set(u.localPort, u);
    return u;
  }
}
