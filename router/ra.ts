/**
 * Router Advertisements on one interface (RFC 4861 §6.2): unsolicited RAs at random intervals
 * between MinRtrAdvInterval and MaxRtrAdvInterval (the first three at most 16 s apart, §6.2.4),
 * and answers to Router Solicitations after a random delay of up to MAX_RA_DELAY_TIME, never
 * closer than MIN_DELAY_BETWEEN_RAS to the previous multicast RA (§6.2.6). Each RA carries the
 * source link-layer address, the link MTU and the interface's /64 with the on-link (L) and
 * autonomous (A) flags, so the hosts on that LAN configure addresses by SLAAC (RFC 4862 §5.5.3)
 * and take this router as their default router.
 *
 * Time comes from the injected Clock through `poll(now)`; randomness from the Rng. Frames go out
 * through `send` (the interface's NIC); RSs are seen by `observe(frame)`, which never throws and
 * counts what it drops.
 */

import type { Clock } from "../core/clock.ts";
import type { Rng } from "../core/rng.ts";
import type { Cidr, IpAddr } from "../stack/addr.ts";
import {
  checksum_fold,
  emit_ethernet,
  emit_ipv6,
  ETHERTYPE_IPV6,
  icmpv6_fill_checksum,
  IP_PROTO_ICMPV6,
  NDP_OPT_SOURCE_LLADDR,
  NDP_PREFIX_AUTONOMOUS,
  NDP_PREFIX_ON_LINK,
  NDP_ROUTER_SOLICIT,
  pseudo_sum_ipv6_addrs,
  sum16,
  write_ndp_lladdr_option,
  write_ndp_mtu_option,
  write_ndp_prefix_option,
  write_ndp_ra,
  write_ndp_rdnss_option,
} from "../stack/wire/mod.ts";

/** RFC 4861 §10 router constants. */
const MAX_INITIAL_RTR_ADVERT_INTERVAL = 16_000;
const MAX_INITIAL_RTR_ADVERTISEMENTS = 3;
const MIN_DELAY_BETWEEN_RAS = 3_000;
const MAX_RA_DELAY_TIME = 500;
/** RFC 4861 §6.2.1 defaults for the prefix: AdvValidLifetime 30 days, AdvPreferredLifetime 7. */
const VALID_LIFETIME = 2_592_000;
const PREFERRED_LIFETIME = 604_800;
const ALL_NODES = new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const MAC_ALL_NODES = 0x333300000001;
const MAC_ALL_ROUTERS = 0x333300000002;

export interface RaOptions {
  mac: number;
  /** The advertised prefix (a /64 for SLAAC). */
  prefix: Cidr;
  /** The link MTU to advertise. */
  mtu: number;
  /** The interface's link-local address once usable (RAs must come from one, §6.1.2). */
  source: () => IpAddr | undefined;
  send: (frame: Uint8Array) => boolean;
  clock: Clock;
  rng: Rng;
  /** MaxRtrAdvInterval in seconds (4..1800; default 600). */
  interval?: number;
  /** AdvDefaultLifetime in seconds (default 3 × interval, at most 9000). */
  lifetime?: number;
  /**
   * Recursive DNS servers to announce (RFC 8106 RDNSS option), e.g. a gateway's own address; its
   * lifetime is 2 × interval (§5.1: between MaxRtrAdvInterval and twice that).
   */
  dns?: IpAddr[];
}

export interface RaStats {
  sent: number;
  solicitations: number;
  drops: Record<string, number>;
}

export class RaSender {
  readonly stats: RaStats = { sent: 0, solicitations: 0, drops: {} };
  readonly #o: RaOptions;
  readonly #maxMs: number;
  readonly #minMs: number;
  readonly #lifetime: number;
  readonly #buf: Uint8Array;
  readonly #prefix: Uint8Array;
  #initialLeft = MAX_INITIAL_RTR_ADVERTISEMENTS;
  #next: number;
  #lastMulticast = -Infinity;
  #stopped = false;

  constructor(o: RaOptions) {
    this.#o = o;
    const max = Math.min(1800, Math.max(4, o.interval ?? 600));
    this.#maxMs = max * 1000;
    // §6.2.1: MinRtrAdvInterval default 0.33 × Max (at least 3 s).
    this.#minMs = Math.max(3_000, Math.floor(0.33 * this.#maxMs));
    this.#lifetime = Math.min(9000, o.lifetime ?? 3 * max);
    // RA header 16, source link-layer 8, MTU 8, prefix 32, RDNSS 8 + 16 per server.
    this.#buf = new Uint8Array(14 + 40 + 16 + 8 + 8 + 32 + 8 + 16 * (o.dns?.length ?? 0));
    this.#prefix = new Uint8Array(16);
    this.#prefix.set(o.prefix.addr.subarray(0, 8));
    this.#next = o.clock.now();
  }

