/**
 * ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861): echo, the error messages, router
 * solicitation/advertisement and neighbor solicitation/advertisement with their options
 * (source/target link-layer address §4.6.1, prefix information §4.6.2, MTU §4.6.4) and RDNSS
 * (RFC 8106 §5.1).
 *
 * ```
 * |     Type      |     Code      |          Checksum             |
 * |                      Message Body                             |
 * ```
 *
 * The checksum covers the IPv6 pseudo-header (RFC 4443 §2.3): pass the IPv6 view's
 * `pseudo_sum()`. NDP validity (RFC 4861 §6.1, §7.1.1): `reset` checks code 0, the minimum
 * length, option lengths (a zero-length option is malformed) and, for NS/NA, a non-multicast
 * target; the Hop Limit 255 rule needs the IP header, so the interface layer checks it.
 */

import { checksum_finish, sum16 } from "./checksum.ts";
import { mac_at, write_mac } from "./ethernet.ts";
import { put32, u32 } from "./bytes.ts";

export const ICMPV6_HEADER_LEN = 8;
export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAM_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const NDP_ROUTER_SOLICIT = 133;
export const NDP_ROUTER_ADVERT = 134;
export const NDP_NEIGHBOR_SOLICIT = 135;
export const NDP_NEIGHBOR_ADVERT = 136;
export const NDP_REDIRECT = 137;
/** NDP option types. */
export const NDP_OPT_SOURCE_LLADDR = 1;
export const NDP_OPT_TARGET_LLADDR = 2;
export const NDP_OPT_PREFIX_INFO = 3;
export const NDP_OPT_MTU = 5;
export const NDP_OPT_RDNSS = 25;
/** Neighbor Advertisement flags (the high bits of the first body byte). */
export const NDP_NA_ROUTER = 0x80;
export const NDP_NA_SOLICITED = 0x40;
export const NDP_NA_OVERRIDE = 0x20;
/** Router Advertisement flags. */
export const NDP_RA_MANAGED = 0x80;
export const NDP_RA_OTHER = 0x40;
/** Prefix information flags. */
export const NDP_PREFIX_ON_LINK = 0x80;
export const NDP_PREFIX_AUTONOMOUS = 0x40;

/**
 * "bad_ndp": an NDP message with a non-zero code or a multicast target; "bad_option": an NDP
 * option of length 0 or running past the message, or a fixed-size option of the wrong size.
 */
export type Icmpv6Reason = "ok" | "truncated" | "bad_checksum" | "bad_ndp" | "bad_option";

/** Bytes before the options of each NDP message, 0 for other types. */
function ndp_fixed_len(type: number): number {
  switch (type) {
    case NDP_ROUTER_SOLICIT:
      return 8;
    case NDP_ROUTER_ADVERT:
      return 16;
    case NDP_NEIGHBOR_SOLICIT:
    case NDP_NEIGHBOR_ADVERT:
      return 24;
    case NDP_REDIRECT:
      return 40;
    default:
      return 0;
  }
}

/** A view of an ICMPv6 message. Reusable through `reset`. */
export class Icmpv6View {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;
  /** Bytes of the message. */
  length = 0;
  /** Offsets in `buf` of NDP options (-1 when absent); the first one of a repeated kind. */
  source_lladdr_offset = -1;
  target_lladdr_offset = -1;
  mtu_option_offset = -1;
  prefix_offset = -1;
  prefix_count = 0;
  rdnss_offset = -1;

