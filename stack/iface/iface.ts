/**
 * One IP interface on a virtual Ethernet: the IP layer of weft's user-space stack (IPv4 + IPv6).
 *
 * Input: `receiveFrame` (the NIC's synchronous sink) filters by destination MAC, answers ARP
 * (RFC 826), validates IPv4 (RFC 791/1122) and IPv6 (RFC 8200) headers, handles ICMP (RFC 792)
 * and ICMPv6 (RFC 4443) including Neighbor Discovery (RFC 4861) and SLAAC (RFC 4862), hands
 * fragments to the reassembler, and dispatches the rest to the transport registered for the
 * protocol. Malformed input never throws: it is counted in `stats.drops` by reason.
 *
 * Output (stack/ip_io.ts, single copy): a transport writes its segment into `tx` at
 * `TX_HEADROOM`; `sendIp` writes the IP header in front of it and the Ethernet header in front of
 * that, and hands the subarray to `transmit` (which copies it: the frame is borrowed). A packet
 * whose next hop is unresolved is copied into a bounded per-neighbour queue (neighbour.ts).
 *
 * Time is `clock.now()` at the edges (a frame arriving, a send) and `poll(now)` for deadlines;
 * randomness comes from `rng`. All protocol state is plain data, `snapshot()` / `restore()`.
 */

import type { Clock } from "../../core/clock.ts";
import type { Rng } from "../../core/rng.ts";
import {
  addr_equal,
  addr_equal_at,
  addr_v4,
  type Cidr,
  type IpAddr,
  is_unspecified,
  prefix_match,
} from "../addr.ts";
import {
  type IcmpErrorKind,
  type IpOutput,
  type Timed,
  type TransportInput,
  TX_HEADROOM,
  TX_MAX_SEGMENT,
} from "../ip_io.ts";
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ArpView,
  emit_arp,
  emit_ethernet,
  emit_icmpv4,
  emit_icmpv6,
  emit_ipv4,
  emit_ipv6,
  EthernetView,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_ECHO_REPLY,
  ICMPV4_ECHO_REQUEST,
  ICMPV4_TIME_EXCEEDED,
  Icmpv4View,
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  icmpv6_fill_checksum,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAM_PROBLEM,
  ICMPV6_TIME_EXCEEDED,
  Icmpv6View,
  IP_PROTO_ICMP,
  IP_PROTO_ICMPV6,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  ipv4_at,
  type Ipv4Fields,
  Ipv4View,
  Ipv6View,
  is_group_mac,
  MAC_BROADCAST,
  NDP_NA_OVERRIDE,
  NDP_NA_SOLICITED,
  NDP_NEIGHBOR_ADVERT,
  NDP_NEIGHBOR_SOLICIT,
  ndp_next_option,
  NDP_OPT_PREFIX_INFO,
  NDP_OPT_RDNSS,
  NDP_OPT_SOURCE_LLADDR,
  ndp_prefix,
  NDP_PREFIX_AUTONOMOUS,
  ndp_prefix_flags,
  ndp_prefix_length,
  NDP_PREFIX_ON_LINK,
  ndp_prefix_preferred_lifetime,
  ndp_prefix_valid_lifetime,
  ndp_rdnss_addr_offset,
  ndp_rdnss_count,
  ndp_rdnss_lifetime,
  NDP_ROUTER_ADVERT,
  NDP_ROUTER_SOLICIT,
  pseudo_sum_ipv6_addrs,
  write_ndp_lladdr_option,
  write_ndp_neighbor,
  write_ndp_rs,
} from "../wire/mod.ts";
import {
  NeighbourCache,
  type NeighbourHooks,
  type NeighEntry,
  type NeighSnapshot,
} from "./neighbour.ts";
import { PmtuCache, type PmtuEntry } from "./pmtu.ts";
import { Reassembler } from "./reassembly.ts";

export interface IfaceOptions {
  /** 48-bit MAC address. */
  mac: number;
  /** IP MTU (default 1500). */
  mtu?: number;
  clock: Clock;
  rng: Rng;
  name?: string;
}

export type AddrState = "tentative" | "preferred" | "deprecated";
export type AddrOrigin = "static" | "dhcp" | "slaac" | "link-local";

/** One configured address (plain data; deadlines in ms of the interface's clock). */
export interface AddrEntry {
  addr: IpAddr;
  prefix: number;
  state: AddrState;
  origin: AddrOrigin;
  validUntil: number;
  preferredUntil: number;
  /** Duplicate Address Detection (RFC 4862 §5.4): when the tentative period ends. */
  dadDeadline: number;
}

/** A route; `via` absent means on-link. RA-learnt routes expire. */
export interface RouteEntry {
  dest: Cidr;
  via?: IpAddr;
  expires: number;
  origin: "static" | "ra";
}

/** A DNS server from an RA's RDNSS option (RFC 8106), kept for the resolver. */
export interface RdnssEntry {
  addr: IpAddr;
  expires: number;
}

/** What the interface needs of a fragment reassembler (stack/iface/reassembly.ts). */
export interface FragmentReassembler {
  add(
    now: number,
    src: IpAddr,
    dst: IpAddr,
    proto: number,
    id: number,
    offset: number,
    more: boolean,
    payload: Uint8Array,
  ): Uint8Array | undefined;
  poll(now: number): number;
  readonly drops: Record<string, number>;
}

export interface IfaceStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** IP packets handed to transports / ICMP, and IP packets sent (fragments count each). */
  ipIn: number;
  ipOut: number;
  /** Drops by reason (including the neighbour caches'). */
  drops: Record<string, number>;
}

export interface IfaceSnapshot {
  version: 1;
  /** The clock reading when taken: `restore` shifts every deadline by (now − at). */
  at: number;
  mac: number;
  mtu: number;
  mtu6: number;
  hopLimit: number;
  ipId: number;
  slaac: boolean;
  rsCount: number;
  rsDeadline: number;
  addresses: AddrEntry[];
  routes: RouteEntry[];
  rdnss: RdnssEntry[];
  neigh4: NeighSnapshot[];
  neigh6: NeighSnapshot[];
  pmtu: PmtuEntry[];
}

/** RFC 4861 §10 host constants. */
const MAX_RTR_SOLICITATIONS = 3;
const RTR_SOLICITATION_INTERVAL = 4000;
const MAX_RTR_SOLICITATION_DELAY = 1000;
/** RFC 4862 §5.5.3 (e): the two-hour rule against forged short valid lifetimes. */
const TWO_HOURS = 7_200_000;
/** ICMP error rate limit (RFC 1812 §4.3.2.8, RFC 4443 §2.4 (f)): a token bucket. */
const ICMP_BURST = 20;
const ICMP_PER_SEC = 10;
/** RFC 1191 §7 plateau table, for a "fragmentation needed" without a next-hop MTU. */
const PLATEAUS = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];
/**
 * The ICMPv4 [type, code] sent for each error kind (RFC 792): Destination Unreachable with net,
 * host, protocol ("other"), port or fragmentation-needed (RFC 1191 §4) code, or Time Exceeded.
 */
const ICMPV4_ERROR_TYPE_CODE: Record<IcmpErrorKind, readonly [number, number]> = {
  net_unreachable: [ICMPV4_DEST_UNREACHABLE, 0],
  host_unreachable: [ICMPV4_DEST_UNREACHABLE, 1],
  other: [ICMPV4_DEST_UNREACHABLE, 2],
  port_unreachable: [ICMPV4_DEST_UNREACHABLE, 3],
  too_big: [ICMPV4_DEST_UNREACHABLE, 4],
  time_exceeded: [ICMPV4_TIME_EXCEEDED, 0],
};
/**
 * The ICMPv6 [type, code] sent for each error kind (RFC 4443 §3). "other" means an unknown Next
 * Header: Parameter Problem code 1 (RFC 8200 §4).
 */
const ICMPV6_ERROR_TYPE_CODE: Record<IcmpErrorKind, readonly [number, number]> = {
  net_unreachable: [ICMPV6_DEST_UNREACHABLE, 0],
  host_unreachable: [ICMPV6_DEST_UNREACHABLE, 3],
  port_unreachable: [ICMPV6_DEST_UNREACHABLE, 4],
  too_big: [ICMPV6_PACKET_TOO_BIG, 0],
  time_exceeded: [ICMPV6_TIME_EXCEEDED, 0],
  other: [ICMPV6_PARAM_PROBLEM, 1],
};
const MAX_LOOPBACK = 64;
const MAX_RDNSS = 8;
const MAC_ALL_NODES = 0x333300000001;
const ALL_NODES = new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const ALL_ROUTERS = new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
const UNSPEC6 = new Uint8Array(16);

/** Drop reasons by parser result, so the hot path never builds a string. */
const ETH_DROP: Record<string, string> = { truncated: "eth_truncated" };
const ARP_DROP: Record<string, string> = {
  truncated: "arp_truncated",
  unsupported: "arp_unsupported",
};
const V4_DROP: Record<string, string> = {
  truncated: "ipv4_truncated",
  bad_version: "ipv4_bad_version",
  bad_ihl: "ipv4_bad_ihl",
  bad_length: "ipv4_bad_length",
  bad_checksum: "ipv4_bad_checksum",
};
const V6_DROP: Record<string, string> = {
  truncated: "ipv6_truncated",
  bad_version: "ipv6_bad_version",
  bad_ext: "ipv6_bad_ext",
  bad_ext_order: "ipv6_bad_ext_order",
  too_many_ext: "ipv6_too_many_ext",
};
const ICMP4_DROP: Record<string, string> = {
  truncated: "icmp4_truncated",
  bad_checksum: "icmp4_bad_checksum",
};
const ICMP6_DROP: Record<string, string> = {
  truncated: "icmp6_truncated",
  bad_checksum: "icmp6_bad_checksum",
  bad_ndp: "ndp_malformed",
  bad_option: "ndp_bad_option",
};

function is_link_local6(a: Uint8Array, o = 0): boolean {
  return a[o] === 0xfe && (a[o + 1] & 0xc0) === 0x80;
}

