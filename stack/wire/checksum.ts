/**
 * The Internet checksum (RFC 1071) and its pseudo-headers, plus incremental update (RFC 1624).
 *
 * Sums are kept *unfolded* as plain numbers while accumulating (a double holds any sum of 16-bit
 * words of a 64 KiB packet exactly) and folded once at the end, so no step allocates. A caller
 * builds a sum from parts (`pseudo_sum_ipv4` + `sum16` over the segment) and finishes it with
 * `checksum_finish`. A received packet is valid when the sum over it, including its checksum
 * field, folds to 0xffff (RFC 1071 §1 (4)), i.e. `checksum_finish(...) === 0`.
 */

/**
 * The one's complement accumulation (RFC 1071 §4.1) of `len` bytes of `b` from `offset`, added to
 * `initial`. Unfolded; an odd last byte is padded with zero on the right. Bytes beyond the buffer
 * count as zero, so this never throws.
 *
 * Long runs go four bytes per load (`sum_words`): a bulk sender or receiver spends most of its
 * per-byte time here (measured: 28 % of the gateway's CPU on a 40 MiB GET at MTU 65,520 with the
 * byte loop, ~1.8 GB/s; the word loop runs at ~5 GB/s on the same machine).
 */
export function sum16(b: Uint8Array, offset: number, len: number, initial = 0): number {
  if (len >= MIN_WORDS_LEN && LITTLE_ENDIAN && offset >= 0 && offset + len <= b.length) {
    const abs = b.byteOffset + offset;
    if ((abs & 1) === 0) return sum_words(b, offset, len, abs, initial);
  }
  return sum_bytes(b, offset, len, initial);
}

function sum_bytes(b: Uint8Array, offset: number, len: number, initial: number): number {
  let s = initial;
  const end = offset + len;
  let i = offset;
  // Unrolled by 8 bytes: ~1.3× the plain loop on V8. Bit operators turn a read past the buffer
  // (undefined) into 0.
  for (; i + 7 < end; i += 8) {
    s += ((b[i] << 8) | b[i + 1]) + ((b[i + 2] << 8) | b[i + 3]) +
      ((b[i + 4] << 8) | b[i + 5]) + ((b[i + 6] << 8) | b[i + 7]);
  }
  for (; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return s;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Below this many bytes the word loop does not pay for its set-up. */
const MIN_WORDS_LEN = 64;

/** A 32-bit view of the last buffer summed (the stack's transmit buffer, a receive batch). */
let cachedBuffer: ArrayBufferLike | undefined;
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/**
 * `sum_bytes` for an in-bounds run starting at an even address `abs` of the buffer: the aligned
 * middle read as little-endian 32-bit words. Exact: the sum is independent of byte order (RFC
 * 1071 §2 (B): sum the little-endian words, swap the folded result) and 2^16 ≡ 1 (mod 2^16 − 1)
 * (§2 (C): a 32-bit word adds like its two 16-bit halves). Unfolded-compatible with sum_bytes.
 */
function sum_words(b: Uint8Array, off: number, len: number, abs: number, initial: number): number {
  if (b.buffer !== cachedBuffer) {
    cachedBuffer = b.buffer;
    words = new Uint32Array(b.buffer, 0, b.buffer.byteLength >>> 2);
  }
  let s = initial;
  let i = off;
  const end = off + len;
  if ((abs & 2) !== 0) {
    s += (b[i] << 8) | b[i + 1];
    i += 2;
    abs += 2;
  }
  const w0 = abs >>> 2;
  const w1 = (abs + (end - i)) >>> 2;
  let le = 0; // at most 16,384 words of < 2^32 each for a 64 KiB packet: exact in a double
  for (let w = w0; w < w1; w++) le += words[w];
  i += (w1 - w0) << 2;
  while (le > 0xffff) le = (le % 65536) + Math.floor(le / 65536);
  s += ((le & 0xff) << 8) | (le >>> 8);
  return i < end ? sum_bytes(b, i, end - i, s) : s;
}

/** Fold an unfolded sum to 16 bits with end-around carry (RFC 1071 §2 (C)). */
export function checksum_fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s % 65536) + Math.floor(s / 65536);
  return s;
}

/** The checksum field value for an unfolded sum: the one's complement of the folded sum. */
export function checksum_finish(sum: number): number {
  return ~checksum_fold(sum) & 0xffff;
}

/** The Internet checksum of `len` bytes of `b` from `offset` (RFC 1071). */
export function internet_checksum(b: Uint8Array, offset: number, len: number): number {
  return checksum_finish(sum16(b, offset, len));
}

/**
 * The IPv4 pseudo-header sum (RFC 9293 §3.1, RFC 768) *without* the upper-layer length: source,
 * destination (uint32) and protocol. Add the length with `+ len` before finishing.
 */
export function pseudo_sum_ipv4(src_addr: number, dst_addr: number, protocol: number): number {
  return (src_addr >>> 16) + (src_addr & 0xffff) + (dst_addr >>> 16) + (dst_addr & 0xffff) +
    protocol;
}

/**
 * The IPv6 pseudo-header sum (RFC 8200 §8.1) *without* the upper-layer length: the 32 address
 * bytes at `addrs_offset` of `b` (source then destination, as laid out in an IPv6 header at
 * offset 8) and the next header value. Add the upper-layer packet length before finishing.
 * With a Routing header the destination should be the final one (RFC 8200 §8.1); weft sends none.
 */
export function pseudo_sum_ipv6(b: Uint8Array, addrs_offset: number, next_header: number): number {
  return sum16(b, addrs_offset, 32, next_header);
}

/**
 * The same as `pseudo_sum_ipv6` for two separate 16-byte addresses (e.g. when emitting).
 */
export function pseudo_sum_ipv6_addrs(
  src_addr: Uint8Array,
  dst_addr: Uint8Array,
  next_header: number,
): number {
  return sum16(dst_addr, 0, 16, sum16(src_addr, 0, 16, next_header));
}

/**
 * Incrementally update checksum field `hc` after a 16-bit word of the covered data changed from
 * `old_word` to `new_word`: HC' = ~(~HC + ~m + m') (RFC 1624 §3, eqn. 3; it fixes the -0 corner
 * case of RFC 1141's form).
 */
export function checksum_update16(hc: number, old_word: number, new_word: number): number {
  return ~checksum_fold((~hc & 0xffff) + (~old_word & 0xffff) + (new_word & 0xffff)) & 0xffff;
}

/** `checksum_update16` for a 32-bit field (an IPv4 address in NAT), as two 16-bit words. */
export function checksum_update32(hc: number, old_value: number, new_value: number): number {
  return ~checksum_fold(
    (~hc & 0xffff) + (~old_value & 0xffff) + ((~old_value >>> 16) & 0xffff) +
      (new_value & 0xffff) + (new_value >>> 16),
  ) & 0xffff;
}
