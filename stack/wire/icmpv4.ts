/**
 * ICMP for IPv4 (RFC 792): echo request/reply, destination unreachable (with the next-hop MTU of
 * RFC 1191 §4 for code 4), time exceeded; other types parse with their generic fields.
 *
 * ```
 * |     Type      |     Code      |          Checksum             |
 * |   Identifier (echo) / unused / next-hop MTU   | Sequence Number (echo) |
 * |   data (echo) / invoking IP header + first 8 bytes of its data (errors)  |
 * ```
 */

import { checksum_finish, sum16 } from "./checksum.ts";

export const ICMPV4_HEADER_LEN = 8;
export const ICMPV4_ECHO_REPLY = 0;
export const ICMPV4_DEST_UNREACHABLE = 3;
export const ICMPV4_ECHO_REQUEST = 8;
export const ICMPV4_TIME_EXCEEDED = 11;
/** Destination unreachable codes (RFC 792, RFC 1191). */
export const ICMPV4_CODE_NET_UNREACHABLE = 0;
export const ICMPV4_CODE_HOST_UNREACHABLE = 1;
export const ICMPV4_CODE_PROTOCOL_UNREACHABLE = 2;
export const ICMPV4_CODE_PORT_UNREACHABLE = 3;
export const ICMPV4_CODE_FRAG_NEEDED = 4;

export type Icmpv4Reason = "ok" | "truncated" | "bad_checksum";

/** A view of an ICMPv4 message. Reusable through `reset`. */
export class Icmpv4View {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;
  /** Bytes of the message (the IP payload). */
  length = 0;

  /** Validate the message in `buf[offset, offset + length)`, checksum included. */
  reset(buf: Uint8Array, offset = 0, length = buf.length - offset): Icmpv4Reason {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    if (offset < 0 || length < ICMPV4_HEADER_LEN || offset + length > buf.length) {
      return "truncated";
    }
    if (checksum_finish(sum16(buf, offset, length)) !== 0) return "bad_checksum";
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
  /** Next-hop MTU of "fragmentation needed" (RFC 1191 §4); 0 from old routers. */
  get next_hop_mtu(): number {
    return (this.buf[this.offset + 6] << 8) | this.buf[this.offset + 7];
  }
  /** Offset of the data: echo payload, or the invoking packet of an error. */
  get data_offset(): number {
    return this.offset + ICMPV4_HEADER_LEN;
  }
  get data_len(): number {
    return this.length - ICMPV4_HEADER_LEN;
  }
  /** Whether the type is an error carrying an invoking packet (3, 4, 5, 11, 12). */
  get is_error(): boolean {
    const t = this.type;
    return t === 3 || t === 4 || t === 5 || t === 11 || t === 12;
  }
}

export function parse_icmpv4(
  buf: Uint8Array,
  offset = 0,
  length = buf.length - offset,
): Icmpv4View | undefined {
  const v = new Icmpv4View();
  return v.reset(buf, offset, length) === "ok" ? v : undefined;
}

/**
 * Write an ICMPv4 header at `offset` for `data_len` bytes of data already at `offset + 8` and
 * compute the checksum. `rest` is the second 32-bit word: identifier << 16 | sequence for echo,
 * next-hop MTU for code 4, 0 otherwise. Returns 8.
 */
export function emit_icmpv4(
  b: Uint8Array,
  offset: number,
  type: number,
  code: number,
  rest: number,
  data_len: number,
): number {
  const o = offset;
  b[o] = type;
  b[o + 1] = code;
  b[o + 2] = 0;
  b[o + 3] = 0;
  b[o + 4] = rest >>> 24;
  b[o + 5] = rest >>> 16;
  b[o + 6] = rest >>> 8;
  b[o + 7] = rest;
  const c = checksum_finish(sum16(b, o, ICMPV4_HEADER_LEN + data_len));
  b[o + 2] = c >>> 8;
  b[o + 3] = c;
  return ICMPV4_HEADER_LEN;
}