function mask_v4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** A copy of `a` with the bits after `prefix` cleared. */
function masked(a: IpAddr, prefix: number): IpAddr {
  const out = a.slice();
  for (let i = 0; i < out.length; i++) {
    const bits = prefix - 8 * i;
    if (bits <= 0) out[i] = 0;
    else if (bits < 8) out[i] &= (0xff00 >>> bits) & 0xff;
  }
  return out;
}

/** The modified EUI-64 interface identifier of a 48-bit MAC (RFC 4291 §2.5.1, App. A). */
export function eui64(mac: number): Uint8Array {
  const m = new Uint8Array(6);
  const hi = Math.floor(mac / 4294967296);
  const lo = mac >>> 0;
  m[0] = hi >>> 8, m[1] = hi, m[2] = lo >>> 24, m[3] = lo >>> 16, m[4] = lo >>> 8, m[5] = lo;
  return new Uint8Array([m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]);
}

/** The solicited-node multicast address of `a` (RFC 4291 §2.7.1): ff02::1:ffXX:XXXX. */
export function solicited_node(a: Uint8Array): Uint8Array {
  return new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, a[13], a[14], a[15]]);
}

function solicited_mac(a: Uint8Array): number {
  return 0x3333ff000000 + ((a[13] << 16) | (a[14] << 8) | a[15]);
}

