/**
 * An IPv4/IPv6 router over N interfaces, each a weft `Stack` on its own endpoint (usually a port
 * of a switch): the Stack answers ARP, NDP and pings for the router's own addresses on that LAN;
 * the router forwards what reaches an interface's MAC for another address (`iface.onForeign`).
 *
 * ```ts
 * const r = new Router({
 *   interfaces: [
 *     { name: "lan1", endpoint: e1, ipv4: parse_cidr("10.1.0.1/24"), ipv6: parse_cidr("fd01::1/64"), ra: true },
 *     { name: "lan2", endpoint: e2, ipv4: parse_cidr("10.2.0.1/24") },
 *   ],
 *   routes: [{ dest: parse_cidr("10.9.0.0/16")!, via: parse_addr("10.2.0.254")! }],
 * });
 * ```
 *
 * Forwarding follows RFC 1812 (IPv4) and RFC 8200 / RFC 4443 (IPv6):
 * - the table is every interface's connected prefix plus static routes, longest prefix match
 *   across interfaces (§5.2.4.3); a static route's gateway must be on a connected prefix, and the
 *   route is also installed on that interface's Stack, which resolves the gateway's MAC;
 * - never forwarded (§5.3.7, §4.2.2.11, RFC 4291 §2.5.6, RFC 3927 §2.7, RFC 2644): link-local
 *   sources or destinations, multicast, limited and directed broadcasts, 0/8, 127/8, 240/4,
 *   ::, ::1 — counted by reason;
 * - TTL / hop limit ≤ 1: ICMP Time Exceeded (§5.3.1, RFC 4443 §3.3); no route: Destination
 *   Unreachable, net (§5.2.7.1) / no route to destination (RFC 4443 §3.1); larger than the egress
 *   MTU: with DF, "fragmentation needed" carrying the next-hop MTU (RFC 1191 §4), without DF the
 *   router fragments (RFC 791 §3.2); IPv6: Packet Too Big with the MTU (RFC 4443 §3.2), routers
 *   never fragment IPv6;
 * - the TTL decrement updates the IPv4 header checksum incrementally (RFC 1624 eqn. 3).
 *
 * One copy per forwarded packet: the received frame is borrowed and nobody may see it changed, so
 * the TTL byte and checksum are lowered in place, the egress interface copies the packet behind
 * its Ethernet header (`forwardPacket`), and the two fields are put back before the call returns.
 * JavaScript is single-threaded and the sink is synchronous, so no other holder of the frame can
 * observe the change, and we save a second copy of every packet. Frames arriving re-entrantly (an
 * in-process peer answering synchronously) are copied and handled after the current one.
 * Fragmented output (IPv4 without DF) costs a second copy, per fragment.
 *
 * Time: the Stacks keep their own timers; RAs (router/ra.ts) are driven by one real timer, or by
 * `poll()` with `timers: "manual"` (which polls the Stacks too, for simulated-time tests).
 */

import type { Endpoint } from "../core/endpoint.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { CryptoRng, type Rng } from "../core/rng.ts";
import { ConfigError } from "../core/errors.ts";
import { type Cidr, format_addr, type IpAddr, prefix_match } from "../stack/addr.ts";
import { Stack } from "../stack/stack.ts";
import { eui64 } from "../stack/iface/iface.ts";
import { TX_HEADROOM } from "../stack/ip_io.ts";
import {
  checksum_fold,
  checksum_update16,
  emit_icmpv4,
  emit_icmpv6,
  ICMPV4_ECHO_REPLY,
  ICMPV4_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  internet_checksum,
  IP_PROTO_ICMP,
  IP_PROTO_ICMPV6,
  pseudo_sum_ipv6_addrs,
  sum16,
} from "../stack/wire/mod.ts";
import { format_cidr, network_of, type RaConfig } from "./config.ts";
import { ObservedEndpoint } from "./observed_endpoint.ts";
import { RaSender } from "./ra.ts";
import { type RouteEntry, RouteTable } from "./route_table.ts";

