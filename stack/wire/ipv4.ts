/**
 * IPv4 headers (RFC 791 §3.1) with the header checksum. Fragments are recognised (flags and
 * offset parsed, `is_fragment`), not reassembled: reassembly is stateful and belongs to a later
 * slice (stack/storage).
 *
 * ```
 * |Version|  IHL  |DSCP(6)|ECN|          Total Length         |
 * |         Identification        |Flags|    Fragment Offset    |
 * |  Time to Live |    Protocol   |        Header Checksum        |
 * |                       Source Address                          |
 * |                    Destination Address                        |
 * |                    Options (IHL > 5)                          |
 * ```
 */

import { checksum_finish, pseudo_sum_ipv4, sum16 } from "./checksum.ts";

export const IPV4_HEADER_LEN = 20;
export const IP_PROTO_ICMP = 1;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;
export const IP_PROTO_ICMPV6 = 58;

/**
 * Why a packet was refused. "truncated": shorter than its header or its Total Length;
 * "bad_ihl": IHL < 5; "bad_length": Total Length < the header; "bad_checksum".
 */
export type Ipv4Reason =
  | "ok"
  | "truncated"
  | "bad_version"
  | "bad_ihl"
  | "bad_length"
  | "bad_checksum";

/** A view of an IPv4 packet. Reusable through `reset`. */
export class Ipv4View {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;
  /** Bytes of the header (IHL × 4). */
  header_len = 0;
  /** Total Length: header plus data; bytes after it (Ethernet padding) are not the packet's. */
  total_length = 0;

  /**
   * Validate the packet in `buf[offset, offset + length)`, including the header checksum (pass
   * `verify_checksum = false` when a NIC already did). Never throws.
   */
  reset(
    buf: Uint8Array,
    offset = 0,
    length = buf.length - offset,
    verify_checksum = true,
  ): Ipv4Reason {
    this.buf = buf;
    this.offset = offset;
    this.header_len = 0;
    this.total_length = 0;
    if (offset < 0 || length < IPV4_HEADER_LEN || offset + length > buf.length) {
      return "truncated";
    }
    const vi = buf[offset];
    if (vi >>> 4 !== 4) return "bad_version";
    const hl = (vi & 15) * 4;
    if (hl < IPV4_HEADER_LEN) return "bad_ihl";
    if (hl > length) return "truncated";
    const tl = (buf[offset + 2] << 8) | buf[offset + 3];
    if (tl < hl) return "bad_length";
    if (tl > length) return "truncated";
    if (verify_checksum && checksum_finish(sum16(buf, offset, hl)) !== 0) return "bad_checksum";
    this.header_len = hl;
    this.total_length = tl;
    return "ok";
  }

  get version(): number {
    return this.buf[this.offset] >>> 4;
  }
  /** Internet Header Length in 32-bit words. */
  get ihl(): number {
    return this.buf[this.offset] & 15;
  }
  /** Differentiated Services Code Point (RFC 2474). */
  get dscp(): number {
    return this.buf[this.offset + 1] >>> 2;
  }
  /** Explicit Congestion Notification (RFC 3168). */
  get ecn(): number {
    return this.buf[this.offset + 1] & 3;
  }
  get identification(): number {
    return (this.buf[this.offset + 4] << 8) | this.buf[this.offset + 5];
  }
  /** DF flag. */
  get dont_fragment(): boolean {
    return (this.buf[this.offset + 6] & 0x40) !== 0;
  }
  /** MF flag. */
  get more_fragments(): boolean {
    return (this.buf[this.offset + 6] & 0x20) !== 0;
  }
  /** Fragment Offset in bytes (the field counts 8-byte units). */
  get fragment_offset(): number {
    return (((this.buf[this.offset + 6] & 0x1f) << 8) | this.buf[this.offset + 7]) * 8;
  }
  /** A fragment of a larger datagram (MF set or a non-zero offset). */
  get is_fragment(): boolean {
    return this.more_fragments || this.fragment_offset !== 0;
  }
  get ttl(): number {
    return this.buf[this.offset + 8];
  }
  get protocol(): number {
    return this.buf[this.offset + 9];
  }
  get header_checksum(): number {
    return (this.buf[this.offset + 10] << 8) | this.buf[this.offset + 11];
  }
  get src_addr(): number {
    return ipv4_at(this.buf, this.offset + 12);
  }
  get dst_addr(): number {
    return ipv4_at(this.buf, this.offset + 16);
  }
  get payload_offset(): number {
    return this.offset + this.header_len;
  }
  get payload_len(): number {
    return this.total_length - this.header_len;
  }
  /** The pseudo-header sum (without length) for the upper layer's checksum. */
  pseudo_sum(): number {
    return pseudo_sum_ipv4(this.src_addr, this.dst_addr, this.protocol);
  }
}