export class Iface implements IpOutput, Timed {
  readonly name: string;
  readonly mac: number;
  /** IPv4 link MTU; IPv6 uses `mtu6` (lowered by an RA's MTU option). */
  readonly mtu: number;
  mtu6: number;
  /** Hop limit for IPv6 (RA Cur Hop Limit may change it) and TTL for IPv4. */
  hopLimit = 64;
  readonly tx: Uint8Array = new Uint8Array(TX_HEADROOM + TX_MAX_SEGMENT);
  readonly stats: IfaceStats = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    ipIn: 0,
    ipOut: 0,
    drops: {},
  };
  onEchoReply: ((src: IpAddr, id: number, seq: number, payload: Uint8Array) => void) | undefined;
  /** Called when Duplicate Address Detection removed an address (RFC 4862 §5.4.5). */
  onDadFailed: ((addr: IpAddr) => void) | undefined;
  /**
   * Deliver IPv4 UDP to any destination address (as `broadcast`), for the DHCP client before it
   * has an address (RFC 2131 §4.1: the server may unicast to the offered address). Set by UDP.
   */
  acceptAnyDstUdp4 = false;
  /**
   * Fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5); its drops are in `reassembler.drops`.
   * Set to undefined to refuse fragments (counted "fragment").
   */
  reassembler: FragmentReassembler | undefined = new Reassembler();
  /** DNS servers learnt from RAs (RFC 8106). */
  rdnss: RdnssEntry[] = [];

  readonly #transmit: (frame: Uint8Array) => boolean;
  readonly #clock: Clock;
  readonly #rng: Rng;
  #addrs: AddrEntry[] = [];
  #routes: RouteEntry[] = [];
  readonly #neigh4: NeighbourCache;
  readonly #neigh6: NeighbourCache;
  readonly #pmtu = new PmtuCache();
  readonly #transports: (TransportInput | undefined)[] = new Array(256).fill(undefined);
  #ipId: number;
  #slaac = false;
  #rsCount = MAX_RTR_SOLICITATIONS;
  #rsDeadline = Infinity;
  #icmpTokens = ICMP_BURST;
  #icmpAt = 0;
  /** IPv4 addresses as numbers (address, mask) for the per-packet checks. */
  #v4: number[] = [];
  #v4mask: number[] = [];
  #mcastMacs = new Set<number>();
  #loop: Uint8Array[] = [];
  // Reused views and buffers (no per-packet allocation).
  readonly #eth = new EthernetView();
  readonly #arp = new ArpView();
  readonly #ip4 = new Ipv4View();
  readonly #ip6 = new Ipv6View();
  readonly #ip6b = new Ipv6View();
  readonly #icmp4 = new Icmpv4View();
  readonly #icmp6 = new Icmpv6View();
  /** Frames built outside `tx`: replies (NA, RS, DAD) in `#ctl`, solicitations in `#sol`. */
  readonly #ctl = new Uint8Array(512);
  readonly #sol = new Uint8Array(128);
  readonly #quote = new Uint8Array(1280);
  #frag: Uint8Array | undefined;
  readonly #f4: Ipv4Fields = {
    identification: 0,
    dont_fragment: false,
    more_fragments: false,
    fragment_offset: 0,
    ttl: 64,
    protocol: 0,
    src_addr: 0,
    dst_addr: 0,
  };
  /** The next hop chosen by `#route`: an address to resolve, or a fixed MAC (-1: resolve). */
  #hop: IpAddr = UNSPEC6;
  #hopMac = -1;
  /** The IP packet being delivered to a transport (for `inputPacket`). */
  #inBuf: Uint8Array | undefined;
  #inOff = 0;
  #inLen = 0;
  readonly #errSrc4 = new Uint8Array(4);
  readonly #errDst4 = new Uint8Array(4);
  readonly #errSrc6 = new Uint8Array(16);
  readonly #errDst6 = new Uint8Array(16);
  readonly #hooks4: NeighbourHooks;
  readonly #hooks6: NeighbourHooks;

  constructor(transmit: (frame: Uint8Array) => boolean, opts: IfaceOptions) {
    this.#transmit = transmit;
    this.#clock = opts.clock;
    this.#rng = opts.rng;
    this.mac = opts.mac;
    this.mtu = opts.mtu ?? 1500;
    this.mtu6 = this.mtu;
    this.name = opts.name ?? "eth0";
    this.#neigh4 = new NeighbourCache(opts.rng, {}, this.stats.drops);
    this.#neigh6 = new NeighbourCache(opts.rng, {}, this.stats.drops);
    // RFC 6864 / RFC 791: the Identification only needs to be unique per (src, dst, proto) for
    // the datagram's lifetime; a random start keeps restarted stacks from reusing recent ids.
    this.#ipId = opts.rng.u32() & 0xffff;
    this.#hooks4 = {
      solicit: (e, unicast) => this.#solicit4(e, unicast),
      failed: (e) => this.#neighFailed(e),
    };
    this.#hooks6 = {
      solicit: (e, unicast) => this.#solicit6(e, unicast),
      failed: (e) => this.#neighFailed(e),
    };
    this.#addrsChanged();
  }

  /** The injected clock and randomness, for the transports built on this interface. */
  get clock(): Clock {
    return this.#clock;
  }
  get rng(): Rng {
    return this.#rng;
  }

  /**
   * Whether `a` is a broadcast (limited or one of our subnets') or multicast address, i.e. a
   * destination that names no single host (RFC 1122 §3.2.2, RFC 4443 §2.4 (e)).
   */
  isBroadcast(a: IpAddr): boolean {
    if (a.length === 16) return a[0] === 0xff;
    const d = ipv4_at(a, 0);
    return d >>> 28 === 14 || this.#isBcastV4(d);
  }

  #drop(reason: string): false {
    const d = this.stats.drops;
    d[reason] = (d[reason] ?? 0) + 1;
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Configuration

  /**
   * Add an address. IPv4 addresses are usable at once and announced by a gratuitous ARP
   * (RFC 5227 §2.3); IPv6 ones are tentative until Duplicate Address Detection passes
   * (RFC 4862 §5.4). Lifetimes (ms from now) default to infinite.
   */
  addAddress(
    c: Cidr,
    opts: { origin?: AddrOrigin; validMs?: number; preferredMs?: number } = {},
  ): void {
    const now = this.#clock.now();
    this.#addAddr(
      c.addr,
      c.prefix,
      opts.origin ?? "static",
      now + (opts.validMs ?? Infinity),
      now + (opts.preferredMs ?? opts.validMs ?? Infinity),
      now,
    );
  }

  #addAddr(
    addr: IpAddr,
    prefix: number,
    origin: AddrOrigin,
    validUntil: number,
    preferredUntil: number,
    now: number,
  ): AddrEntry {
    let a = this.#findAddr(addr);
    if (a !== undefined) {
      a.prefix = prefix;
      a.origin = origin;
      a.validUntil = validUntil;
      a.preferredUntil = preferredUntil;
      this.#addrsChanged();
      return a;
    }
    a = {
      addr: addr.slice(),
      prefix,
      state: "preferred",
      origin,
      validUntil,
      preferredUntil,
      dadDeadline: Infinity,
    };
    this.#addrs.push(a);
    if (addr.length === 4) {
      this.#addrsChanged();
      this.#gratuitousArp(a.addr);
    } else {
      // RFC 4862 §5.4.2 (DupAddrDetectTransmits = 1, RetransTimer): the address stays tentative
      // for one retransmission interval after the NS. (The random initial delay of §5.4.2 is for
      // many hosts booting at once; weft's stacks come up one by one.)
      a.state = "tentative";
      a.dadDeadline = now + this.#neigh6.retransMs;
      this.#addrsChanged();
      this.#sendDadNs(a.addr);
    }
    return a;
  }

  removeAddress(a: IpAddr): void {
    const n = this.#addrs.length;
    this.#addrs = this.#addrs.filter((e) => !addr_equal(e.addr, a));
    if (this.#addrs.length !== n) this.#addrsChanged();
  }

  addresses(): Array<{ addr: IpAddr; prefix: number; state: AddrState; origin: AddrOrigin }> {
    return this.#addrs.map((a) => ({
      addr: a.addr.slice(),
      prefix: a.prefix,
      state: a.state,
      origin: a.origin,
    }));
  }

  /** A route to `dest` via gateway `via` (on-link without). Replaces one to the same prefix. */
  addRoute(dest: Cidr, via?: IpAddr): void {
    this.#upsertRoute(dest.addr, dest.prefix, via, Infinity, "static");
  }

  removeRoute(dest: Cidr): void {
    const d = masked(dest.addr, dest.prefix);
    this.#routes = this.#routes.filter((r) =>
      !(r.dest.prefix === dest.prefix && addr_equal(r.dest.addr, d))
    );
  }

  routes(): Array<{ dest: Cidr; via?: IpAddr }> {
    return this.#routes.map((r) => {
      const o: { dest: Cidr; via?: IpAddr } = {
        dest: { addr: r.dest.addr.slice(), prefix: r.dest.prefix },
      };
      if (r.via) o.via = r.via.slice();
      return o;
    });
  }

  #upsertRoute(
    addr: IpAddr,
    prefix: number,
    via: IpAddr | undefined,
    expires: number,
    origin: "static" | "ra",
  ): void {
    const d = masked(addr, prefix);
    for (const r of this.#routes) {
      if (
        r.dest.prefix === prefix && addr_equal(r.dest.addr, d) &&
        (origin === "static" || (r.via === undefined) === (via === undefined) &&
            (via === undefined || addr_equal(r.via!, via)))
      ) {
        r.via = via?.slice();
        r.expires = expires;
        r.origin = origin;
        return;
      }
    }
    const r: RouteEntry = { dest: { addr: d, prefix }, expires, origin };
    if (via) r.via = via.slice();
    this.#routes.push(r);
  }

  registerTransport(proto: number, t: TransportInput): void {
    this.#transports[proto & 255] = t;
  }

  neighbours(): Array<{ addr: IpAddr; mac: number | undefined; state: string }> {
    const out: Array<{ addr: IpAddr; mac: number | undefined; state: string }> = [];
    for (const c of [this.#neigh4, this.#neigh6]) {
      for (const e of c.entries()) {
        out.push({ addr: e.addr.slice(), mac: e.mac < 0 ? undefined : e.mac, state: e.state });
      }
    }
    return out;
  }

  /**
   * Turn on IPv6 stateless autoconfiguration (RFC 4862): a link-local address from the modified
   * EUI-64 of the MAC, DAD, then Router Solicitations (RFC 4861 §6.3.7); RAs then give default
   * routers, on-link prefixes, autonomous addresses, the link MTU and DNS servers.
   */
  enableSlaac(): void {
    this.#slaac = true;
    const ll = new Uint8Array(16);
    ll[0] = 0xfe;
    ll[1] = 0x80;
    ll.set(eui64(this.mac), 8);
    const now = this.#clock.now();
    const a = this.#findAddr(ll) ??
      this.#addAddr(ll, 64, "link-local", Infinity, Infinity, now);
    this.#rsCount = 0;
    // RSs start once the link-local address is usable (poll), or now if it already is.
    this.#rsDeadline = a.state === "tentative"
      ? Infinity
      : now + this.#rng.below(MAX_RTR_SOLICITATION_DELAY);
  }

  #findAddr(a: Uint8Array): AddrEntry | undefined {
    for (const e of this.#addrs) if (addr_equal(e.addr, a)) return e;
    return undefined;
  }

  /** The address entry equal to the 16 bytes at `o` of `b`. */
  #findAddrAt(b: Uint8Array, o: number, len: number): AddrEntry | undefined {
    for (const e of this.#addrs) if (e.addr.length === len && addr_equal_at(e.addr, b, o)) return e;
    return undefined;
  }

  #addrsChanged(): void {
    this.#v4 = [];
    this.#v4mask = [];
    const m = new Set<number>([MAC_ALL_NODES]);
    for (const a of this.#addrs) {
      if (a.addr.length === 4) {
        this.#v4.push(addr_v4(a.addr));
        this.#v4mask.push(mask_v4(a.prefix));
      } else {
        m.add(solicited_mac(a.addr)); // tentative ones too: DAD answers come there
      }
    }
    this.#mcastMacs = m;
  }

  #isLocalV4(d: number): boolean {
    const v = this.#v4;
    for (let i = 0; i < v.length; i++) if (v[i] === d) return true;
    return false;
  }

  /** A subnet-directed broadcast of one of our IPv4 prefixes (not for /31, /32: RFC 3021). */
  #isBcastV4(d: number): boolean {
    if (d === 0xffffffff) return true;
    const v = this.#v4, m = this.#v4mask;
    for (let i = 0; i < v.length; i++) {
      if (
        m[i] < 0xfffffffe && ((v[i] & m[i]) >>> 0) === ((d & m[i]) >>> 0) &&
        ((d | m[i]) >>> 0) === 0xffffffff
      ) {
        return true;
      }
    }
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // IpOutput

  isLocal(addr: IpAddr): boolean {
    for (const e of this.#addrs) {
      if (e.state !== "tentative" && addr_equal(e.addr, addr)) return true;
    }
    return false;
  }

  /**
   * RFC 6724 simplified: IPv4 — the address whose prefix holds the next hop, else the first.
   * IPv6 — link-local for link-local and link-scope multicast destinations; otherwise a global
   * address, preferred before deprecated (rule 3), on the destination's prefix first (rule 8's
   * longest match, coarsely); undefined when there is none (a link-local source cannot reach a
   * global destination) or no route.
   */
  sourceFor(dst: IpAddr): IpAddr | undefined {
    if (dst.length === 4) {
      if (this.#v4.length === 0 || !this.#route(dst)) return undefined;
      let first: IpAddr | undefined;
      for (const a of this.#addrs) {
        if (a.addr.length !== 4) continue;
        if (prefix_match(a.addr, this.#hop, a.prefix)) return a.addr;
        first ??= a.addr;
      }
      return first;
    }
    if (is_link_local6(dst) || (dst[0] === 0xff && (dst[1] & 15) <= 2)) {
      let dep: IpAddr | undefined;
      for (const a of this.#addrs) {
        if (a.addr.length !== 16 || !is_link_local6(a.addr)) continue;
        if (a.state === "preferred") return a.addr;
        if (a.state === "deprecated") dep ??= a.addr;
      }
      return dep;
    }
    if (!this.#route(dst)) return undefined;
    let best: AddrEntry | undefined, score = -1;
    for (const a of this.#addrs) {
      if (a.addr.length !== 16 || a.state === "tentative" || is_link_local6(a.addr)) continue;
      const s = (a.state === "preferred" ? 2 : 0) + (prefix_match(a.addr, dst, a.prefix) ? 1 : 0);
      if (s > score) [best, score] = [a, s];
    }
    return best?.addr;
  }

  maxSegmentTo(dst: IpAddr): number {
    const v6 = dst.length === 16;
    const p = this.#pmtu.get(dst, v6 ? this.mtu6 : this.mtu, this.#clock.now());
    return p - (v6 ? 40 : 20);
  }

  /** The current path MTU toward `dst` (for tests and the API). */
  pathMtu(dst: IpAddr): number {
    return this.#pmtu.get(dst, dst.length === 16 ? this.mtu6 : this.mtu, this.#clock.now());
  }

  sendIp(src: IpAddr, dst: IpAddr, proto: number, len: number): boolean {
    return this.#send(src, dst, proto, len, this.hopLimit);
  }

  /**
   * Choose the next hop for `dst` into `#hop` / `#hopMac`: broadcast and multicast map to fixed
   * MACs (RFC 1112 §6.4, RFC 2464 §7); otherwise the longest prefix among the on-link prefixes
   * of our addresses and the routes. False: no route.
   */
  #route(dst: IpAddr): boolean {
    this.#hop = dst;
    this.#hopMac = -1;
    if (dst.length === 4) {
      const d = ipv4_at(dst, 0);
      if (this.#isBcastV4(d)) {
        this.#hopMac = MAC_BROADCAST;
        return true;
      }
      if (d >>> 28 === 14) {
        this.#hopMac = 0x01005e000000 + (d & 0x7fffff);
        return true;
      }
    } else {
      if (dst[0] === 0xff) {
        this.#hopMac = 0x333300000000 +
          (((dst[12] << 24) | (dst[13] << 16) | (dst[14] << 8) | dst[15]) >>> 0);
        return true;
      }
      if (is_link_local6(dst)) return true;
    }
    let best = -1;
    for (const a of this.#addrs) {
      if (
        a.addr.length === dst.length && a.state !== "tentative" && a.prefix > best &&
        prefix_match(a.addr, dst, a.prefix)
      ) {
        best = a.prefix;
      }
    }
    for (const r of this.#routes) {
      if (
        r.dest.addr.length === dst.length && r.dest.prefix > best &&
        prefix_match(r.dest.addr, dst, r.dest.prefix)
      ) {
        best = r.dest.prefix;
        this.#hop = r.via ?? dst;
      }
    }
    return best >= 0;
  }

  #nextId(): number {
    const id = this.#ipId;
    this.#ipId = (id + 1) & 0xffff;
    return id;
  }

  #send(src: IpAddr, dst: IpAddr, proto: number, len: number, hop: number): boolean {
    if (!(len >= 0 && len <= TX_MAX_SEGMENT)) return this.#drop("bad_length");
    const v6 = dst.length === 16;
    if (src.length !== dst.length) return this.#drop("bad_addr");
    const tx = this.tx;
    if (this.isLocal(dst)) return this.#loopback(src, dst, proto, len, hop);
    if (!this.#route(dst)) return this.#drop("no_route");
    const now = this.#clock.now();
    if (v6) {
      const pmtu = this.#pmtu.get(dst, this.mtu6, now);
      if (40 + len > pmtu) return this.#drop("too_big");
      const o = TX_HEADROOM - 40;
      emit_ipv6(tx, o, 0, 0, len, proto, hop, src, dst);
      this.stats.ipOut++;
      return this.#link(tx, o, 40 + len, true, now);
    }
    const pmtu = this.#pmtu.get(dst, this.mtu, now);
    const f = this.#f4;
    f.identification = this.#nextId();
    // RFC 1191 §3: TCP probes the path (DF); other protocols may be fragmented on the way.
    f.dont_fragment = proto === IP_PROTO_TCP;
    f.more_fragments = false;
    f.fragment_offset = 0;
    f.ttl = hop;
    f.protocol = proto;
    f.src_addr = ipv4_at(src, 0);
    f.dst_addr = ipv4_at(dst, 0);
    if (20 + len > pmtu) {
      if (f.dont_fragment) return this.#drop("too_big");
      return this.#fragment4(len, pmtu, now);
    }
    const o = TX_HEADROOM - 20;
    emit_ipv4(tx, o, f, len);
    this.stats.ipOut++;
    return this.#link(tx, o, 20 + len, false, now);
  }

  /** RFC 791 §3.2 fragmentation of the datagram in `tx` (header fields already in `#f4`). */
  #fragment4(len: number, pmtu: number, now: number): boolean {
    const chunk = (pmtu - 20) & ~7;
    const b = this.#frag ??= new Uint8Array(14 + 20 + TX_MAX_SEGMENT);
    const f = this.#f4;
    let ok = true;
    for (let off = 0; off < len; off += chunk) {
      const n = Math.min(chunk, len - off);
      b.set(this.tx.subarray(TX_HEADROOM + off, TX_HEADROOM + off + n), 34);
      f.fragment_offset = off;
      f.more_fragments = off + n < len;
      emit_ipv4(b, 14, f, n);
      this.stats.ipOut++;
      if (!this.#link(b, 14, 20 + n, false, now)) ok = false;
    }
    f.more_fragments = false;
    f.fragment_offset = 0;
    return ok;
  }

  /**
   * Traffic to one of our own addresses: a copy of the packet is delivered from `poll`, not
   * synchronously, so a transport never re-enters itself from inside its own send.
   */
  #loopback(src: IpAddr, dst: IpAddr, proto: number, len: number, hop: number): boolean {
    if (this.#loop.length >= MAX_LOOPBACK) return this.#drop("loopback_full");
    const v6 = dst.length === 16;
    const hl = v6 ? 40 : 20;
    const p = new Uint8Array(hl + len);
    p.set(this.tx.subarray(TX_HEADROOM, TX_HEADROOM + len), hl);
    if (v6) emit_ipv6(p, 0, 0, 0, len, proto, hop, src, dst);
    else {
      const f = this.#f4;
      f.identification = this.#nextId();
      f.dont_fragment = true;
      f.ttl = hop;
      f.protocol = proto;
      f.src_addr = ipv4_at(src, 0);
      f.dst_addr = ipv4_at(dst, 0);
      emit_ipv4(p, 0, f, len);
    }
    this.#loop.push(p);
    return true;
  }

  /**
   * Put the Ethernet header in front of the IP packet `buf[ipOff, ipOff + ipLen)` (which has 14
   * bytes of room before it) toward `#hop` and transmit it, or queue it while the neighbour is
   * being resolved.
   */
  #link(buf: Uint8Array, ipOff: number, ipLen: number, v6: boolean, now: number): boolean {
    let mac = this.#hopMac;
    if (mac < 0) {
      const cache = v6 ? this.#neigh6 : this.#neigh4;
      const e = cache.lookup(now, this.#hop, v6 ? this.#hooks6 : this.#hooks4);
      if (e === undefined) return false; // counted "neigh_full"
      if (e.mac < 0) return cache.enqueue(e, buf, ipOff, ipLen);
      mac = e.mac;
    }
    const eo = ipOff - 14;
    emit_ethernet(buf, eo, mac, this.mac, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
    return this.#tx(buf.subarray(eo, ipOff + ipLen));
  }

  #tx(frame: Uint8Array): boolean {
    if (this.#transmit(frame)) {
      this.stats.framesOut++;
      this.stats.bytesOut += frame.length;
      this.txBlocked = false;
      return true;
    }
    this.txBlocked = true;
    return this.#drop("tx_rejected");
  }

  /** See IpOutput.txBlocked. */
  txBlocked = false;

  /**
   * An IP packet that reached our MAC but is addressed to none of our addresses (a host that uses
   * us as its next hop): a router forwards it, and returns true when it took it (it is borrowed:
   * copy to keep). Unset, or returning false, drops it as `ipv4_not_for_us` / `ipv6_not_for_us`.
   */
  onForeign: ((pkt: Uint8Array, off: number, len: number, version: 4 | 6) => boolean) | undefined;

  /**
   * Deliver unicast packets for any destination to the transports as if the address were ours
   * (a slirp-like gateway terminates its guests' TCP and UDP flows: a wildcard listener sees the
   * original destination as its local address and answers from it).
   */
  acceptAnyDestination = false;

  /**
   * Send a whole IP packet `pkt[off, off + len)` (header final: TTL / hop limit already lowered,
   * checksum fixed) out of this interface, routed by its destination like our own packets and
   * queued while the next hop's link address is resolved. For routers: one copy, into a buffer
   * with room for the Ethernet header. False when dropped (counted: no_route, too_big, …); a
   * router checks the MTU itself first so it can answer with ICMP too-big / frag-needed.
   */
  forwardPacket(pkt: Uint8Array, off: number, len: number): boolean {
    const v6 = pkt[off] >>> 4 === 6;
    const dst = v6 ? pkt.subarray(off + 24, off + 40) : pkt.subarray(off + 16, off + 20);
    if (len > (v6 ? this.mtu6 : this.mtu)) return this.#drop("too_big");
    if (!this.#route(dst)) return this.#drop("no_route");
    const b = this.#fwd ??= new Uint8Array(14 + 65535);
    b.set(pkt.subarray(off, off + len), 14);
    this.stats.ipOut++;
    return this.#link(b, 14, len, v6, this.#clock.now());
  }
  #fwd: Uint8Array | undefined;

  /** Send the packets that waited for `e`'s link-layer address. */
  #flush(e: NeighEntry): void {
    const q = e.pending;
    e.pending = [];
    const type = e.addr.length === 16 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
    for (const p of q) {
      emit_ethernet(p, 0, e.mac, this.mac, type);
      this.#tx(p);
    }
  }

  /**
   * Resolution failed: the queued packets are dropped (counted by the cache) and, since every
   * queued packet was sent by a local transport, that transport hears "host unreachable" at once
   * (RFC 1122 §3.3.1.4: the failure is reported up), so e.g. a TCP connect fails fast.
   */
  #neighFailed(e: NeighEntry): void {
    for (const p of e.pending) {
      let proto: number, src: Uint8Array, dst: Uint8Array, quote: Uint8Array;
      if (e.addr.length === 4) {
        const hl = (p[14] & 15) * 4;
        proto = p[23];
        src = p.subarray(26, 30);
        dst = p.subarray(30, 34);
        quote = p.subarray(14 + hl);
      } else {
        if (this.#ip6b.reset(p, 14) !== "ok") continue;
        proto = this.#ip6b.upper_protocol;
        src = p.subarray(22, 38);
        dst = p.subarray(38, 54);
        quote = p.subarray(this.#ip6b.upper_offset);
      }
      this.#transports[proto]?.icmpError?.("host_unreachable", src, dst, quote);
    }
  }

  #solicit4(e: NeighEntry, unicast: boolean): void {
    const b = this.#sol;
    const target = addr_v4(e.addr);
    let spa = 0;
    for (const a of this.#addrs) {
      if (a.addr.length !== 4) continue;
      if (prefix_match(a.addr, e.addr, a.prefix)) {
        spa = addr_v4(a.addr);
        break;
      }
      if (spa === 0) spa = addr_v4(a.addr);
    }
    emit_ethernet(b, 0, unicast ? e.mac : MAC_BROADCAST, this.mac, ETHERTYPE_ARP);
    emit_arp(b, 14, ARP_OP_REQUEST, this.mac, spa, 0, target);
    this.#tx(b.subarray(0, 42));
  }

  /** RFC 5227 §2.3 announcement: an ARP request with sender = target = our address. */
  #gratuitousArp(addr: IpAddr): void {
    const b = this.#sol;
    const v = addr_v4(addr);
    emit_ethernet(b, 0, MAC_BROADCAST, this.mac, ETHERTYPE_ARP);
    emit_arp(b, 14, ARP_OP_REQUEST, this.mac, v, 0, v);
    this.#tx(b.subarray(0, 42));
  }

  /** The source for an NS about `target` (RFC 4861 §7.2.2): an address on its prefix, or link-local. */
  #ndpSource(target: Uint8Array): IpAddr | undefined {
    let ll: IpAddr | undefined, any: IpAddr | undefined;
    for (const a of this.#addrs) {
      if (a.addr.length !== 16 || a.state === "tentative") continue;
      if (prefix_match(a.addr, target, a.prefix)) return a.addr;
      if (is_link_local6(a.addr)) ll ??= a.addr;
      any ??= a.addr;
    }
    return ll ?? any;
  }

  /** Neighbor Solicitation (RFC 4861 §7.2.2): multicast to the solicited-node group, or a unicast NUD probe. */
  #solicit6(e: NeighEntry, unicast: boolean): void {
    const src = this.#ndpSource(e.addr);
    if (src === undefined) {
      this.#drop("ndp_no_source");
      return;
    }
    const b = this.#sol;
    const dst = unicast ? e.addr : solicited_node(e.addr);
    const n = write_ndp_neighbor(b, 54, NDP_NEIGHBOR_SOLICIT, 0, e.addr, this.mac);
    icmpv6_fill_checksum(b, 54, n, pseudo_sum_ipv6_addrs(src, dst, IP_PROTO_ICMPV6));
    emit_ipv6(b, 14, 0, 0, n, IP_PROTO_ICMPV6, 255, src, dst);
    emit_ethernet(b, 0, unicast ? e.mac : solicited_mac(e.addr), this.mac, ETHERTYPE_IPV6);
    this.#tx(b.subarray(0, 54 + n));
  }

  /** DAD probe (RFC 4862 §5.4.2): NS from ::, to the solicited-node group, no SLLA option. */
  #sendDadNs(target: Uint8Array): void {
    const b = this.#ctl;
    const dst = solicited_node(target);
    const n = write_ndp_neighbor(b, 54, NDP_NEIGHBOR_SOLICIT, 0, target);
    icmpv6_fill_checksum(b, 54, n, pseudo_sum_ipv6_addrs(UNSPEC6, dst, IP_PROTO_ICMPV6));
    emit_ipv6(b, 14, 0, 0, n, IP_PROTO_ICMPV6, 255, UNSPEC6, dst);
    emit_ethernet(b, 0, solicited_mac(target), this.mac, ETHERTYPE_IPV6);
    this.#tx(b.subarray(0, 54 + n));
  }

  /** Router Solicitation (RFC 4861 §6.3.7), with SLLA when sent from a real address (§4.1). */
  #sendRs(): void {
    const b = this.#ctl;
    let src: IpAddr = UNSPEC6;
    for (const a of this.#addrs) {
      if (a.addr.length === 16 && a.state !== "tentative" && is_link_local6(a.addr)) src = a.addr;
    }
    let n = write_ndp_rs(b, 54);
    if (src !== UNSPEC6) n += write_ndp_lladdr_option(b, 54 + n, NDP_OPT_SOURCE_LLADDR, this.mac);
    icmpv6_fill_checksum(b, 54, n, pseudo_sum_ipv6_addrs(src, ALL_ROUTERS, IP_PROTO_ICMPV6));
    emit_ipv6(b, 14, 0, 0, n, IP_PROTO_ICMPV6, 255, src, ALL_ROUTERS);
    emit_ethernet(b, 0, 0x333300000002, this.mac, ETHERTYPE_IPV6);
    this.#tx(b.subarray(0, 54 + n));
  }

  // ---------------------------------------------------------------------------------------------
  // ICMP output

  /** Echo request (RFC 792 / RFC 4443 §4.1) to `dst`. False when it could not be sent. */
  ping(dst: IpAddr, id: number, seq: number, payload: Uint8Array): boolean {
    const src = this.sourceFor(dst);
    if (src === undefined) return this.#drop("no_route");
    const n = payload.length;
    if (n + 8 > TX_MAX_SEGMENT) return this.#drop("too_big");
    const tx = this.tx;
    tx.set(payload, TX_HEADROOM + 8);
    const rest = (((id & 0xffff) << 16) | (seq & 0xffff)) >>> 0;
    if (dst.length === 4) {
      emit_icmpv4(tx, TX_HEADROOM, ICMPV4_ECHO_REQUEST, 0, rest, n);
      return this.sendIp(src, dst, IP_PROTO_ICMP, 8 + n);
    }
    emit_icmpv6(
      tx,
      TX_HEADROOM,
      ICMPV6_ECHO_REQUEST,
      0,
      rest,
      n,
      pseudo_sum_ipv6_addrs(src, dst, IP_PROTO_ICMPV6),
    );
    return this.sendIp(src, dst, IP_PROTO_ICMPV6, 8 + n);
  }

  #icmpAllowed(now: number): boolean {
    this.#icmpTokens = Math.min(
      ICMP_BURST,
      this.#icmpTokens + (now - this.#icmpAt) * ICMP_PER_SEC / 1000,
    );
    this.#icmpAt = now;
    if (this.#icmpTokens < 1) return this.#drop("icmp_rate_limited");
    this.#icmpTokens -= 1;
    return true;
  }

  /**
   * Send an ICMP / ICMPv6 error about `offending` (a whole IP packet we received), following
   * RFC 1122 §3.2.2 / §4.2.3.9 and RFC 4443 §2.4 (e): never about a packet to a broadcast or
   * multicast address, from an address that does not name one host, about a non-first fragment
   * or about an ICMP error; rate-limited (§2.4 (f)). `too_big` carries `mtu`, by default our link
   * MTU; a router passes its egress interface's MTU (RFC 1191 §4 next-hop MTU, RFC 4443 §3.2).
   */
  sendIcmpError(kind: IcmpErrorKind, offending: Uint8Array, mtu?: number): void {
    const L = offending.length;
    if (L < 20) return void this.#drop("icmp_err_bad_packet");
    const tx = this.tx;
    if (offending[0] >>> 4 === 4) {
      const hl = (offending[0] & 15) * 4;
      if (hl < 20 || L < hl) return void this.#drop("icmp_err_bad_packet");
      const s = ipv4_at(offending, 12), d = ipv4_at(offending, 16);
      if (
        this.#isBcastV4(d) || d >>> 28 === 14 || s === 0 || this.#isBcastV4(s) || s >>> 28 >= 14 ||
        ((offending[6] & 0x1f) | offending[7]) !== 0
      ) return void this.#drop("icmp_err_suppressed");
      if (offending[9] === IP_PROTO_ICMP) {
        const t = L > hl ? offending[hl] : 3;
        if (t !== ICMPV4_ECHO_REQUEST && t !== ICMPV4_ECHO_REPLY) {
          return void this.#drop("icmp_err_suppressed");
        }
      }
      if (!this.#icmpAllowed(this.#clock.now())) return;
      this.#errSrc4.set(offending.subarray(16, 20));
      this.#errDst4.set(offending.subarray(12, 16));
      const [type, code] = ICMPV4_ERROR_TYPE_CODE[kind];
      const rest = kind === "too_big" ? (mtu ?? this.mtu) & 0xffff : 0;
      // RFC 1812 §4.3.2.3: quote as much as fits in a 576-byte datagram.
      const q = Math.min(L, 576 - 28);
      tx.set(offending.subarray(0, q), TX_HEADROOM + 8);
      emit_icmpv4(tx, TX_HEADROOM, type, code, rest, q);
      const src = this.#errorSource(this.#errSrc4, this.#errDst4);
      if (src === undefined) return void this.#drop("no_route");
      this.sendIp(src, this.#errDst4, IP_PROTO_ICMP, 8 + q);
      return;
    }
    if (offending[0] >>> 4 !== 6 || L < 40) return void this.#drop("icmp_err_bad_packet");
    const v = this.#ip6b;
    if (v.reset(offending, 0, L) !== "ok") return void this.#drop("icmp_err_bad_packet");
    if (
      offending[24] === 0xff || offending[8] === 0xff || addr_equal_at(UNSPEC6, offending, 8) ||
      v.fragment_offset !== 0
    ) return void this.#drop("icmp_err_suppressed");
    if (
      v.upper_protocol === IP_PROTO_ICMPV6 && (v.upper_len < 1 || offending[v.upper_offset] < 128)
    ) {
      return void this.#drop("icmp_err_suppressed");
    }
    if (!this.#icmpAllowed(this.#clock.now())) return;
    this.#errSrc6.set(offending.subarray(24, 40));
    this.#errDst6.set(offending.subarray(8, 24));
    const [type, code] = ICMPV6_ERROR_TYPE_CODE[kind];
    // Too Big carries the MTU; a Parameter Problem about an unknown Next Header points at the
    // fixed header's Next Header field, offset 6 (exact when there are no extensions).
    const rest = kind === "too_big" ? mtu ?? this.mtu6 : kind === "other" ? 6 : 0;
    // RFC 4443 §2.4 (c): as much as fits in the minimum MTU.
    const q = Math.min(L, 1280 - 48);
    tx.set(offending.subarray(0, q), TX_HEADROOM + 8);
    const src = this.#errorSource(this.#errSrc6, this.#errDst6);
    if (src === undefined) return void this.#drop("no_route");
    emit_icmpv6(
      tx,
      TX_HEADROOM,
      type,
      code,
      rest,
      q,
      pseudo_sum_ipv6_addrs(src, this.#errDst6, IP_PROTO_ICMPV6),
    );
    this.sendIp(src, this.#errDst6, IP_PROTO_ICMPV6, 8 + q);
  }

  /**
   * The source of an ICMP error about a packet from `peer` to `dst`: `dst` itself when it is one
   * of ours (RFC 1122 §3.2.2), else the address we would use to reach `peer`.
   */
  #errorSource(dst: IpAddr, peer: IpAddr): IpAddr | undefined {
    return this.isLocal(dst) ? dst : this.sourceFor(peer);
  }

  /**
   * The whole IP packet currently being delivered to a transport (a borrowed view), so that it
   * can answer with `sendIcmpError`; undefined outside `input`. For a reassembled datagram it is
   * the first fragment's header over the reassembled payload.
   */
  get inputPacket(): Uint8Array | undefined {
    const b = this.#inBuf;
    return b === undefined ? undefined : b.subarray(this.#inOff, this.#inOff + this.#inLen);
  }

  // ---------------------------------------------------------------------------------------------
  // Input

  /** The NIC sink: one Ethernet frame (borrowed). Never throws. */
  receiveFrame(frame: Uint8Array): void {
    const st = this.stats;
    st.framesIn++;
    st.bytesIn += frame.length;
    try {
      const eth = this.#eth;
      const r = eth.reset(frame);
      if (r !== "ok") return void this.#drop(ETH_DROP[r]);
      // weft's stacks sit on an access port; a tag means a misconfigured trunk.
      if (eth.tci >= 0) return void this.#drop("vlan_tagged");
      const dst = eth.dst_addr;
      if (dst !== this.mac && dst !== MAC_BROADCAST && !this.#mcastMacs.has(dst)) {
        return void this.#drop("not_for_us");
      }
      const off = eth.payload_offset, len = eth.payload_len;
      switch (eth.ethertype) {
        case ETHERTYPE_ARP:
          this.#arpInput(frame, off, len);
          break;
        case ETHERTYPE_IPV4:
          this.#ipv4Input(frame, off, len);
          break;
        case ETHERTYPE_IPV6:
          this.#ipv6Input(frame, off, len);
          break;
        default:
          this.#drop("ethertype");
      }
    } catch (_e) {
      // A transport's bug must not take the NIC down with it (ARCHITECTURE §5).
      this.#inBuf = undefined;
      this.#drop("internal_error");
    }
  }

  /** RFC 826 "Packet Reception", with the merge flag; replies for our addresses. */
  #arpInput(buf: Uint8Array, off: number, len: number): void {
    const a = this.#arp;
    const r = a.reset(buf, off, len);
    if (r !== "ok") return void this.#drop(ARP_DROP[r]);
    const sha = a.sender_hardware_addr;
    if (sha === this.mac) return void this.#drop("arp_own");
    const spa = a.sender_protocol_addr, tpa = a.target_protocol_addr, op = a.operation;
    if (this.#isLocalV4(spa)) return void this.#drop("arp_conflict"); // RFC 5227 §2.4: someone uses our address
    const forUs = this.#isLocalV4(tpa);
    // spa 0: an RFC 5227 probe, nothing to learn; group sha: bogus.
    if (spa !== 0 && !is_group_mac(sha)) {
      const e = this.#neigh4.learn(
        this.#clock.now(),
        buf.subarray(off + 14, off + 18),
        sha,
        op === ARP_OP_REPLY && forUs,
        forUs,
      );
      if (e !== undefined) this.#flush(e);
    }
    if (!forUs) return;
    if (op === ARP_OP_REQUEST) {
      const b = this.#ctl;
      emit_ethernet(b, 0, sha, this.mac, ETHERTYPE_ARP);
      emit_arp(b, 14, ARP_OP_REPLY, this.mac, tpa, sha, spa);
      this.#tx(b.subarray(0, 42));
    }
  }

  #deliver(
    proto: number,
    src: IpAddr,
    dst: IpAddr,
    buf: Uint8Array,
    off: number,
    len: number,
    bcast: boolean,
  ): void {
    const t = this.#transports[proto];
    if (t === undefined) {
      this.#drop("no_transport");
      // RFC 1122 §3.2.2.1: protocol unreachable (IPv6: Parameter Problem, RFC 8200 §4).
      const p = this.inputPacket;
      if (!bcast && p !== undefined) this.sendIcmpError("other", p);
      return;
    }
    this.stats.ipIn++;
    t.input(src, dst, buf, off, len, bcast);
  }

  #ipv4Input(buf: Uint8Array, off: number, len: number): void {
    const ip = this.#ip4;
    const r = ip.reset(buf, off, len);
    if (r !== "ok") return void this.#drop(V4_DROP[r]);
    const d = ip.dst_addr, s = ip.src_addr;
    let bcast = this.#isBcastV4(d);
    if (!bcast && !this.#isLocalV4(d)) {
      if (ip.protocol === IP_PROTO_UDP && this.acceptAnyDstUdp4) bcast = true;
      else if (this.acceptAnyDestination) { /* a transparent gateway terminates it */ }
      else if (this.onForeign?.(buf, off, ip.total_length, 4)) return;
      else return void this.#drop("ipv4_not_for_us");
    }
    // RFC 1122 §3.2.1.3: a source must name one host.
    if (s === 0xffffffff || s >>> 28 >= 14 || (s !== 0 && this.#isBcastV4(s))) {
      return void this.#drop("ipv4_bad_src");
    }
    const proto = ip.protocol;
    const src = buf.subarray(off + 12, off + 16), dst = buf.subarray(off + 16, off + 20);
    let pbuf = buf, poff = ip.payload_offset, plen = ip.payload_len;
    if (ip.is_fragment) {
      const re = this.reassembler;
      if (re === undefined) return void this.#drop("fragment");
      const whole = re.add(
        this.#clock.now(),
        src,
        dst,
        proto,
        ip.identification,
        ip.fragment_offset,
        ip.more_fragments,
        buf.subarray(poff, poff + plen),
      );
      if (whole === undefined) return;
      // For ICMP errors about it: the header (offset, MF cleared) over the whole payload.
      const hl = ip.header_len;
      const pkt = new Uint8Array(hl + whole.length);
      pkt.set(buf.subarray(off, off + hl));
      pkt.set(whole, hl);
      pkt[2] = pkt.length >>> 8;
      pkt[3] = pkt.length;
      pkt[6] &= 0x40;
      pkt[7] = 0;
      pbuf = pkt;
      poff = hl;
      plen = whole.length;
      this.#inBuf = pkt;
      this.#inOff = 0;
      this.#inLen = pkt.length;
    } else {
      this.#inBuf = buf;
      this.#inOff = off;
      this.#inLen = ip.total_length;
    }
    if (proto === IP_PROTO_ICMP) this.#icmp4Input(src, dst, pbuf, poff, plen, bcast);
    else this.#deliver(proto, src, dst, pbuf, poff, plen, bcast);
    this.#inBuf = undefined;
  }

  #icmp4Input(
    src: IpAddr,
    dst: IpAddr,
    buf: Uint8Array,
    off: number,
    len: number,
    bcast: boolean,
  ): void {
    const m = this.#icmp4;
    const r = m.reset(buf, off, len);
    if (r !== "ok") return void this.#drop(ICMP4_DROP[r]);
    this.stats.ipIn++;
    const type = m.type;
    if (type === ICMPV4_ECHO_REQUEST) {
      // RFC 1122 §3.2.2.6: an echo to a broadcast address MAY be silently discarded (smurf).
      if (bcast) return void this.#drop("icmp4_echo_bcast");
      const n = m.data_len;
      const tx = this.tx;
      tx.set(buf.subarray(m.data_offset, m.data_offset + n), TX_HEADROOM + 8);
      emit_icmpv4(
        tx,
        TX_HEADROOM,
        ICMPV4_ECHO_REPLY,
        0,
        ((m.identifier << 16) | m.sequence_number) >>> 0,
        n,
      );
      this.#errSrc4.set(dst);
      this.#errDst4.set(src);
      this.sendIp(this.#errSrc4, this.#errDst4, IP_PROTO_ICMP, 8 + n);
    } else if (type === ICMPV4_ECHO_REPLY) {
      this.onEchoReply?.(
        src,
        m.identifier,
        m.sequence_number,
        buf.subarray(m.data_offset, m.data_offset + m.data_len),
      );
    } else if (type === ICMPV4_DEST_UNREACHABLE || type === ICMPV4_TIME_EXCEEDED) {
      this.#icmp4Error(m);
    } else {
      this.#drop("icmp4_ignored");
    }
  }

  /** An ICMPv4 error: find the transport from the quoted header (RFC 1122 §3.2.2, §4.2.3.9). */
  #icmp4Error(m: Icmpv4View): void {
    const b = m.buf, q = m.data_offset, n = m.data_len;
    if (n < 28 || b[q] >>> 4 !== 4) return void this.#drop("icmp4_bad_quote");
    const hl = (b[q] & 15) * 4;
    if (hl < 20 || n < hl + 8) return void this.#drop("icmp4_bad_quote");
    // RFC 5927 §4.1: only errors about packets we sent.
    if (!this.#isLocalV4(ipv4_at(b, q + 12))) return void this.#drop("icmp4_not_ours");
    const innerSrc = b.subarray(q + 12, q + 16), innerDst = b.subarray(q + 16, q + 20);
    let kind: IcmpErrorKind = "other";
    if (m.type === ICMPV4_TIME_EXCEEDED) kind = "time_exceeded";
    else {
      switch (m.code) {
        case 0:
        case 6:
          kind = "net_unreachable";
          break;
        case 1:
        case 7:
          kind = "host_unreachable";
          break;
        case 3:
          kind = "port_unreachable";
          break;
        case 4: {
          kind = "too_big";
          let mtu = m.next_hop_mtu;
          if (mtu === 0) {
            // RFC 1191 §5: an old router; guess the next plateau below the datagram's length.
            const tl = (b[q + 2] << 8) | b[q + 3];
            mtu = 68;
            for (const p of PLATEAUS) {
              if (p < tl) {
                mtu = p;
                break;
              }
            }
          }
          this.#pmtu.update(innerDst, mtu, this.mtu, this.#clock.now());
          break;
        }
      }
    }
    this.#transports[b[q + 9]]?.icmpError?.(kind, innerSrc, innerDst, b.subarray(q + hl, q + n));
  }

  #ipv6Input(buf: Uint8Array, off: number, len: number): void {
    const ip = this.#ip6;
    const r = ip.reset(buf, off, len);
    if (r !== "ok") return void this.#drop(V6_DROP[r]);
    const so = off + 8, dOff = off + 24;
    let mcast = false, tentative = false;
    if (buf[dOff] === 0xff) {
      // All-nodes, or the solicited-node group of one of our addresses.
      if (addr_equal_at(ALL_NODES, buf, dOff)) mcast = true;
      else if (
        buf[dOff + 1] === 2 && buf[dOff + 11] === 1 && buf[dOff + 12] === 0xff &&
        (buf[dOff + 2] | buf[dOff + 3] | buf[dOff + 4] | buf[dOff + 5] | buf[dOff + 6] |
            buf[dOff + 7] | buf[dOff + 8] | buf[dOff + 9] | buf[dOff + 10]) === 0 &&
        this.#mcastMacs.has(
          0x3333ff000000 + ((buf[dOff + 13] << 16) | (buf[dOff + 14] << 8) | buf[dOff + 15]),
        )
      ) mcast = true;
      else return void this.#drop("ipv6_not_for_us");
    } else {
      const a = this.#findAddrAt(buf, dOff, 16);
      if (a === undefined) {
        if (this.acceptAnyDestination) { /* a transparent gateway terminates it */ }
        else if (this.onForeign?.(buf, off, 40 + ip.payload_length, 6)) return;
        else return void this.#drop("ipv6_not_for_us");
      } else tentative = a.state === "tentative";
    }
    if (buf[so] === 0xff) return void this.#drop("ipv6_bad_src");
    const src = buf.subarray(so, so + 16), dst = buf.subarray(dOff, dOff + 16);
    let proto = ip.upper_protocol, pbuf = buf, poff = ip.upper_offset, plen = ip.upper_len;
    let pkt = buf, pktOff = off, pktLen = 40 + ip.payload_length;
    if (ip.fragment_header_offset >= 0 && ip.is_fragment) {
      const re = this.reassembler;
      if (re === undefined) return void this.#drop("fragment");
      if (tentative) return void this.#drop("ipv6_tentative");
      const fh = ip.fragment_header_offset, end = off + 40 + ip.payload_length;
      proto = buf[fh];
      const whole = re.add(
        this.#clock.now(),
        src,
        dst,
        proto,
        ip.fragment_identification,
        ip.fragment_offset,
        ip.more_fragments,
        buf.subarray(fh + 8, end),
      );
      if (whole === undefined) return;
      // For ICMP errors: the fixed header (Next Header = the upper protocol) over the payload.
      pkt = new Uint8Array(40 + whole.length);
      pkt.set(buf.subarray(off, off + 40));
      pkt.set(whole, 40);
      pkt[4] = whole.length >>> 8;
      pkt[5] = whole.length;
      pkt[6] = proto;
      [pktOff, pktLen] = [0, pkt.length];
      pbuf = pkt;
      poff = 40;
      plen = whole.length;
    }
    this.#inBuf = pkt;
    this.#inOff = pktOff;
    this.#inLen = pktLen;
    if (proto === IP_PROTO_ICMPV6) {
      this.#icmp6Input(ip, src, dst, pbuf, poff, plen, mcast, tentative);
    } else if (tentative) this.#drop("ipv6_tentative"); // RFC 4862 §5.4: not ours yet
    else this.#deliver(proto, src, dst, pbuf, poff, plen, mcast);
    this.#inBuf = undefined;
  }

  #icmp6Input(
    ip: Ipv6View,
    src: Uint8Array,
    dst: Uint8Array,
    buf: Uint8Array,
    off: number,
    len: number,
    mcast: boolean,
    tentative: boolean,
  ): void {
    const m = this.#icmp6;
    const sum = pseudo_sum_ipv6_addrs(src, dst, IP_PROTO_ICMPV6);
    const r = m.reset(buf, off, len, sum);
    if (r !== "ok") return void this.#drop(ICMP6_DROP[r]);
    const type = m.type;
    if (tentative && type !== NDP_NEIGHBOR_SOLICIT && type !== NDP_NEIGHBOR_ADVERT) {
      return void this.#drop("ipv6_tentative");
    }
    this.stats.ipIn++;
    if (type >= NDP_ROUTER_SOLICIT && type <= 137) {
      // RFC 4861 §6.1, §7.1: a hop limit below 255 means the message crossed a router.
      if (ip.hop_limit !== 255) return void this.#drop("ndp_hop_limit");
      if (type === NDP_NEIGHBOR_SOLICIT) this.#nsInput(m, src, dst);
      else if (type === NDP_NEIGHBOR_ADVERT) this.#naInput(m);
      else if (type === NDP_ROUTER_ADVERT) this.#raInput(m, src);
      else this.#drop("ndp_ignored"); // RS (we are a host), Redirect (not implemented)
      return;
    }
    if (type === ICMPV6_ECHO_REQUEST) {
      // RFC 4443 §4.2: a reply to a multicast echo comes from a unicast address.
      const rs = mcast ? this.sourceFor(src) : dst;
      if (rs === undefined) return void this.#drop("no_route");
      this.#errSrc6.set(rs);
      this.#errDst6.set(src);
      const n = m.data_len;
      const tx = this.tx;
      tx.set(buf.subarray(m.data_offset, m.data_offset + n), TX_HEADROOM + 8);
      emit_icmpv6(
        tx,
        TX_HEADROOM,
        ICMPV6_ECHO_REPLY,
        0,
        ((m.identifier << 16) | m.sequence_number) >>> 0,
        n,
        pseudo_sum_ipv6_addrs(this.#errSrc6, this.#errDst6, IP_PROTO_ICMPV6),
      );
      this.sendIp(this.#errSrc6, this.#errDst6, IP_PROTO_ICMPV6, 8 + n);
    } else if (type === ICMPV6_ECHO_REPLY) {
      this.onEchoReply?.(
        src,
        m.identifier,
        m.sequence_number,
        buf.subarray(m.data_offset, m.data_offset + m.data_len),
      );
    } else if (type >= ICMPV6_DEST_UNREACHABLE && type <= ICMPV6_PARAM_PROBLEM) {
      this.#icmp6Error(m);
    } else {
      this.#drop("icmp6_ignored");
    }
  }

  /** An ICMPv6 error (RFC 4443 §3): update the PMTU (RFC 8201 §4) and tell the transport. */
  #icmp6Error(m: Icmpv6View): void {
    const b = m.buf, q = m.data_offset, n = m.data_len;
    if (n < 48 || b[q] >>> 4 !== 6) return void this.#drop("icmp6_bad_quote");
    if (this.#findAddrAt(b, q + 8, 16) === undefined) return void this.#drop("icmp6_not_ours");
    // Walk the quoted packet's extension headers. Its Payload Length exceeds the quote, so the
    // walk runs on a copy whose length says what was quoted (the frame is borrowed: never
    // written, ARCHITECTURE §4). Errors are rare; the copy is bounded by the quote (≤ 1232).
    const c = this.#quote;
    const qn = Math.min(n, c.length);
    c.set(b.subarray(q, q + qn));
    c[4] = (qn - 40) >>> 8;
    c[5] = qn - 40;
    const v = this.#ip6b;
    if (v.reset(c, 0, qn) !== "ok" || v.upper_len < 8) return void this.#drop("icmp6_bad_quote");
    const innerSrc = c.subarray(8, 24), innerDst = c.subarray(24, 40);
    let kind: IcmpErrorKind = "other";
    if (m.type === ICMPV6_PACKET_TOO_BIG) {
      kind = "too_big";
      this.#pmtu.update(innerDst, m.rest, this.mtu6, this.#clock.now());
    } else if (m.type === ICMPV6_TIME_EXCEEDED) kind = "time_exceeded";
    else if (m.type === ICMPV6_DEST_UNREACHABLE) {
      const c = m.code;
      kind = c === 0
        ? "net_unreachable"
        : c === 3
        ? "host_unreachable"
        : c === 4
        ? "port_unreachable"
        : "other";
    }
    const t = this.#transports[v.upper_protocol];
    t?.icmpError?.(kind, innerSrc, innerDst, c.subarray(v.upper_offset, qn));
  }

  /** Neighbor Solicitation (RFC 4861 §7.2.3, RFC 4862 §5.4.3). */
  #nsInput(m: Icmpv6View, src: Uint8Array, dst: Uint8Array): void {
    const fromDad = is_unspecified(src);
    const slla = m.source_lladdr;
    if (fromDad && (dst[0] !== 0xff || slla >= 0)) return void this.#drop("ndp_malformed");
    const a = this.#findAddrAt(m.buf, m.target_addr_offset, 16);
    if (a === undefined) return void this.#drop("ndp_ns_other");
    if (a.state === "tentative") {
      // Another node is doing DAD for our tentative address: it is a duplicate (§5.4.3).
      if (fromDad) this.#dadFailed(a);
      return;
    }
    const now = this.#clock.now();
    if (!fromDad && slla >= 0) {
      const e = this.#neigh6.learn(now, src, slla, false, true);
      if (e !== undefined) this.#flush(e);
    }
    // The answer: solicited and unicast, or to all-nodes for a DAD probe (§7.2.4).
    const to = fromDad ? ALL_NODES : this.#errDst6;
    if (!fromDad) this.#errDst6.set(src);
    const b = this.#ctl;
    const n = write_ndp_neighbor(
      b,
      54,
      NDP_NEIGHBOR_ADVERT,
      NDP_NA_OVERRIDE | (fromDad ? 0 : NDP_NA_SOLICITED),
      a.addr,
      this.mac,
    );
    icmpv6_fill_checksum(b, 54, n, pseudo_sum_ipv6_addrs(a.addr, to, IP_PROTO_ICMPV6));
    emit_ipv6(b, 14, 0, 0, n, IP_PROTO_ICMPV6, 255, a.addr, to);
    if (!this.#route(to)) return void this.#drop("no_route");
    this.#link(b, 14, 40 + n, true, now);
  }

  /** Neighbor Advertisement (RFC 4861 §7.2.5; DAD §5.4.4 of RFC 4862). */
  #naInput(m: Icmpv6View): void {
    const a = this.#findAddrAt(m.buf, m.target_addr_offset, 16);
    if (a !== undefined) {
      if (a.state === "tentative") this.#dadFailed(a);
      else this.#drop("ndp_na_conflict");
      return;
    }
    const target = m.target_addr;
    const e = this.#neigh6.get(target);
    if (e === undefined) return void this.#drop("ndp_na_unsolicited");
    const now = this.#clock.now();
    const tlla = m.target_lladdr, flags = m.na_flags;
    const solicited = (flags & NDP_NA_SOLICITED) !== 0;
    if (e.mac < 0) {
      if (tlla < 0) return;
      const f = this.#neigh6.learn(now, target, tlla, solicited, true);
      if (f !== undefined) this.#flush(f);
      return;
    }
    if (tlla >= 0 && tlla !== e.mac) {
      if ((flags & NDP_NA_OVERRIDE) !== 0) this.#neigh6.learn(now, target, tlla, solicited, true);
      else if (e.state === "reachable") e.state = "stale";
      return;
    }
    if (solicited) this.#neigh6.confirm(now, e);
  }

  /** Router Advertisement (RFC 4861 §6.3.4; prefixes per RFC 4862 §5.5.3; RDNSS RFC 8106 §5.1). */
  #raInput(m: Icmpv6View, src: Uint8Array): void {
    if (!this.#slaac) return void this.#drop("ra_ignored");
    if (!is_link_local6(src)) return void this.#drop("ndp_malformed"); // §6.1.2
    const now = this.#clock.now();
    this.#rsCount = MAX_RTR_SOLICITATIONS;
    this.#rsDeadline = Infinity;
    if (m.cur_hop_limit !== 0) this.hopLimit = m.cur_hop_limit;
    if (m.reachable_time !== 0 && m.reachable_time <= 3_600_000) {
      this.#neigh6.reachableMs = m.reachable_time;
    }
    if (m.retrans_timer !== 0 && m.retrans_timer <= 60_000) {
      this.#neigh6.retransMs = m.retrans_timer;
    }
    if (m.source_lladdr >= 0) {
      const e = this.#neigh6.learn(now, src, m.source_lladdr, false, true);
      if (e !== undefined) this.#flush(e);
    }
    // Default router list (§6.3.4): lifetime 0 removes the router.
    const lt = m.router_lifetime;
    if (lt === 0) {
      this.#routes = this.#routes.filter((r) =>
        !(r.origin === "ra" && r.dest.prefix === 0 && r.via && addr_equal(r.via, src))
      );
    } else this.#upsertRoute(UNSPEC6, 0, src, now + lt * 1000, "ra");
    const mtu = m.mtu;
    if (mtu >= 1280 && mtu <= this.mtu) this.mtu6 = mtu;
    const b = m.buf;
    let changed = false;
    for (let o = m.options_offset; o < m.options_end; o = ndp_next_option(b, o)) {
      if (b[o] === NDP_OPT_PREFIX_INFO) {
        changed = this.#prefixInfo(b, o, now) || changed;
      } else if (b[o] === NDP_OPT_RDNSS) {
        const life = ndp_rdnss_lifetime(b, o);
        for (let i = 0; i < ndp_rdnss_count(b, o); i++) {
          const ao = ndp_rdnss_addr_offset(o, i);
          const addr = b.slice(ao, ao + 16);
          const expires = life === 0xffffffff ? Infinity : now + life * 1000;
          const old = this.rdnss.find((x) => addr_equal(x.addr, addr));
          if (old) old.expires = expires;
          else if (life !== 0 && this.rdnss.length < MAX_RDNSS) this.rdnss.push({ addr, expires });
          if (life === 0) this.rdnss = this.rdnss.filter((x) => !addr_equal(x.addr, addr));
        }
      }
    }
    if (changed) this.#addrsChanged();
  }

  #prefixInfo(b: Uint8Array, o: number, now: number): boolean {
    const plen = ndp_prefix_length(b, o), flags = ndp_prefix_flags(b, o);
    const valid = ndp_prefix_valid_lifetime(b, o), pref = ndp_prefix_preferred_lifetime(b, o);
    const prefix = ndp_prefix(b, o);
    if (is_link_local6(prefix) || pref > valid || plen > 128) {
      return this.#drop("ra_bad_prefix");
    }
    const validUntil = valid === 0xffffffff ? Infinity : now + valid * 1000;
    const prefUntil = pref === 0xffffffff ? Infinity : now + pref * 1000;
    if ((flags & NDP_PREFIX_ON_LINK) !== 0) {
      if (valid === 0) {
        const d = masked(prefix, plen);
        this.#routes = this.#routes.filter((r) =>
          !(r.origin === "ra" && !r.via && r.dest.prefix === plen && addr_equal(r.dest.addr, d))
        );
      } else this.#upsertRoute(prefix, plen, undefined, validUntil, "ra");
    }
    if ((flags & NDP_PREFIX_AUTONOMOUS) === 0) return false;
    // RFC 4862 §5.5.3 (d): the prefix plus a 64-bit interface identifier must make 128 bits.
    if (plen !== 64) return this.#drop("ra_prefix_len");
    const addr = new Uint8Array(16);
    addr.set(prefix.subarray(0, 8));
    addr.set(eui64(this.mac), 8);
    const a = this.#findAddr(addr);
    if (a === undefined) {
      if (valid === 0) return false;
      this.#addAddr(addr, 64, "slaac", validUntil, prefUntil, now);
      return true;
    }
    if (a.origin !== "slaac") return false;
    a.preferredUntil = prefUntil;
    if (a.state === "deprecated" && prefUntil > now) a.state = "preferred";
    // (e): accept a valid lifetime above two hours or above the remaining one; else keep at
    // least two hours, so a forged RA cannot expire our address at once.
    const remaining = a.validUntil - now;
    if (valid * 1000 > TWO_HOURS || validUntil > a.validUntil) a.validUntil = validUntil;
    else if (remaining > TWO_HOURS) a.validUntil = now + TWO_HOURS;
    return false;
  }

  #dadFailed(a: AddrEntry): void {
    this.#drop("dad_failed");
    this.#addrs = this.#addrs.filter((e) => e !== a);
    this.#addrsChanged();
    this.onDadFailed?.(a.addr);
  }

  // ---------------------------------------------------------------------------------------------
  // Timers

  poll(now: number): number {
    let next = Infinity;
    // Loopback packets first: they were queued by sends since the last poll.
    if (this.#loop.length > 0) {
      const q = this.#loop;
      this.#loop = [];
      for (const p of q) {
        try {
          if (p[0] >>> 4 === 4) this.#ipv4Input(p, 0, p.length);
          else this.#ipv6Input(p, 0, p.length);
        } catch (_e) {
          this.#inBuf = undefined;
          this.#drop("internal_error");
        }
      }
      if (this.#loop.length > 0) next = now;
    }
    next = Math.min(
      next,
      this.#neigh4.poll(now, this.#hooks4),
      this.#neigh6.poll(now, this.#hooks6),
    );
    let changed = false;
    for (const a of [...this.#addrs]) {
      if (a.validUntil <= now) {
        this.#addrs = this.#addrs.filter((e) => e !== a);
        changed = true;
        continue;
      }
      if (a.state === "tentative") {
        if (a.dadDeadline <= now) {
          a.state = a.preferredUntil <= now ? "deprecated" : "preferred";
          a.dadDeadline = Infinity;
          changed = true;
          if (a.origin === "link-local" && this.#slaac && this.#rsCount < MAX_RTR_SOLICITATIONS) {
            this.#rsDeadline = now + this.#rng.below(MAX_RTR_SOLICITATION_DELAY);
          }
        } else next = Math.min(next, a.dadDeadline);
      }
      if (a.state === "preferred" && a.preferredUntil <= now) {
        a.state = "deprecated"; // RFC 4862 §5.5.4
        changed = true;
      }
      if (a.state === "preferred") next = Math.min(next, a.preferredUntil);
      next = Math.min(next, a.validUntil);
    }
    if (changed) this.#addrsChanged();
    if (this.#rsDeadline <= now) {
      this.#sendRs();
      this.#rsCount++;
      this.#rsDeadline = this.#rsCount < MAX_RTR_SOLICITATIONS
        ? now + RTR_SOLICITATION_INTERVAL
        : Infinity;
    }
    next = Math.min(next, this.#rsDeadline);
    if (this.#routes.some((r) => r.expires <= now)) {
      this.#routes = this.#routes.filter((r) => r.expires > now);
    }
    for (const r of this.#routes) next = Math.min(next, r.expires);
    if (this.rdnss.some((r) => r.expires <= now)) {
      this.rdnss = this.rdnss.filter((r) => r.expires > now);
    }
    for (const r of this.rdnss) next = Math.min(next, r.expires);
    next = Math.min(next, this.#pmtu.poll(now));
    if (this.reassembler !== undefined) next = Math.min(next, this.reassembler.poll(now));
    return next;
  }

  // ---------------------------------------------------------------------------------------------
  // Migration

  snapshot(): IfaceSnapshot {
    const cp = <T extends { addr: IpAddr }>(x: T): T => ({ ...x, addr: x.addr.slice() });
    return {
      version: 1,
      at: this.#clock.now(),
      mac: this.mac,
      mtu: this.mtu,
      mtu6: this.mtu6,
      hopLimit: this.hopLimit,
      ipId: this.#ipId,
      slaac: this.#slaac,
      rsCount: this.#rsCount,
      rsDeadline: this.#rsDeadline,
      addresses: this.#addrs.map(cp),
      routes: this.#routes.map((r) => {
        const o: RouteEntry = {
          dest: { addr: r.dest.addr.slice(), prefix: r.dest.prefix },
          expires: r.expires,
          origin: r.origin,
        };
        if (r.via) o.via = r.via.slice();
        return o;
      }),
      rdnss: this.rdnss.map(cp),
      neigh4: this.#neigh4.snapshot(),
      neigh6: this.#neigh6.snapshot(),
      pmtu: this.#pmtu.snapshot(),
    };
  }

  /**
   * Load a snapshot (from this or another host). Deadlines move by the difference of the clocks;
   * the MAC and MTU are the constructor's (the NIC's), packets queued for resolution are not
   * carried (their transports retransmit).
   */
  restore(snap: unknown): void {
    const s = snap as IfaceSnapshot;
    if (s === null || typeof s !== "object" || s.version !== 1) {
      throw new TypeError(`Cannot restore interface "${this.name}": expected a version 1 snapshot`);
    }
    const shift = this.#clock.now() - s.at;
    this.mtu6 = s.mtu6;
    this.hopLimit = s.hopLimit;
    this.#ipId = s.ipId;
    this.#slaac = s.slaac;
    this.#rsCount = s.rsCount;
    this.#rsDeadline = s.rsDeadline + shift;
    this.#addrs = s.addresses.map((a) => ({
      ...a,
      addr: new Uint8Array(a.addr),
      validUntil: a.validUntil + shift,
      preferredUntil: a.preferredUntil + shift,
      dadDeadline: a.dadDeadline + shift,
    }));
    this.#routes = s.routes.map((r) => {
      const o: RouteEntry = {
        dest: { addr: new Uint8Array(r.dest.addr), prefix: r.dest.prefix },
        expires: r.expires + shift,
        origin: r.origin,
      };
      if (r.via) o.via = new Uint8Array(r.via);
      return o;
    });
    this.rdnss = s.rdnss.map((r) => ({ addr: new Uint8Array(r.addr), expires: r.expires + shift }));
    this.#neigh4.restore(s.neigh4, shift);
    this.#neigh6.restore(s.neigh6, shift);
    this.#pmtu.restore(s.pmtu, shift);
    this.#addrsChanged();
  }
}
