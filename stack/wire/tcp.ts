/**
 * TCP headers (RFC 9293 §3.1) and options: MSS (§3.2), window scale and timestamps (RFC 7323
 * §2, §3), SACK-permitted and SACK blocks (RFC 2018).
 *
 * ```
 * |          Source Port          |       Destination Port        |
 * |                        Sequence Number                        |
 * |                    Acknowledgment Number                      |
 * |  DOff |Rsrvd|C|E|U|A|P|R|S|F|             Window              |
 * |           Checksum            |         Urgent Pointer        |
 * |                    Options (DOff > 5)                         |
 * ```
 *
 * `reset` walks the options once and caches them (no allocation). Unknown options are skipped by
 * their length (RFC 9293 §3.1 "must be prepared to handle an illegal option length"); a known
 * option of the wrong length, or any option running past the header, refuses the segment.
 * `emit_tcp` writes options in the order and padding Linux uses, so re-emitting a captured Linux
 * segment is byte-exact.
 */

import { checksum_finish, sum16 } from "./checksum.ts";
import { put32, u32 } from "./bytes.ts";

export const TCP_HEADER_LEN = 20;
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;
export const TCP_OPT_EOL = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WINDOW_SCALE = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TIMESTAMPS = 8;
/** At most 4 SACK blocks fit the 40 option bytes (RFC 2018 §3). */
export const TCP_MAX_SACK_BLOCKS = 4;

/** "bad_data_offset": DOff < 5; "bad_option": an option that is cut off or of the wrong size. */
export type TcpReason = "ok" | "truncated" | "bad_data_offset" | "bad_option" | "bad_checksum";

/** A view of a TCP segment. Reusable through `reset`. */
export class TcpView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;
  /** Bytes of the segment (header + data). */
  length = 0;
  header_len = 0;
  /** MSS option value, or -1. */
  mss = -1;
  /** Window scale shift count, or -1 (values above 14 are kept; RFC 7323 §2.3 says use 14). */
  window_scale = -1;
  sack_permitted = false;
  has_timestamps = false;
  ts_val = 0;
  ts_ecr = 0;
  /** Number of SACK blocks, and the offset in `buf` of the first one. */
  sack_count = 0;
  sack_offset = -1;

  /**
   * Validate the segment in `buf[offset, offset + length)` (length = the IP payload) and its
   * options; `pseudo_sum` is the IP pseudo-header sum without length, or -1 to skip the check.
   */
  reset(buf: Uint8Array, offset: number, length: number, pseudo_sum: number): TcpReason {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    this.header_len = 0;
    this.mss = this.window_scale = this.sack_offset = -1;
    this.sack_permitted = this.has_timestamps = false;
    this.ts_val = this.ts_ecr = this.sack_count = 0;
    if (offset < 0 || length < TCP_HEADER_LEN || offset + length > buf.length) return "truncated";
    const hl = (buf[offset + 12] >>> 4) * 4;
    if (hl < TCP_HEADER_LEN) return "bad_data_offset";
    if (hl > length) return "truncated";
    if (pseudo_sum >= 0 && checksum_finish(sum16(buf, offset, length, pseudo_sum + length)) !== 0) {
      return "bad_checksum";
    }
    this.header_len = hl;
    const end = offset + hl;
    for (let o = offset + TCP_HEADER_LEN; o < end;) {
      const kind = buf[o];
      if (kind === TCP_OPT_EOL) break;
      if (kind === TCP_OPT_NOP) {
        o++;
        continue;
      }
      if (o + 2 > end) return "bad_option";
      const len = buf[o + 1];
      if (len < 2 || o + len > end) return "bad_option";
      switch (kind) {
        case TCP_OPT_MSS:
          if (len !== 4) return "bad_option";
          this.mss = (buf[o + 2] << 8) | buf[o + 3];
          break;
        case TCP_OPT_WINDOW_SCALE:
          if (len !== 3) return "bad_option";
          this.window_scale = buf[o + 2];
          break;
        case TCP_OPT_SACK_PERMITTED:
          if (len !== 2) return "bad_option";
          this.sack_permitted = true;
          break;
        case TCP_OPT_SACK:
          if ((len - 2) % 8 !== 0 || len === 2) return "bad_option";
          this.sack_count = (len - 2) / 8;
          this.sack_offset = o + 2;
          break;
        case TCP_OPT_TIMESTAMPS:
          if (len !== 10) return "bad_option";
          this.has_timestamps = true;
          this.ts_val = u32(buf, o + 2);
          this.ts_ecr = u32(buf, o + 6);
          break;
      }
      o += len;
    }
    return "ok";
  }

  get src_port(): number {
    return (this.buf[this.offset] << 8) | this.buf[this.offset + 1];
  }
  get dst_port(): number {
    return (this.buf[this.offset + 2] << 8) | this.buf[this.offset + 3];
  }
  get seq_number(): number {
    return u32(this.buf, this.offset + 4);
  }
  get ack_number(): number {
    return u32(this.buf, this.offset + 8);
  }
  /** Data Offset in 32-bit words. */
  get data_offset(): number {
    return this.buf[this.offset + 12] >>> 4;
  }
  /** The control bits CWR…FIN (TCP_* masks). */
  get flags(): number {
    return this.buf[this.offset + 13];
  }
  get window(): number {
    return (this.buf[this.offset + 14] << 8) | this.buf[this.offset + 15];
  }
  get checksum(): number {
    return (this.buf[this.offset + 16] << 8) | this.buf[this.offset + 17];
  }
  get urgent_pointer(): number {
    return (this.buf[this.offset + 18] << 8) | this.buf[this.offset + 19];
  }
  get payload_offset(): number {
    return this.offset + this.header_len;
  }
  get payload_len(): number {
    return this.length - this.header_len;
  }
  /** Left edge of SACK block `i` (< sack_count). */
  sack_left(i: number): number {
    return u32(this.buf, this.sack_offset + 8 * i);
  }
  /** Right edge of SACK block `i`. */
  sack_right(i: number): number {
    return u32(this.buf, this.sack_offset + 8 * i + 4);
  }
}