  /** The next deadline (ms on the clock), for whoever drives the timers. */
  get nextAt(): number {
    return this.#stopped ? Infinity : this.#next;
  }

  /**
   * Look at a frame arriving on the interface (borrowed, never kept): a Router Solicitation
   * (§6.1.1: hop limit 255, code 0, valid checksum) brings the next RA forward. True if it was one.
   */
  observe(frame: Uint8Array): boolean {
    // Ethernet to all-routers, IPv6 with ICMPv6 directly (no extension headers), type RS.
    if (frame.length < 14 + 40 + 8 || frame[12] !== 0x86 || frame[13] !== 0xdd) return false;
    if (frame[20] !== IP_PROTO_ICMPV6 || frame[54] !== NDP_ROUTER_SOLICIT) return false;
    // 33:33:00:00:00:02 (RFC 2464 §7); the low 32 bits of a 48-bit MAC as an unsigned number.
    const low = ((frame[2] << 24) | (frame[3] << 16) | (frame[4] << 8) | frame[5]) >>> 0;
    const dmac = ((frame[0] << 8) | frame[1]) * 2 ** 32 + low;
    if (dmac !== MAC_ALL_ROUTERS) return false;
    const plen = (frame[18] << 8) | frame[19];
    if (plen < 8 || 54 + plen > frame.length) return this.#drop("rs_truncated");
    if (frame[21] !== 255 || frame[55] !== 0) return this.#drop("rs_invalid");
    const pseudo = pseudo_sum_ipv6_addrs(
      frame.subarray(22, 38),
      frame.subarray(38, 54),
      IP_PROTO_ICMPV6,
    );
    // A message with a valid checksum sums (pseudo-header included) to 0xffff (RFC 4443 §2.3).
    if (checksum_fold(sum16(frame, 54, plen, pseudo + plen)) !== 0xffff) {
      return this.#drop("rs_bad_checksum");
    }
    this.stats.solicitations++;
    const now = this.#o.clock.now();
    const at = Math.max(
      now + this.#o.rng.below(MAX_RA_DELAY_TIME + 1),
      this.#lastMulticast + MIN_DELAY_BETWEEN_RAS,
    );
    if (at < this.#next) this.#next = at;
    return true;
  }

  poll(now: number): number {
    if (this.#stopped) return Infinity;
    if (now >= this.#next) {
      const src = this.#o.source();
      if (src === undefined) {
        // The link-local address is still tentative (DAD): try again shortly.
        this.#next = now + 200;
        return this.#next;
      }
      this.#send(src);
      this.#lastMulticast = now;
      let interval = this.#minMs + this.#o.rng.below(this.#maxMs - this.#minMs + 1);
      if (this.#initialLeft > 0) {
        this.#initialLeft--;
        interval = Math.min(interval, MAX_INITIAL_RTR_ADVERT_INTERVAL);
      }
      this.#next = now + interval;
    }
    return this.#next;
  }

  /** §6.2.5: a final RA with router lifetime 0, so hosts stop using this router at once. */
  stop(): void {
    if (this.#stopped) return;
    const src = this.#o.source();
    if (src !== undefined) this.#send(src, 0);
    this.#stopped = true;
  }

  #send(src: IpAddr, lifetime = this.#lifetime): void {
    const b = this.#buf, o = this.#o;
    let n = write_ndp_ra(b, 54, 64, 0, lifetime, 0, 0);
    n += write_ndp_lladdr_option(b, 54 + n, NDP_OPT_SOURCE_LLADDR, o.mac);
    n += write_ndp_mtu_option(b, 54 + n, o.mtu);
    n += write_ndp_prefix_option(
      b,
      54 + n,
      o.prefix.prefix,
      NDP_PREFIX_ON_LINK | NDP_PREFIX_AUTONOMOUS,
      VALID_LIFETIME,
      PREFERRED_LIFETIME,
      this.#prefix,
    );
    if (o.dns && o.dns.length > 0) {
      const servers = new Uint8Array(16 * o.dns.length);
      o.dns.forEach((a, i) => servers.set(a, 16 * i));
      n += write_ndp_rdnss_option(
        b,
        54 + n,
        lifetime === 0 ? 0 : (2 * this.#maxMs) / 1000,
        servers,
      );
    }
    icmpv6_fill_checksum(b, 54, n, pseudo_sum_ipv6_addrs(src, ALL_NODES, IP_PROTO_ICMPV6));
    emit_ipv6(b, 14, 0, 0, n, IP_PROTO_ICMPV6, 255, src, ALL_NODES);
    emit_ethernet(b, 0, MAC_ALL_NODES, o.mac, ETHERTYPE_IPV6);
    if (o.send(b.subarray(0, 54 + n))) this.stats.sent++;
    else this.#drop("tx_rejected");
  }

  #drop(reason: string): false {
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + 1;
    return false;
  }
}
