/**
 * A user-space TCP/IP stack plugged into a frame endpoint: the composition root of stack/.
 *
 * ```ts
 * const stack = new Stack({ endpoint, ipv4: parse_cidr("10.0.0.2/24") });
 * const listener = stack.listen({ port: 80 });
 * serve(listener, app.fetch);
 * ```
 *
 * One NIC (the endpoint), one `Iface` (Ethernet, ARP/NDP, IPv4/IPv6, ICMP), the TCP and UDP engines
 * on top, an optional DHCPv4 client and SLAAC. Protocol code keeps its timers as deadlines; the
 * stack drives them with ONE real timer (re-armed to the earliest deadline after every batch of
 * frames and every API call), or not at all with `timers: "manual"`, where the caller advances a
 * ManualClock and calls `poll()` — which is how tests run whole topologies deterministically.
 */

import type { Endpoint } from "../core/endpoint.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { CryptoRng, type Rng } from "../core/rng.ts";
import {
  addr_equal,
  addr_from_v4,
  type Cidr,
  format_addr,
  type IpAddr,
  parse_addr,
} from "./addr.ts";
import { eui64, Iface } from "./iface/iface.ts";
import { DhcpClient, type DhcpLease } from "./iface/dhcp_client.ts";
import { TcpEngine } from "./tcp/engine.ts";
import type { CongestionName } from "./tcp/congestion.ts";
import { UdpEngine } from "./udp.ts";
import type { TcpListenerCore, TcpSocketCore, UdpSocketCore } from "./socket_core.ts";
import {
  connect,
  listen,
  listenDatagram,
  type SocketProvider,
  type StackConn,
  type StackDatagramConn,
  type StackListener,
} from "./socket/mod.ts";
import { IP_PROTO_TCP } from "./wire/mod.ts";

export interface StackOptions {
  /** The NIC: any frame endpoint (a switch port, a `vde://` client, a tap…). */
  endpoint: Endpoint;
  /** 48-bit MAC; default a random locally administered unicast address (02:…). */
  mac?: number;
  /** IPv4: a static address with prefix, "dhcp", or none. */
  ipv4?: Cidr | "dhcp";
  /** IPv6: static address(es) and/or SLAAC ("auto"); a link-local address is always configured. */
  ipv6?: Array<Cidr | "auto">;
  /** Default gateways (IPv4 and/or IPv6). */
  gateways?: IpAddr[];
  /** IP MTU; default: the endpoint's frame MTU minus the Ethernet header, at most 65521. */
  mtu?: number;
  congestion?: CongestionName;
  /** Send and receive buffer per TCP connection, bytes. */
  tcpBuffer?: number;
  hostname?: string;
  clock?: Clock;
  rng?: Rng;
  /** "real" (default): one setTimeout drives the deadlines. "manual": the caller calls poll(). */
  timers?: "real" | "manual";
}

export interface StackSnapshot {
  version: 1;
  mac: number;
  /** The source stack's clock when the snapshot was taken. */
  clockAt: number;
  iface: unknown;
  tcp: unknown;
  dhcp: unknown;
}

export interface PingResult {
  seq: number;
  rttMs: number;
  bytes: number;
}

/** Frames held while the stack is transmitting into a synchronous in-process peer. */
const MAX_REENTRANT_BACKLOG = 4096;
const V4_BROADCAST = addr_from_v4(0xffffffff);
const V4_DEFAULT: Cidr = { addr: new Uint8Array(4), prefix: 0 };

export class Stack implements SocketProvider {
  readonly endpoint: Endpoint;
  readonly mac: number;
  readonly iface: Iface;
  readonly tcp: TcpEngine;
  readonly udp: UdpEngine;
  readonly dhcp: DhcpClient | undefined;
  readonly clock: Clock;
  #timers: "real" | "manual";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #kickQueued = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #slaac = false;
  #transmitting = 0;
  #draining = false;
  #backlog: Uint8Array[] = [];
  #dhcpSocket: UdpSocketCore | undefined;
  #ready: Promise<void>;
  #readyResolve!: () => void;
  #pings = new Map<number, (rtt: number, bytes: number) => void>();
  #pingId: number;
  #pingSent = new Map<number, number>();