export function parse_ipv4(
  buf: Uint8Array,
  offset = 0,
  length = buf.length - offset,
): Ipv4View | undefined {
  const v = new Ipv4View();
  return v.reset(buf, offset, length) === "ok" ? v : undefined;
}

/** The uint32 IPv4 address at `offset` of `b`. */
export function ipv4_at(b: Uint8Array, offset: number): number {
  return ((b[offset] << 24) | (b[offset + 1] << 16) | (b[offset + 2] << 8) | b[offset + 3]) >>> 0;
}

/** Write the uint32 `addr` at `offset` of `b`. */
export function write_ipv4(b: Uint8Array, offset: number, addr: number): void {
  b[offset] = addr >>> 24;
  b[offset + 1] = addr >>> 16;
  b[offset + 2] = addr >>> 8;
  b[offset + 3] = addr;
}

/** "a.b.c.d" (API/log edge). */
export function format_ipv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}

/** The uint32 of dotted-quad `text`, or undefined. */
export function parse_ipv4_addr(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let a = 0;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) return undefined;
    a = a * 256 + n;
  }
  return a;
}

/** The fields `emit_ipv4` writes. A caller on a hot path keeps one object and updates it. */
export interface Ipv4Fields {
  /** DSCP << 2 | ECN (the old TOS byte); 0 when absent. */
  tos?: number;
  identification: number;
  dont_fragment: boolean;
  more_fragments?: boolean;
  /** In bytes; must be a multiple of 8. */
  fragment_offset?: number;
  ttl: number;
  protocol: number;
  src_addr: number;
  dst_addr: number;
}

/**
 * Write a 20-byte header (no options) with its checksum at `offset`, for `payload_len` bytes of
 * payload that follow it. Returns 20.
 */
export function emit_ipv4(
  b: Uint8Array,
  offset: number,
  f: Ipv4Fields,
  payload_len: number,
): number {
  const o = offset;
  const tl = IPV4_HEADER_LEN + payload_len;
  const fo = ((f.fragment_offset ?? 0) / 8) |
    (f.dont_fragment ? 0x4000 : 0) | (f.more_fragments ? 0x2000 : 0);
  b[o] = 0x45;
  b[o + 1] = f.tos ?? 0;
  b[o + 2] = tl >>> 8;
  b[o + 3] = tl;
  b[o + 4] = f.identification >>> 8;
  b[o + 5] = f.identification;
  b[o + 6] = fo >>> 8;
  b[o + 7] = fo;
  b[o + 8] = f.ttl;
  b[o + 9] = f.protocol;
  b[o + 10] = 0;
  b[o + 11] = 0;
  write_ipv4(b, o + 12, f.src_addr);
  write_ipv4(b, o + 16, f.dst_addr);
  ipv4_fill_checksum(b, o);
  return IPV4_HEADER_LEN;
}

/** (Re)compute the header checksum of the IPv4 header at `offset` (after editing fields). */
export function ipv4_fill_checksum(b: Uint8Array, offset: number): void {
  b[offset + 10] = 0;
  b[offset + 11] = 0;
  const c = checksum_finish(sum16(b, offset, (b[offset] & 15) * 4));
  b[offset + 10] = c >>> 8;
  b[offset + 11] = c;
}