export interface RouterInterfaceOptions {
  name: string;
  endpoint: Endpoint;
  ipv4?: Cidr;
  ipv6?: Cidr;
  /** Router advertisements for `ipv6`'s /64 on this interface. */
  ra?: boolean | RaConfig;
  mac?: number;
  /** IP MTU; default the endpoint's frame MTU minus the Ethernet header. */
  mtu?: number;
}

export interface RouterOptions {
  interfaces: RouterInterfaceOptions[];
  routes?: Array<{ dest: Cidr; via: IpAddr }>;
  clock?: Clock;
  rng?: Rng;
  /** "real" (default): timers run by themselves. "manual": the caller calls `poll()`. */
  timers?: "real" | "manual";
}

/** One interface of the router. */
export interface RouterPort {
  readonly index: number;
  readonly name: string;
  readonly stack: Stack;
  readonly ra: RaSender | undefined;
  readonly ipv4: Cidr | undefined;
  readonly ipv6: Cidr | undefined;
  /** Packets forwarded out of this interface. */
  forwardedOut: number;
}

export interface RouterStats {
  forwarded4: number;
  forwarded6: number;
  /** IP bytes forwarded (headers included). */
  bytes: number;
  /** IPv4 fragments sent for packets larger than the egress MTU without DF. */
  fragmentsOut: number;
  /** ICMP errors asked of the ingress interface (it may still rate-limit them). */
  icmpErrors: { time_exceeded: number; net_unreachable: number; too_big: number };
  /** Echo requests to the router's address on another interface, answered. */
  localEcho: number;
  /** Packets not forwarded, by reason. */
  drops: Record<string, number>;
}

/** Frames held while a forward is in progress (re-entrant delivery); beyond: dropped. */
const MAX_REENTRANT = 256;

export class Router {
  readonly ports: readonly RouterPort[];
  readonly table = new RouteTable();
  readonly stats: RouterStats = {
    forwarded4: 0,
    forwarded6: 0,
    bytes: 0,
    fragmentsOut: 0,
    icmpErrors: { time_exceeded: 0, net_unreachable: 0, too_big: 0 },
    localEcho: 0,
    drops: {},
  };
  readonly clock: Clock;
  readonly #timers: "real" | "manual";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #closed = false;
  #busy = false;
  #pending: Array<{ port: RouterPort; pkt: Uint8Array; v: 4 | 6 }> = [];
  /** The router's own IPv4 addresses (numbers) and the interface of each. */
  #own4: number[] = [];
  /** Subnet-directed broadcast addresses of the connected IPv4 prefixes (RFC 2644). */
  #bcast4: number[] = [];
  #own6: IpAddr[] = [];
  #frag: Uint8Array | undefined;