  /**
   * Validate the message in `buf[offset, offset + length)` (the upper-layer length from the IPv6
   * view), with `pseudo_sum` the IPv6 pseudo-header sum without length (-1 skips the check).
   */
  reset(buf: Uint8Array, offset: number, length: number, pseudo_sum: number): Icmpv6Reason {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    this.source_lladdr_offset = this.target_lladdr_offset = this.mtu_option_offset = -1;
    this.prefix_offset = this.rdnss_offset = -1;
    this.prefix_count = 0;
    if (offset < 0 || length < ICMPV6_HEADER_LEN || offset + length > buf.length) {
      return "truncated";
    }
    if (pseudo_sum >= 0 && checksum_finish(sum16(buf, offset, length, pseudo_sum + length)) !== 0) {
      return "bad_checksum";
    }
    const type = buf[offset];
    const fixed = ndp_fixed_len(type);
    if (fixed === 0) return "ok";
    if (length < fixed) return "truncated";
    if (buf[offset + 1] !== 0) return "bad_ndp";
    if (
      (type === NDP_NEIGHBOR_SOLICIT || type === NDP_NEIGHBOR_ADVERT) && buf[offset + 8] === 0xff
    ) {
      return "bad_ndp";
    }
    const end = offset + length;
    for (let o = offset + fixed; o < end;) {
      if (o + 2 > end) return "bad_option";
      const t = buf[o], len = buf[o + 1] * 8;
      if (len === 0 || o + len > end) return "bad_option";
      if (t === NDP_OPT_SOURCE_LLADDR || t === NDP_OPT_TARGET_LLADDR) {
        if (len !== 8) return "bad_option"; // Ethernet: RFC 2464 §6
        if (t === NDP_OPT_SOURCE_LLADDR && this.source_lladdr_offset < 0) {
          this.source_lladdr_offset = o;
        }
        if (t === NDP_OPT_TARGET_LLADDR && this.target_lladdr_offset < 0) {
          this.target_lladdr_offset = o;
        }
      } else if (t === NDP_OPT_MTU) {
        if (len !== 8) return "bad_option";
        if (this.mtu_option_offset < 0) this.mtu_option_offset = o;
      } else if (t === NDP_OPT_PREFIX_INFO) {
        if (len !== 32) return "bad_option";
        if (this.prefix_offset < 0) this.prefix_offset = o;
        this.prefix_count++;
      } else if (t === NDP_OPT_RDNSS) {
        if (len < 24) return "bad_option"; // RFC 8106 §5.1: Length >= 3
        if (this.rdnss_offset < 0) this.rdnss_offset = o;
      }
      o += len;
    }
    return "ok";
  }

