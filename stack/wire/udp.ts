/**
 * UDP headers (RFC 768).
 *
 * ```
 * |          Source Port          |       Destination Port        |
 * |            Length             |           Checksum            |
 * ```
 *
 * The checksum covers a pseudo-header (pass the IP view's `pseudo_sum()`), the header and the
 * data. Over IPv4 a zero checksum means "none sent"; over IPv6 it is invalid (RFC 8200 §8.1).
 */

import { checksum_finish, sum16 } from "./checksum.ts";

export const UDP_HEADER_LEN = 8;

/** "bad_length": the Length field is below 8; "truncated": it runs past the IP payload. */
export type UdpReason = "ok" | "truncated" | "bad_length" | "bad_checksum";

/** A view of a UDP datagram. Reusable through `reset`. */
export class UdpView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;

  /**
   * Validate the datagram in `buf[offset, offset + length)` (length = the IP payload).
   * `pseudo_sum` is the IP layer's pseudo-header sum without length, or -1 to skip the checksum;
   * `ipv6` makes a zero checksum an error.
   */
  reset(
    buf: Uint8Array,
    offset: number,
    length: number,
    pseudo_sum: number,
    ipv6 = false,
  ): UdpReason {
    this.buf = buf;
    this.offset = offset;
    if (offset < 0 || length < UDP_HEADER_LEN || offset + length > buf.length) return "truncated";
    const ul = (buf[offset + 4] << 8) | buf[offset + 5];
    if (ul < UDP_HEADER_LEN) return "bad_length";
    if (ul > length) return "truncated";
    if (pseudo_sum >= 0) {
      const c = (buf[offset + 6] << 8) | buf[offset + 7];
      if (c === 0) {
        if (ipv6) return "bad_checksum";
      } else if (checksum_finish(sum16(buf, offset, ul, pseudo_sum + ul)) !== 0) {
        return "bad_checksum";
      }
    }
    return "ok";
  }

  get src_port(): number {
    return (this.buf[this.offset] << 8) | this.buf[this.offset + 1];
  }
  get dst_port(): number {
    return (this.buf[this.offset + 2] << 8) | this.buf[this.offset + 3];
  }
  /** Length of header plus data. */
  get length(): number {
    return (this.buf[this.offset + 4] << 8) | this.buf[this.offset + 5];
  }
  get checksum(): number {
    return (this.buf[this.offset + 6] << 8) | this.buf[this.offset + 7];
  }
  get payload_offset(): number {
    return this.offset + UDP_HEADER_LEN;
  }
  get payload_len(): number {
    return this.length - UDP_HEADER_LEN;
  }
}

export function parse_udp(
  buf: Uint8Array,
  offset: number,
  length: number,
  pseudo_sum: number,
  ipv6 = false,
): UdpView | undefined {
  const v = new UdpView();
  return v.reset(buf, offset, length, pseudo_sum, ipv6) === "ok" ? v : undefined;
}

/**
 * Write a UDP header at `offset` for `payload_len` bytes of data already at `offset + 8`, with
 * its checksum from `pseudo_sum` (the IP pseudo-header sum without length); a computed 0 is sent
 * as 0xffff (RFC 768). Returns 8.
 */
export function emit_udp(
  b: Uint8Array,
  offset: number,
  src_port: number,
  dst_port: number,
  payload_len: number,
  pseudo_sum: number,
): number {
  const o = offset, ul = UDP_HEADER_LEN + payload_len;
  b[o] = src_port >>> 8;
  b[o + 1] = src_port;
  b[o + 2] = dst_port >>> 8;
  b[o + 3] = dst_port;
  b[o + 4] = ul >>> 8;
  b[o + 5] = ul;
  b[o + 6] = 0;
  b[o + 7] = 0;
  const c = checksum_finish(sum16(b, o, ul, pseudo_sum + ul)) || 0xffff;
  b[o + 6] = c >>> 8;
  b[o + 7] = c;
  return UDP_HEADER_LEN;
}