  constructor(opts: RouterOptions) {
    if (opts.interfaces.length === 0) throw new ConfigError("A router needs an interface");
    this.clock = opts.clock ?? systemClock;
    const rng = opts.rng ?? new CryptoRng();
    this.#timers = opts.timers ?? "real";
    const names = new Set<string>();
    for (const io of opts.interfaces) {
      if (names.has(io.name)) {
        throw new ConfigError(`Router interface "${io.name}" is defined twice`);
      }
      names.add(io.name);
      if (io.ra && (!io.ipv6 || io.ipv6.prefix !== 64)) {
        throw new ConfigError(`Router interface "${io.name}": RA needs a /64 IPv6 prefix`);
      }
    }
    for (const r of opts.routes ?? []) {
      const on = opts.interfaces.findIndex((io) => {
        const c = r.via.length === 4 ? io.ipv4 : io.ipv6;
        return c !== undefined && r.dest.addr.length === r.via.length &&
          prefix_match(c.addr, r.via, c.prefix);
      });
      if (on < 0) {
        throw new ConfigError(
          `Route ${format_cidr(r.dest)} via ${
            format_addr(r.via)
          }: the gateway is on no interface's prefix`,
        );
      }
    }
    const ports: RouterPort[] = [];
    opts.interfaces.forEach((io, index) => {
      const ep = new ObservedEndpoint(io.endpoint);
      const stack = new Stack({
        endpoint: ep,
        mac: io.mac,
        ipv4: io.ipv4,
        ipv6: io.ipv6 ? [io.ipv6] : [],
        mtu: io.mtu,
        clock: this.clock,
        rng,
        timers: this.#timers,
      });
      // A link-local address on every interface: RAs must come from one (RFC 4861 §6.1.2) and
      // hosts name their default router by it.
      const ll = new Uint8Array(16);
      ll[0] = 0xfe;
      ll[1] = 0x80;
      ll.set(eui64(stack.mac), 8);
      stack.iface.addAddress({ addr: ll, prefix: 64 }, { origin: "link-local" });
      let ra: RaSender | undefined;
      if (io.ra && io.ipv6) {
        const rc = io.ra === true ? {} : io.ra;
        ra = new RaSender({
          mac: stack.mac,
          prefix: io.ipv6,
          mtu: stack.iface.mtu6,
          source: () => linkLocalOf(stack),
          send: (f) => ep.inner.send(f),
          clock: this.clock,
          rng,
          interval: rc.interval,
          lifetime: rc.lifetime,
        });
        const sender = ra;
        ep.observer = (f) => {
          if (sender.observe(f)) this.#arm();
        };
      }
      const port: RouterPort = {
        index,
        name: io.name,
        stack,
        ra,
        ipv4: io.ipv4,
        ipv6: io.ipv6,
        forwardedOut: 0,
      };
      stack.iface.onForeign = (pkt, off, len, v) => this.#foreign(port, pkt, off, len, v);
      ports.push(port);
      if (io.ipv4) {
        const a = v4(io.ipv4.addr, 0);
        this.#own4.push(a);
        this.table.add({ dest: network_of(io.ipv4), port: index, kind: "connected" });
        if (io.ipv4.prefix < 31) {
          const mask = io.ipv4.prefix === 0 ? 0 : (0xffffffff << (32 - io.ipv4.prefix)) >>> 0;
          this.#bcast4.push((a | ~mask) >>> 0);
        }
      }
      if (io.ipv6) {
        this.#own6.push(io.ipv6.addr.slice());
        this.table.add({ dest: network_of(io.ipv6), port: index, kind: "connected" });
      }
    });
    this.ports = ports;
    for (const r of opts.routes ?? []) {
      const port = ports.find((p) => {
        const c = r.via.length === 4 ? p.ipv4 : p.ipv6;
        return c !== undefined && prefix_match(c.addr, r.via, c.prefix);
      })!;
      this.table.add({
        dest: network_of(r.dest),
        port: port.index,
        via: r.via.slice(),
        kind: "static",
      });
      // The egress Stack picks the next hop (the gateway) from its own routes.
      port.stack.iface.addRoute(network_of(r.dest), r.via);
    }
    this.#arm();
  }

  /** The routing table as text lines, e.g. "10.9.0.0/16 via 10.2.0.254 dev lan2". */
  describeRoutes(): string[] {
    return this.table.entries().map((e) =>
      `${format_cidr(e.dest)}${e.via ? ` via ${format_addr(e.via)}` : ""} dev ${
        this.ports[e.port].name
      }${e.kind === "connected" ? " (connected)" : ""}`
    );
  }

  /** Every counter: forwarding, each interface's Stack and RA sender, as plain data. */
  counters(): Record<string, unknown> {
    const out: Record<string, unknown> = { router: structuredClone(this.stats) };
    for (const p of this.ports) {
      out[p.name] = {
        forwardedOut: p.forwardedOut,
        ...p.stack.counters(),
        ra: p.ra ? structuredClone(p.ra.stats) : undefined,
      };
    }
    return out;
  }

