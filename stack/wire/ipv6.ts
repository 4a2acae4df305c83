/**
 * IPv6 headers (RFC 8200 §3) and a walk over the extension headers (§4) to the upper layer.
 *
 * ```
 * |Version| Traffic Class |              Flow Label               |
 * |         Payload Length        |  Next Header  |   Hop Limit   |
 * |                 Source Address (16)                            |
 * |               Destination Address (16)                         |
 * ```
 *
 * `reset` walks Hop-by-Hop Options (0), Routing (43), Fragment (44), Destination Options (60) and
 * Authentication (51, RFC 4302: length in 4-octet units) and stops at the first other value, the
 * upper-layer protocol (`upper_protocol`, `upper_offset`). ESP (50) and No Next Header (59) are
 * upper layers for this purpose. Options inside the headers are not interpreted (a later slice
 * may act on e.g. Router Alert); the Fragment header's fields are exposed, reassembly is a later
 * slice. Jumbograms (RFC 2675, Payload Length 0) are not supported: Payload Length 0 reads as
 * an empty payload.
 */

import { pseudo_sum_ipv6 } from "./checksum.ts";

export const IPV6_HEADER_LEN = 40;
export const IPV6_NH_HOP_BY_HOP = 0;
export const IPV6_NH_ROUTING = 43;
export const IPV6_NH_FRAGMENT = 44;
export const IPV6_NH_AUTH = 51;
export const IPV6_NH_NO_NEXT = 59;
export const IPV6_NH_DEST_OPTS = 60;

/**
 * "bad_ext_order": a Hop-by-Hop header not right after the IPv6 header (RFC 8200 §4.1);
 * "bad_ext": an extension header running past the payload; "too_many_ext": more than
 * `MAX_EXT_HEADERS` (a bound on the work one packet may cause).
 */
export type Ipv6Reason =
  | "ok"
  | "truncated"
  | "bad_version"
  | "bad_ext"
  | "bad_ext_order"
  | "too_many_ext";

/** Extension headers walked at most per packet. */
export const MAX_EXT_HEADERS = 8;

/** A view of an IPv6 packet. Reusable through `reset`. */
export class Ipv6View {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;
  /** Protocol after the extension headers (6 TCP, 17 UDP, 58 ICMPv6, …). */
  upper_protocol = 0;
  /**
   * Offset in `buf` of the upper-layer header. In a fragment with a non-zero offset these bytes
   * are the middle of the upper-layer packet, not its header: check `is_fragment` first.
   */
  upper_offset = 0;
  /** Offset of the Fragment header, or -1 when there is none. */
  fragment_header_offset = -1;

  /** Validate the packet in `buf[offset, offset + length)` and walk its extension headers. */
  reset(buf: Uint8Array, offset = 0, length = buf.length - offset): Ipv6Reason {
    this.buf = buf;
    this.offset = offset;
    this.fragment_header_offset = -1;
    this.upper_protocol = 0;
    this.upper_offset = 0;
    if (offset < 0 || length < IPV6_HEADER_LEN || offset + length > buf.length) {
      return "truncated";
    }
    if (buf[offset] >>> 4 !== 6) return "bad_version";
    const pl = (buf[offset + 4] << 8) | buf[offset + 5];
    if (IPV6_HEADER_LEN + pl > length) return "truncated";
    const end = offset + IPV6_HEADER_LEN + pl;
    let nh = buf[offset + 6];
    let p = offset + IPV6_HEADER_LEN;
    for (let n = 0;; n++) {
      let len: number;
      if (nh === IPV6_NH_HOP_BY_HOP) {
        if (n !== 0) return "bad_ext_order";
        if (p + 2 > end) return "bad_ext";
        len = (buf[p + 1] + 1) * 8;
      } else if (nh === IPV6_NH_ROUTING || nh === IPV6_NH_DEST_OPTS) {
        if (p + 2 > end) return "bad_ext";
        len = (buf[p + 1] + 1) * 8;
      } else if (nh === IPV6_NH_FRAGMENT) {
        len = 8;
        this.fragment_header_offset = p;
      } else if (nh === IPV6_NH_AUTH) {
        if (p + 2 > end) return "bad_ext";
        len = (buf[p + 1] + 2) * 4;
      } else break;
      if (n >= MAX_EXT_HEADERS) return "too_many_ext";
      if (p + len > end) return "bad_ext";
      nh = buf[p];
      p += len;
    }
    this.upper_protocol = nh;
    this.upper_offset = p;
    return "ok";
  }