export function parse_tcp(
  buf: Uint8Array,
  offset: number,
  length: number,
  pseudo_sum: number,
): TcpView | undefined {
  const v = new TcpView();
  return v.reset(buf, offset, length, pseudo_sum) === "ok" ? v : undefined;
}

/** The fields `emit_tcp` writes. A hot path keeps one object and updates it. */
export interface TcpFields {
  src_port: number;
  dst_port: number;
  seq_number: number;
  ack_number: number;
  flags: number;
  window: number;
  urgent_pointer?: number;
  /** Options; absent or negative means "not sent". */
  mss?: number;
  window_scale?: number;
  sack_permitted?: boolean;
  /** Timestamps are sent when `ts_val` is a number. */
  ts_val?: number;
  ts_ecr?: number;
  /** SACK blocks as [left0, right0, left1, right1, …]; `sack_count` of them are sent. */
  sack_blocks?: ArrayLike<number>;
  sack_count?: number;
}

/** Bytes of the options `emit_tcp` writes for `f` (a multiple of 4). */
export function tcp_options_len(f: TcpFields): number {
  let n = 0;
  if ((f.mss ?? -1) >= 0) n += 4;
  if (f.ts_val !== undefined) n += 12;
  else if (f.sack_permitted) n += 4;
  if ((f.window_scale ?? -1) >= 0) n += 4;
  const sc = Math.min(f.sack_count ?? 0, TCP_MAX_SACK_BLOCKS);
  if (sc > 0) n += 4 + 8 * sc;
  return n;
}

/**
 * Write a TCP header with options at `offset` for `payload_len` bytes of data that follow the
 * header, and compute the checksum (`pseudo_sum`: the IP pseudo-header sum without length).
 * Option layout as Linux's tcp_options_write: MSS; SACK-permitted+timestamps (or NOP NOP
 * timestamps, or NOP NOP SACK-permitted); NOP window scale; NOP NOP SACK. The caller keeps the
 * total within 40 bytes (with timestamps, at most 3 SACK blocks). Returns the header length.
 */
export function emit_tcp(
  b: Uint8Array,
  offset: number,
  f: TcpFields,
  payload_len: number,
  pseudo_sum: number,
): number {
  const o = offset;
  let p = o + TCP_HEADER_LEN;
  if ((f.mss ?? -1) >= 0) {
    b[p] = TCP_OPT_MSS;
    b[p + 1] = 4;
    b[p + 2] = f.mss! >>> 8;
    b[p + 3] = f.mss!;
    p += 4;
  }
  if (f.ts_val !== undefined) {
    b[p] = f.sack_permitted ? TCP_OPT_SACK_PERMITTED : TCP_OPT_NOP;
    b[p + 1] = f.sack_permitted ? 2 : TCP_OPT_NOP;
    b[p + 2] = TCP_OPT_TIMESTAMPS;
    b[p + 3] = 10;
    put32(b, p + 4, f.ts_val);
    put32(b, p + 8, f.ts_ecr ?? 0);
    p += 12;
  } else if (f.sack_permitted) {
    b[p] = TCP_OPT_NOP;
    b[p + 1] = TCP_OPT_NOP;
    b[p + 2] = TCP_OPT_SACK_PERMITTED;
    b[p + 3] = 2;
    p += 4;
  }
  if ((f.window_scale ?? -1) >= 0) {
    b[p] = TCP_OPT_NOP;
    b[p + 1] = TCP_OPT_WINDOW_SCALE;
    b[p + 2] = 3;
    b[p + 3] = f.window_scale!;
    p += 4;
  }
  const sc = Math.min(f.sack_count ?? 0, TCP_MAX_SACK_BLOCKS);
  if (sc > 0 && f.sack_blocks) {
    b[p] = TCP_OPT_NOP;
    b[p + 1] = TCP_OPT_NOP;
    b[p + 2] = TCP_OPT_SACK;
    b[p + 3] = 2 + 8 * sc;
    p += 4;
    for (let i = 0; i < 2 * sc; i++, p += 4) put32(b, p, f.sack_blocks[i]);
  }
  const hl = p - o;
  b[o] = f.src_port >>> 8;
  b[o + 1] = f.src_port;
  b[o + 2] = f.dst_port >>> 8;
  b[o + 3] = f.dst_port;
  put32(b, o + 4, f.seq_number);
  put32(b, o + 8, f.ack_number);
  b[o + 12] = (hl / 4) << 4;
  b[o + 13] = f.flags;
  b[o + 14] = f.window >>> 8;
  b[o + 15] = f.window;
  b[o + 16] = 0;
  b[o + 17] = 0;
  b[o + 18] = (f.urgent_pointer ?? 0) >>> 8;
  b[o + 19] = f.urgent_pointer ?? 0;
  tcp_fill_checksum(b, o, hl + payload_len, pseudo_sum);
  return hl;
}

/** (Re)compute the checksum of the `length`-byte segment at `offset`. */
export function tcp_fill_checksum(
  b: Uint8Array,
  offset: number,
  length: number,
  pseudo_sum: number,
): void {
  b[offset + 16] = 0;
  b[offset + 17] = 0;
  const c = checksum_finish(sum16(b, offset, length, pseudo_sum + length));
  b[offset + 16] = c >>> 8;
  b[offset + 17] = c;
}