  constructor(opts: StackOptions) {
    this.endpoint = opts.endpoint;
    this.clock = opts.clock ?? systemClock;
    const rng = opts.rng ?? new CryptoRng();
    this.#timers = opts.timers ?? "real";
    this.mac = opts.mac ?? randomMac(rng);
    const mtu = opts.mtu ?? Math.min(65521, opts.endpoint.mtu - 14);
    this.iface = new Iface((f) => this.#transmit(f), {
      mac: this.mac,
      mtu,
      clock: this.clock,
      rng,
      name: opts.endpoint.url,
    });
    this.tcp = new TcpEngine(this.iface, {
      clock: this.clock,
      rng,
      congestion: opts.congestion,
      sendBuffer: opts.tcpBuffer,
      recvBuffer: opts.tcpBuffer,
    });
    this.tcp.onWake = () => this.kick();
    this.udp = new UdpEngine(this.iface);
    this.iface.registerTransport(IP_PROTO_TCP, this.tcp);
    this.#pingId = rng.below(0x10000);
    this.iface.onEchoReply = (src, id, seq, payload) => this.#echoReply(src, id, seq, payload);
    this.#ready = new Promise((r) => (this.#readyResolve = r));

    if (opts.ipv4 === "dhcp") {
      this.#dhcpSocket = this.udp.bind(68, { anyDst: true });
      const sock = this.#dhcpSocket;
      this.dhcp = new DhcpClient({
        send: (buf, len, dst) => sock.sendTo(buf.subarray(0, len), dst ?? V4_BROADCAST, 67),
      }, { mac: this.mac, clock: this.clock, rng, hostname: opts.hostname });
      sock.onDatagram = (data) => {
        this.dhcp!.input(data, 0, data.length, this.clock.now());
      };
      this.dhcp.onLease = (lease, reason) => this.#onLease(lease, reason);
    } else {
      if (opts.ipv4) this.iface.addAddress(opts.ipv4);
      this.#readyResolve();
    }
    // Every IPv6 interface has a link-local address (RFC 4291 §2.1, RFC 4862 §5.3): NDP and router
    // advertisements use it. SLAAC adds it itself; static configurations get it here.
    if ((opts.ipv6 ?? []).length > 0 && !(opts.ipv6 ?? []).includes("auto")) {
      const ll = new Uint8Array(16);
      ll[0] = 0xfe;
      ll[1] = 0x80;
      ll.set(eui64(this.mac), 8);
      this.iface.addAddress({ addr: ll, prefix: 64 }, { origin: "link-local" });
    }
    for (const v6 of opts.ipv6 ?? []) {
      if (v6 === "auto") {
        this.iface.enableSlaac();
        this.#slaac = true;
      } else this.iface.addAddress(v6);
    }
    for (const gw of opts.gateways ?? []) {
      this.iface.addRoute({ addr: new Uint8Array(gw.length), prefix: 0 }, gw);
    }
    this.endpoint.setSink((frame) => this.#receive(frame));
    this.dhcp?.start(this.clock.now());
    this.kick();
  }