  /** Run what is due (Stacks with manual timers, RAs); returns the next deadline. */
  poll(): number {
    const now = this.clock.now();
    let next = Infinity;
    for (const p of this.ports) {
      if (this.#timers === "manual") next = Math.min(next, p.stack.poll());
      if (p.ra) next = Math.min(next, p.ra.poll(now));
    }
    return next;
  }

  /** Stop: a final RA with lifetime 0 where advertising (RFC 4861 §6.2.5), close the Stacks. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const p of this.ports) p.ra?.stop();
    await Promise.all(this.ports.map((p) => p.stack.close()));
  }

  #arm(): void {
    if (this.#timers === "manual" || this.#closed) return;
    let next = Infinity;
    for (const p of this.ports) if (p.ra) next = Math.min(next, p.ra.nextAt);
    if (next === this.#timerAt && this.#timer !== undefined) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = next;
    if (next === Infinity) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      try {
        const now = this.clock.now();
        for (const p of this.ports) p.ra?.poll(now);
      } catch (e) {
        console.error("weft router: RA timer failed:", e);
      }
      this.#arm();
    }, Math.max(0, Math.ceil(next - this.clock.now())));
  }

  #drop(reason: string): true {
    const d = this.stats.drops;
    d[reason] = (d[reason] ?? 0) + 1;
    return true;
  }

  /** `iface.onForeign` of `port`: a packet for another address. Always takes it. */
  #foreign(port: RouterPort, pkt: Uint8Array, off: number, len: number, v: 4 | 6): boolean {
    if (this.#busy) {
      if (this.#pending.length >= MAX_REENTRANT) return this.#drop("reentrant_full");
      this.#pending.push({ port, pkt: pkt.slice(off, off + len), v });
      return true;
    }
    this.#busy = true;
    try {
      if (v === 4) this.#forward4(port, pkt, off, len);
      else this.#forward6(port, pkt, off, len);
      for (let i = 0; i < this.#pending.length; i++) {
        const q = this.#pending[i];
        if (q.v === 4) this.#forward4(q.port, q.pkt, 0, q.pkt.length);
        else this.#forward6(q.port, q.pkt, 0, q.pkt.length);
      }
    } finally {
      this.#pending.length = 0;
      this.#busy = false;
    }
    return true;
  }

  #icmpError(
    port: RouterPort,
    kind: "time_exceeded" | "net_unreachable" | "too_big",
    b: Uint8Array,
    off: number,
    len: number,
    mtu?: number,
  ): void {
    this.stats.icmpErrors[kind]++;
    port.stack.iface.sendIcmpError(kind, b.subarray(off, off + len), mtu);
    port.stack.kick();
  }