  get type(): number {
    return this.buf[this.offset];
  }
  get code(): number {
    return this.buf[this.offset + 1];
  }
  get checksum(): number {
    return (this.buf[this.offset + 2] << 8) | this.buf[this.offset + 3];
  }
  /** Echo identifier. */
  get identifier(): number {
    return (this.buf[this.offset + 4] << 8) | this.buf[this.offset + 5];
  }
  /** Echo sequence number. */
  get sequence_number(): number {
    return (this.buf[this.offset + 6] << 8) | this.buf[this.offset + 7];
  }
  /** Packet Too Big MTU / Parameter Problem pointer: the second 32-bit word. */
  get rest(): number {
    const b = this.buf, o = this.offset + 4;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  /** Offset of the data after the 8-byte header (echo data, an error's invoking packet). */
  get data_offset(): number {
    return this.offset + ICMPV6_HEADER_LEN;
  }
  get data_len(): number {
    return this.length - ICMPV6_HEADER_LEN;
  }
  /** Offset of the NS/NA/Redirect target address (16 bytes). */
  get target_addr_offset(): number {
    return this.offset + 8;
  }
  /** NS/NA target address as a borrowed 16-byte view. */
  get target_addr(): Uint8Array {
    return this.buf.subarray(this.offset + 8, this.offset + 24);
  }
  /** NA flags byte (R, S, O in the high bits). */
  get na_flags(): number {
    return this.buf[this.offset + 4] & 0xe0;
  }
  /** RA Cur Hop Limit. */
  get cur_hop_limit(): number {
    return this.buf[this.offset + 4];
  }
  /** RA flags byte (M, O, …). */
  get ra_flags(): number {
    return this.buf[this.offset + 5];
  }
  /** RA Router Lifetime, seconds. */
  get router_lifetime(): number {
    return (this.buf[this.offset + 6] << 8) | this.buf[this.offset + 7];
  }
  /** RA Reachable Time, milliseconds. */
  get reachable_time(): number {
    return u32(this.buf, this.offset + 8);
  }
  /** RA Retrans Timer, milliseconds. */
  get retrans_timer(): number {
    return u32(this.buf, this.offset + 12);
  }
  /** Source link-layer address option's MAC, or -1. */
  get source_lladdr(): number {
    const o = this.source_lladdr_offset;
    return o < 0 ? -1 : mac_at(this.buf, o + 2);
  }
  /** Target link-layer address option's MAC, or -1. */
  get target_lladdr(): number {
    const o = this.target_lladdr_offset;
    return o < 0 ? -1 : mac_at(this.buf, o + 2);
  }
  /** MTU option value, or -1. */
  get mtu(): number {
    const o = this.mtu_option_offset;
    return o < 0 ? -1 : u32(this.buf, o + 4);
  }
  /** Offset in `buf` where NDP options start, and where they end. */
  get options_offset(): number {
    return this.offset + ndp_fixed_len(this.type);
  }
  get options_end(): number {
    return this.offset + this.length;
  }
}

export function parse_icmpv6(
  buf: Uint8Array,
  offset: number,
  length: number,
  pseudo_sum: number,
): Icmpv6View | undefined {
  const v = new Icmpv6View();
  return v.reset(buf, offset, length, pseudo_sum) === "ok" ? v : undefined;
}

/** The offset of the NDP option after the one at `o` (of a view that validated). */
export function ndp_next_option(b: Uint8Array, o: number): number {
  return o + b[o + 1] * 8;
}
/** Prefix information option at `o`: Prefix Length. */
export function ndp_prefix_length(b: Uint8Array, o: number): number {
  return b[o + 2];
}
/** Prefix information option at `o`: the L/A flags byte. */
export function ndp_prefix_flags(b: Uint8Array, o: number): number {
  return b[o + 3];
}
/** Prefix information option at `o`: Valid Lifetime, seconds (0xffffffff infinite). */
export function ndp_prefix_valid_lifetime(b: Uint8Array, o: number): number {
  return u32(b, o + 4);
}
/** Prefix information option at `o`: Preferred Lifetime, seconds. */
export function ndp_prefix_preferred_lifetime(b: Uint8Array, o: number): number {
  return u32(b, o + 8);
}
/** Prefix information option at `o`: the prefix, a borrowed 16-byte view. */
export function ndp_prefix(b: Uint8Array, o: number): Uint8Array {
  return b.subarray(o + 16, o + 32);
}
/** RDNSS option at `o`: Lifetime, seconds. */
export function ndp_rdnss_lifetime(b: Uint8Array, o: number): number {
  return u32(b, o + 4);
}
/** RDNSS option at `o`: how many server addresses it holds. */
export function ndp_rdnss_count(b: Uint8Array, o: number): number {
  return (b[o + 1] - 1) >>> 1;
}
/** RDNSS option at `o`: offset of server address `i` (16 bytes). */
export function ndp_rdnss_addr_offset(o: number, i: number): number {
  return o + 8 + 16 * i;
}

/**
 * Compute and store the checksum of the `length`-byte ICMPv6 message at `offset`, with
 * `pseudo_sum` the IPv6 pseudo-header sum without length.
 */
export function icmpv6_fill_checksum(
  b: Uint8Array,
  offset: number,
  length: number,
  pseudo_sum: number,
): void {
  b[offset + 2] = 0;
  b[offset + 3] = 0;
  const c = checksum_finish(sum16(b, offset, length, pseudo_sum + length));
  b[offset + 2] = c >>> 8;
  b[offset + 3] = c;
}

/**
 * Write an ICMPv6 header (type, code, the 32-bit `rest`: identifier << 16 | sequence for echo,
 * MTU for Packet Too Big, pointer for Parameter Problem, 0 otherwise) for `data_len` bytes already
 * at `offset + 8`, with its checksum. Returns 8.
 */
export function emit_icmpv6(
  b: Uint8Array,
  offset: number,
  type: number,
  code: number,
  rest: number,
  data_len: number,
  pseudo_sum: number,
): number {
  b[offset] = type;
  b[offset + 1] = code;
  put32(b, offset + 4, rest);
  icmpv6_fill_checksum(b, offset, ICMPV6_HEADER_LEN + data_len, pseudo_sum);
  return ICMPV6_HEADER_LEN;
}

/**
 * Write the body of an NS (type 135) or NA (136; `flags` of NDP_NA_*) for `target_addr`, with a
 * source (NS) or target (NA) link-layer address option when `lladdr >= 0`. The checksum is left
 * for `icmpv6_fill_checksum`. Returns the message length.
 */
export function write_ndp_neighbor(
  b: Uint8Array,
  offset: number,
  type: number,
  flags: number,
  target_addr: Uint8Array,
  lladdr = -1,
): number {
  b[offset] = type;
  b[offset + 1] = 0;
  b[offset + 2] = 0;
  b[offset + 3] = 0;
  put32(b, offset + 4, type === NDP_NEIGHBOR_ADVERT ? (flags & 0xe0) << 24 : 0);
  b.set(target_addr.subarray(0, 16), offset + 8);
  if (lladdr < 0) return 24;
  const t = type === NDP_NEIGHBOR_SOLICIT ? NDP_OPT_SOURCE_LLADDR : NDP_OPT_TARGET_LLADDR;
  return 24 + write_ndp_lladdr_option(b, offset + 24, t, lladdr);
}

/** Write an RS body (options follow at +8). Returns 8. */
export function write_ndp_rs(b: Uint8Array, offset: number): number {
  b[offset] = NDP_ROUTER_SOLICIT;
  b[offset + 1] = 0;
  b[offset + 2] = 0;
  b[offset + 3] = 0;
  put32(b, offset + 4, 0);
  return 8;
}

/** Write an RA's fixed part (options follow at +16). Returns 16. */
export function write_ndp_ra(
  b: Uint8Array,
  offset: number,
  cur_hop_limit: number,
  flags: number,
  router_lifetime: number,
  reachable_time: number,
  retrans_timer: number,
): number {
  b[offset] = NDP_ROUTER_ADVERT;
  b[offset + 1] = 0;
  b[offset + 2] = 0;
  b[offset + 3] = 0;
  b[offset + 4] = cur_hop_limit;
  b[offset + 5] = flags;
  b[offset + 6] = router_lifetime >>> 8;
  b[offset + 7] = router_lifetime;
  put32(b, offset + 8, reachable_time);
  put32(b, offset + 12, retrans_timer);
  return 16;
}

/** Write a source (1) or target (2) link-layer address option. Returns 8. */
export function write_ndp_lladdr_option(
  b: Uint8Array,
  offset: number,
  type: number,
  mac: number,
): number {
  b[offset] = type;
  b[offset + 1] = 1;
  write_mac(b, offset + 2, mac);
  return 8;
}

/** Write an MTU option. Returns 8. */
export function write_ndp_mtu_option(b: Uint8Array, offset: number, mtu: number): number {
  b[offset] = NDP_OPT_MTU;
  b[offset + 1] = 1;
  b[offset + 2] = 0;
  b[offset + 3] = 0;
  put32(b, offset + 4, mtu);
  return 8;
}

/** Write a prefix information option (`flags` of NDP_PREFIX_*). Returns 32. */
export function write_ndp_prefix_option(
  b: Uint8Array,
  offset: number,
  prefix_length: number,
  flags: number,
  valid_lifetime: number,
  preferred_lifetime: number,
  prefix: Uint8Array,
): number {
  b[offset] = NDP_OPT_PREFIX_INFO;
  b[offset + 1] = 4;
  b[offset + 2] = prefix_length;
  b[offset + 3] = flags;
  put32(b, offset + 4, valid_lifetime);
  put32(b, offset + 8, preferred_lifetime);
  put32(b, offset + 12, 0);
  b.set(prefix.subarray(0, 16), offset + 16);
  return 32;
}

/** Write an RDNSS option for the `servers.length / 16` addresses in `servers`. */
export function write_ndp_rdnss_option(
  b: Uint8Array,
  offset: number,
  lifetime: number,
  servers: Uint8Array,
): number {
  const n = servers.length >>> 4;
  b[offset] = NDP_OPT_RDNSS;
  b[offset + 1] = 1 + 2 * n;
  b[offset + 2] = 0;
  b[offset + 3] = 0;
  put32(b, offset + 4, lifetime);
  b.set(servers.subarray(0, 16 * n), offset + 8);
  return 8 + 16 * n;
}