  get version(): number {
    return this.buf[this.offset] >>> 4;
  }
  get traffic_class(): number {
    return ((this.buf[this.offset] & 15) << 4) | (this.buf[this.offset + 1] >>> 4);
  }
  get flow_label(): number {
    const b = this.buf, o = this.offset;
    return ((b[o + 1] & 15) << 16) | (b[o + 2] << 8) | b[o + 3];
  }
  get payload_length(): number {
    return (this.buf[this.offset + 4] << 8) | this.buf[this.offset + 5];
  }
  /** The Next Header field of the fixed header (the first extension header, if any). */
  get next_header(): number {
    return this.buf[this.offset + 6];
  }
  get hop_limit(): number {
    return this.buf[this.offset + 7];
  }
  /** The source address as a 16-byte view into the packet (borrowed, like the packet). */
  get src_addr(): Uint8Array {
    return this.buf.subarray(this.offset + 8, this.offset + 24);
  }
  get dst_addr(): Uint8Array {
    return this.buf.subarray(this.offset + 24, this.offset + 40);
  }
  /** Offset in `buf` of the source address (destination at +16), for allocation-free use. */
  get addrs_offset(): number {
    return this.offset + 8;
  }
  /** Bytes of the upper-layer packet (from `upper_offset` to the end of the payload). */
  get upper_len(): number {
    return this.offset + IPV6_HEADER_LEN + this.payload_length - this.upper_offset;
  }
  /** Fragment Offset in bytes (0 without a Fragment header). */
  get fragment_offset(): number {
    const f = this.fragment_header_offset;
    return f < 0 ? 0 : ((this.buf[f + 2] << 8) | (this.buf[f + 3] & 0xf8));
  }
  /** The M flag of the Fragment header. */
  get more_fragments(): boolean {
    const f = this.fragment_header_offset;
    return f >= 0 && (this.buf[f + 3] & 1) === 1;
  }
  /** The Fragment header's Identification (0 without one). */
  get fragment_identification(): number {
    const f = this.fragment_header_offset, b = this.buf;
    return f < 0 ? 0 : ((b[f + 4] << 24) | (b[f + 5] << 16) | (b[f + 6] << 8) | b[f + 7]) >>> 0;
  }
  /** A real fragment (an atomic fragment, RFC 6946, with offset 0 and M clear, is not). */
  get is_fragment(): boolean {
    return this.more_fragments || this.fragment_offset !== 0;
  }
  /** The pseudo-header sum (without length) for the upper layer's checksum. */
  pseudo_sum(): number {
    return pseudo_sum_ipv6(this.buf, this.offset + 8, this.upper_protocol);
  }
}

export function parse_ipv6(
  buf: Uint8Array,
  offset = 0,
  length = buf.length - offset,
): Ipv6View | undefined {
  const v = new Ipv6View();
  return v.reset(buf, offset, length) === "ok" ? v : undefined;
}

/**
 * Write a 40-byte IPv6 header at `offset` (no extension headers); `src_addr`/`dst_addr` are
 * 16-byte arrays. Returns 40.
 */
export function emit_ipv6(
  b: Uint8Array,
  offset: number,
  traffic_class: number,
  flow_label: number,
  payload_length: number,
  next_header: number,
  hop_limit: number,
  src_addr: Uint8Array,
  dst_addr: Uint8Array,
): number {
  const o = offset;
  b[o] = 0x60 | (traffic_class >>> 4);
  b[o + 1] = ((traffic_class & 15) << 4) | ((flow_label >>> 16) & 15);
  b[o + 2] = flow_label >>> 8;
  b[o + 3] = flow_label;
  b[o + 4] = payload_length >>> 8;
  b[o + 5] = payload_length;
  b[o + 6] = next_header;
  b[o + 7] = hop_limit;
  b.set(src_addr.subarray(0, 16), o + 8);
  b.set(dst_addr.subarray(0, 16), o + 24);
  return IPV6_HEADER_LEN;
}

/** RFC 5952 text of the 16 address bytes at `offset` of `b` (API/log edge). */
export function format_ipv6(b: Uint8Array, offset = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[offset + 2 * i] << 8) | b[offset + 2 * i + 1]);
  let best = -1, best_len = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > best_len) [best, best_len] = [i, j - i];
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + best_len))}`;
}

/** The 16 bytes of IPv6 address `text` (no zone, no embedded IPv4), or undefined. */
export function parse_ipv6_addr(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const part = (s: string) => (s === "" ? [] : s.split(":"));
  const head = part(halves[0]), tail = halves.length === 2 ? part(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-f]{1,4}$/i.test(groups[i])) return undefined;
    const v = parseInt(groups[i], 16);
    out[2 * i] = v >>> 8;
    out[2 * i + 1] = v & 255;
  }
  return out;
}