  #forward4(ing: RouterPort, b: Uint8Array, off: number, len: number): void {
    const s = v4(b, off + 12), d = v4(b, off + 16);
    const dHi = d >>> 24, sHi = s >>> 24;
    if (d >>> 28 === 14) return void this.#drop("multicast");
    if (d >>> 28 === 15) return void this.#drop("broadcast"); // 255.255.255.255 and 240/4
    if (dHi === 0 || dHi === 127) return void this.#drop("martian_dst");
    if (d >>> 16 === 0xa9fe || s >>> 16 === 0xa9fe) return void this.#drop("link_local");
    if (s >>> 28 >= 14 || sHi === 0 || sHi === 127) return void this.#drop("martian_src");
    const own = this.#own4;
    for (let i = 0; i < own.length; i++) {
      if (own[i] === d) return void this.#localEcho(ing, b, off, len, 4);
    }
    const bc = this.#bcast4;
    for (let i = 0; i < bc.length; i++) {
      if (bc[i] === d) return void this.#drop("directed_broadcast");
    }
    const ttl = b[off + 8];
    if (ttl <= 1) {
      this.#drop("ttl_exceeded");
      return this.#icmpError(ing, "time_exceeded", b, off, len);
    }
    const route = this.table.lookup4(b, off + 16);
    if (route === undefined) {
      this.#drop("no_route");
      return this.#icmpError(ing, "net_unreachable", b, off, len);
    }
    const eg = this.ports[route.port];
    const mtu = eg.stack.iface.mtu;
    if (len > mtu) {
      if ((b[off + 6] & 0x40) !== 0) {
        this.#drop("too_big");
        return this.#icmpError(ing, "too_big", b, off, len, mtu);
      }
      return this.#fragment4(eg, b, off, len, ttl - 1);
    }
    // RFC 1624: the TTL shares a 16-bit word with the protocol.
    const proto = b[off + 9];
    const sum = (b[off + 10] << 8) | b[off + 11];
    const nsum = checksum_update16(sum, (ttl << 8) | proto, ((ttl - 1) << 8) | proto);
    b[off + 8] = ttl - 1;
    b[off + 10] = nsum >>> 8;
    b[off + 11] = nsum;
    const ok = eg.stack.iface.forwardPacket(b, off, len);
    b[off + 8] = ttl;
    b[off + 10] = sum >>> 8;
    b[off + 11] = sum;
    this.#sent(eg, ok, len, 4);
  }

  #sent(eg: RouterPort, ok: boolean, len: number, v: 4 | 6): void {
    if (!ok) return void this.#drop("egress_dropped");
    if (v === 4) this.stats.forwarded4++;
    else this.stats.forwarded6++;
    this.stats.bytes += len;
    eg.forwardedOut++;
    eg.stack.kick();
  }

  /**
   * RFC 791 §3.2 / RFC 1812 §5.2.6: split a datagram without DF for a smaller egress MTU. Later
   * fragments carry only the options whose "copied" flag is set (RFC 791 §3.1).
   */
  #fragment4(eg: RouterPort, b: Uint8Array, off: number, len: number, ttl: number): void {
    const hl = (b[off] & 15) * 4, mtu = eg.stack.iface.mtu;
    let opts2: number[] = [];
    for (let i = off + 20, end = off + hl; i < end;) {
      const t = b[i];
      if (t === 0) break;
      if (t === 1) {
        i++;
        continue;
      }
      const l = b[i + 1];
      if (l < 2 || i + l > end) break;
      if (t & 0x80) opts2 = opts2.concat(Array.from(b.subarray(i, i + l)));
      i += l;
    }
    while (opts2.length % 4) opts2.push(0);
    const hl2 = 20 + opts2.length;
    if (mtu - Math.max(hl, hl2) < 8) return void this.#drop("mtu_too_small");
    const f = this.#frag ??= new Uint8Array(65535);
    const payload = len - hl;
    const origOff = (((b[off + 6] & 0x1f) << 8) | b[off + 7]) * 8;
    const origMf = (b[off + 6] & 0x20) !== 0;
    let pos = 0;
    while (pos < payload) {
      const h = pos === 0 ? hl : hl2;
      let n = payload - pos;
      if (n > mtu - h) n = (mtu - h) & ~7;
      f.set(b.subarray(off, off + 20), 0);
      if (pos === 0) f.set(b.subarray(off + 20, off + hl), 20);
      else f.set(opts2, 20);
      f[0] = 0x40 | (h >>> 2);
      f[2] = (h + n) >>> 8;
      f[3] = h + n;
      const more = pos + n < payload || origMf;
      const fo = (origOff + pos) >>> 3;
      f[6] = (more ? 0x20 : 0) | ((fo >>> 8) & 0x1f);
      f[7] = fo;
      f[8] = ttl;
      f[10] = 0;
      f[11] = 0;
      const c = internet_checksum(f, 0, h);
      f[10] = c >>> 8;
      f[11] = c;
      f.set(b.subarray(off + hl + pos, off + hl + pos + n), h);
      this.stats.fragmentsOut++;
      const ok = eg.stack.iface.forwardPacket(f, 0, h + n);
      if (!ok) return void this.#drop("egress_dropped");
      pos += n;
    }
    this.#sent(eg, true, len, 4);
  }

  #forward6(ing: RouterPort, b: Uint8Array, off: number, len: number): void {
    const so = off + 8, dOff = off + 24;
    // Multicast destinations never get here (the interface takes or drops them).
    if (b[so] === 0xff) return void this.#drop("martian_src");
    if (isLinkLocal6(b, so) || isLinkLocal6(b, dOff)) return void this.#drop("link_local");
    if (isUnspecOrLoop6(b, so)) return void this.#drop("martian_src");
    if (b[dOff] === 0xff) return void this.#drop("multicast");
    if (isUnspecOrLoop6(b, dOff)) return void this.#drop("martian_dst");
    const own = this.#own6;
    for (let i = 0; i < own.length; i++) {
      if (eq16(own[i], b, dOff)) return void this.#localEcho(ing, b, off, len, 6);
    }
    const hop = b[off + 7];
    if (hop <= 1) {
      this.#drop("hop_limit_exceeded");
      return this.#icmpError(ing, "time_exceeded", b, off, len);
    }
    const route: RouteEntry | undefined = this.table.lookup6(b, dOff);
    if (route === undefined) {
      this.#drop("no_route");
      return this.#icmpError(ing, "net_unreachable", b, off, len);
    }
    const eg = this.ports[route.port];
    const mtu = eg.stack.iface.mtu6;
    if (len > mtu) {
      this.#drop("too_big");
      return this.#icmpError(ing, "too_big", b, off, len, mtu);
    }
    b[off + 7] = hop - 1;
    const ok = eg.stack.iface.forwardPacket(b, off, len);
    b[off + 7] = hop;
    this.#sent(eg, ok, len, 6);
  }

  /**
   * A packet to the router's address on another interface: echo requests are answered from that
   * address through the interface they came in on (RFC 1812 §4.3.3.6); anything else is dropped.
   */
  #localEcho(ing: RouterPort, b: Uint8Array, off: number, len: number, v: 4 | 6): void {
    const iface = ing.stack.iface, tx = iface.tx;
    if (v === 4) {
      const hl = (b[off] & 15) * 4;
      if (b[off + 9] !== IP_PROTO_ICMP || ((b[off + 6] & 0x3f) | b[off + 7]) !== 0) {
        return void this.#drop("local_other_interface");
      }
      const io = off + hl, n = len - hl - 8;
      if (n < 0 || b[io] !== ICMPV4_ECHO_REQUEST) return void this.#drop("local_other_interface");
      if (checksum_fold(sum16(b, io, len - hl)) !== 0xffff) {
        return void this.#drop("icmp_bad_checksum");
      }
      const rest = ((b[io + 4] << 24) | (b[io + 5] << 16) | (b[io + 6] << 8) | b[io + 7]) >>> 0;
      const src = b.slice(off + 16, off + 20), dst = b.slice(off + 12, off + 16);
      tx.set(b.subarray(io + 8, io + 8 + n), TX_HEADROOM + 8);
      emit_icmpv4(tx, TX_HEADROOM, ICMPV4_ECHO_REPLY, 0, rest, n);
      iface.sendIp(src, dst, IP_PROTO_ICMP, 8 + n);
    } else {
      if (b[off + 6] !== IP_PROTO_ICMPV6) return void this.#drop("local_other_interface");
      const io = off + 40, n = len - 48;
      if (n < 0 || b[io] !== ICMPV6_ECHO_REQUEST) return void this.#drop("local_other_interface");
      const src = b.slice(off + 24, off + 40), dst = b.slice(off + 8, off + 24);
      const ps = pseudo_sum_ipv6_addrs(dst, src, IP_PROTO_ICMPV6);
      if (checksum_fold(sum16(b, io, len - 40, ps + len - 40)) !== 0xffff) {
        return void this.#drop("icmp_bad_checksum");
      }
      const rest = ((b[io + 4] << 24) | (b[io + 5] << 16) | (b[io + 6] << 8) | b[io + 7]) >>> 0;
      tx.set(b.subarray(io + 8, io + 8 + n), TX_HEADROOM + 8);
      emit_icmpv6(
        tx,
        TX_HEADROOM,
        ICMPV6_ECHO_REPLY,
        0,
        rest,
        n,
        pseudo_sum_ipv6_addrs(src, dst, IP_PROTO_ICMPV6),
      );
      iface.sendIp(src, dst, IP_PROTO_ICMPV6, 8 + n);
    }
    this.stats.localEcho++;
    ing.stack.kick();
  }
}

function v4(a: Uint8Array, o: number): number {
  return ((a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3]) >>> 0;
}

function isLinkLocal6(b: Uint8Array, o: number): boolean {
  return b[o] === 0xfe && (b[o + 1] & 0xc0) === 0x80;
}

/** :: or ::1. */
function isUnspecOrLoop6(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 15; i++) if (b[o + i] !== 0) return false;
  return b[o + 15] <= 1;
}

function eq16(a: IpAddr, b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[o + i]) return false;
  return true;
}

/** The preferred link-local address of `stack`, once DAD has passed. */
function linkLocalOf(stack: Stack): IpAddr | undefined {
  for (const a of stack.iface.addresses()) {
    if (a.addr.length === 16 && a.origin === "link-local" && a.state === "preferred") return a.addr;
  }
  return undefined;
}