  /** Resolves once the IPv4 configuration is in place (at once when static; on the DHCP lease). */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Wait (bounded) until the addresses are usable: the DHCP lease is in, duplicate address
   * detection has passed for every IPv6 address (RFC 4862 §5.4), and with SLAAC a global address
   * was formed from a router advertisement. Resolves to false when `timeoutMs` passed first.
   */
  async settled(timeoutMs = 10_000): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    let ready = false;
    this.#ready.then(() => (ready = true));
    while (performance.now() < deadline && !this.#closed) {
      await new Promise((r) => setTimeout(r, 50));
      if (!ready) continue;
      const addrs = this.iface.addresses();
      const dadDone = addrs.every((a) => a.state !== "tentative");
      const slaacDone = !this.#slaac ||
        addrs.some((a) => a.origin === "slaac" && a.state === "preferred");
      if (dadDone && slaacDone) return true;
    }
    return false;
  }

  #onLease(lease: DhcpLease | undefined, _reason: string): void {
    const old = this.#currentLease?.addr;
    this.#currentLease = lease;
    const same = old !== undefined && lease !== undefined && addr_equal(old, lease.addr);
    if (old && !same) {
      this.iface.removeAddress(old);
      this.iface.removeRoute(V4_DEFAULT);
    }
    if (lease && !same) {
      this.iface.addAddress({ addr: lease.addr, prefix: lease.prefix });
      if (lease.router) this.iface.addRoute(V4_DEFAULT, lease.router);
    }
    if (lease) this.#readyResolve();
  }
  #currentLease: DhcpLease | undefined;

  /** The lease from DHCP, when configured by DHCP. */
  get lease(): DhcpLease | undefined {
    return this.#currentLease;
  }

  /** Every counter of the stack, as plain data (for logs, SIGUSR2 reports and the API). */
  counters(): Record<string, unknown> {
    return {
      nic: this.endpoint.stats(),
      iface: this.iface.stats,
      tcp: this.tcp.stats,
      udp: this.udp.stats,
      dhcp: this.dhcp ? { state: this.dhcp.state, drops: this.dhcp.drops } : undefined,
    };
  }

  /** Addresses as text with prefix, e.g. ["10.0.0.2/24", "fe80::…/64"]. */
  addressTexts(): string[] {
    return this.iface.addresses().map((a) => `${format_addr(a.addr)}/${a.prefix}`);
  }

  // ---- state as plain data ----

  /**
   * The whole protocol state — addresses, routes, neighbour caches, path MTUs, the DHCP lease,
   * every TCP connection with its sequence numbers, windows, timers (as deadlines on this stack's
   * clock) and buffered bytes — as plain data (numbers, strings, arrays, Uint8Arrays; copy it
   * with structuredClone). A stack built with `Stack.restore` on another endpoint, even in
   * another process, carries on from it: the basis for migrating a daemon with its connections.
   * UDP sockets are not included (datagram state is the application's).
   */
  snapshot(): StackSnapshot {
    return {
      version: 1,
      mac: this.mac,
      clockAt: this.clock.now(),
      iface: this.iface.snapshot(),
      tcp: this.tcp.snapshot(),
      dhcp: this.dhcp?.snapshot(),
    };
  }

  /**
   * A stack that continues from `snap` on `opts.endpoint`. Returns it with the TCP listeners and
   * connections restored, so the application can re-attach to them (their `onEvent`/`onAccept`).
   */
  static restore(
    opts: Omit<StackOptions, "mac" | "ipv4" | "ipv6" | "gateways">,
    snap: StackSnapshot,
  ): { stack: Stack; listeners: TcpListenerCore[]; connections: TcpSocketCore[] } {
    if (snap?.version !== 1) {
      throw new TypeError("Cannot restore a stack: not a version 1 snapshot");
    }
    const stack = new Stack({ ...opts, mac: snap.mac, ipv4: snap.dhcp ? "dhcp" : undefined });
    stack.iface.restore(snap.iface);
    if (snap.dhcp && stack.dhcp) stack.dhcp.restore(snap.dhcp);
    const restored = stack.tcp.restore(snap.tcp as Parameters<TcpEngine["restore"]>[0]);
    stack.#readyResolve();
    stack.kick();
    return { stack, ...restored };
  }

  // ---- SocketProvider (stack/socket builds the Deno-shaped API on these) ----

  tcpListen(port: number, addr?: IpAddr, backlog?: number): TcpListenerCore {
    const l = this.tcp.listen(port, addr, backlog);
    this.kick();
    return l;
  }

  tcpConnect(dst: IpAddr, port: number): TcpSocketCore {
    const c = this.tcp.connect(dst, port);
    this.kick();
    return c;
  }

  udpBind(port: number, addr?: IpAddr): UdpSocketCore {
    return this.udp.bind(port, { addr });
  }

  // ---- Deno-shaped API ----

  listen(opts: { port: number; hostname?: string }): StackListener {
    return listen(this, opts);
  }

  connect(opts: { hostname: string; port: number }): Promise<StackConn> {
    return connect(this, opts);
  }

  listenDatagram(opts: { port: number; hostname?: string }): StackDatagramConn {
    return listenDatagram(this, opts);
  }

  /** One ICMP / ICMPv6 echo to `target`; resolves with the round trip, rejects on timeout. */
  ping(
    target: string | IpAddr,
    seq: number,
    opts: { timeoutMs?: number; size?: number } = {},
  ): Promise<PingResult> {
    const dst = typeof target === "string" ? parse_addr(target) : target;
    if (!dst) {
      return Promise.reject(new TypeError(`Cannot ping "${target}": not an IPv4 or IPv6 address`));
    }
    const payload = new Uint8Array(opts.size ?? 56);
    for (let i = 0; i < payload.length; i++) payload[i] = i & 255;
    const key = seq & 0xffff;
    return new Promise<PingResult>((resolve, reject) => {
      const timeout = setTimeout(() => {
        this.#pings.delete(key);
        reject(
          new Deno.errors.TimedOut(`No echo reply from ${format_addr(dst)} (icmp_seq=${seq})`),
        );
      }, opts.timeoutMs ?? 1000);
      this.#pings.set(key, (rttMs, bytes) => {
        clearTimeout(timeout);
        resolve({ seq, rttMs, bytes });
      });
      this.#pingSent.set(key, this.clock.now());
      this.iface.ping(dst, this.#pingId, key, payload);
      this.kick();
    });
  }

  #echoReply(_src: IpAddr, id: number, seq: number, payload: Uint8Array): void {
    if (id !== this.#pingId) return;
    const done = this.#pings.get(seq);
    if (!done) return;
    this.#pings.delete(seq);
    done(this.clock.now() - (this.#pingSent.get(seq) ?? 0), payload.length);
    this.#pingSent.delete(seq);
  }

  // ---- frames ----

  /**
   * In-process endpoints (pair cables, an in-process switch) deliver synchronously: a frame this
   * stack transmits can come back as an answer while the engine that sent it is still running.
   * Such frames are copied to a bounded queue and handled in a microtask, so protocol code is
   * never re-entered.
   */
  #transmit(frame: Uint8Array): boolean {
    this.#transmitting++;
    try {
      return this.endpoint.send(frame);
    } finally {
      this.#transmitting--;
    }
  }

  #receive(frame: Uint8Array): void {
    if (this.#transmitting > 0 || this.#draining) {
      if (this.#backlog.length >= MAX_REENTRANT_BACKLOG) {
        this.iface.stats.drops.reentrantBacklogFull =
          (this.iface.stats.drops.reentrantBacklogFull ?? 0) + 1;
      } else this.#backlog.push(frame.slice());
    } else this.iface.receiveFrame(frame);
    this.kick();
  }

  #drainBacklog(): void {
    if (this.#backlog.length === 0) return;
    this.#draining = true;
    try {
      for (let i = 0; i < this.#backlog.length; i++) this.iface.receiveFrame(this.#backlog[i]);
    } finally {
      this.#backlog.length = 0;
      this.#draining = false;
    }
  }

  // ---- time ----

  /** Run everything that is due; returns the next deadline (ms on the stack's clock). */
  poll(): number {
    // Frames that arrived while draining were queued behind; loop until quiet (bounded).
    for (let i = 0; i < 64 && this.#backlog.length; i++) this.#drainBacklog();
    const now = this.clock.now();
    let next = this.iface.poll(now);
    next = Math.min(next, this.tcp.poll(now));
    if (this.dhcp) next = Math.min(next, this.dhcp.poll(now));
    return next;
  }

  /**
   * Re-arm the real timer after something may have changed deadlines. Coalesced: many frames in
   * one turn cost one poll, in a microtask after the batch.
   */
  kick(): void {
    if (this.#timers === "manual" || this.#kickQueued || this.#closed) return;
    this.#kickQueued = true;
    queueMicrotask(() => {
      this.#kickQueued = false;
      this.#arm();
    });
  }

  #arm(): void {
    if (this.#closed) return;
    let next: number;
    try {
      next = this.poll();
    } catch (e) {
      // A bug in protocol code must not end the process (ARCHITECTURE §5): report and keep going.
      console.error("weft stack: poll failed:", e);
      next = this.clock.now() + 100;
    }
    if (next === this.#timerAt && this.#timer !== undefined) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = next;
    if (next === Infinity) return;
    const delay = Math.max(0, Math.ceil(next - this.clock.now()));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#arm();
    }, delay);
  }

  /**
   * Stop: release the DHCP lease (RFC 2131 §4.4.6), stop the timers, and close the NIC a moment
   * later so the release (queued in the endpoint's per-turn batch) still goes out. Idempotent;
   * resolves once the endpoint is closed.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.dhcp?.release(this.clock.now());
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#dhcpSocket?.close();
    this.#closing = new Promise<void>((resolve) => {
      setTimeout(() => {
        this.endpoint.close();
        resolve();
      }, this.dhcp ? 50 : 0);
    });
    return this.#closing;
  }
}

/** A random locally administered unicast MAC (IEEE 802: U/L bit set, I/G bit clear). */
function randomMac(rng: Rng): number {
  const hi = (rng.u32() & 0xfeff) | 0x0200;
  return hi * 4294967296 + rng.u32();
}
