/**
 * HalfSipHash-2-4 with a 32-bit result (Aumasson & Bernstein's SipHash family, the 32-bit-word
 * variant Linux uses as `hsiphash`): a keyed pseudo-random function for short inputs, fast with
 * JavaScript's 32-bit integer operations.
 *
 * TCP needs one where a value must look random to outsiders yet be the same for the same
 * connection identifiers: the ephemeral port offset of RFC 6056 §3.3.3 (F(local address, remote
 * address, remote port, secret)) and the timestamp clock offset of RFC 7323 §5.4 (keyed by the
 * address pair, as the ISN function of RFC 6528 §3). An unkeyed hash (FNV) would let a peer that
 * sees a few values predict the others; the 64-bit key comes from the stack's Rng (WebCrypto by
 * default).
 */

/** A 64-bit key as two little-endian 32-bit words (k0 = key bytes 0-3, k1 = bytes 4-7). */
export interface HsipKey {
  k0: number;
  k1: number;
}

/** A fresh key from `u32` (e.g. `rng.u32()`). */
export function hsip_key(u32: () => number): HsipKey {
  return { k0: u32() >>> 0, k1: u32() >>> 0 };
}

/** HalfSipHash-2-4 of `data[0, len)` under `key`, as an unsigned 32-bit integer. */
export function half_siphash(key: HsipKey, data: Uint8Array, len = data.length): number {
  let v0 = key.k0 | 0;
  let v1 = key.k1 | 0;
  let v2 = 0x6c796765 ^ key.k0;
  let v3 = 0x74656462 ^ key.k1;
  const end = len - (len & 3);
  let i = 0;
  for (; i < end; i += 4) {
    const m = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    v3 ^= m;
    for (let r = 0; r < 2; r++) {
      v0 = (v0 + v1) | 0, v1 = (v1 << 5) | (v1 >>> 27), v1 ^= v0, v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0, v3 = (v3 << 8) | (v3 >>> 24), v3 ^= v2;
      v0 = (v0 + v3) | 0, v3 = (v3 << 7) | (v3 >>> 25), v3 ^= v0;
      v2 = (v2 + v1) | 0, v1 = (v1 << 13) | (v1 >>> 19), v1 ^= v2, v2 = (v2 << 16) | (v2 >>> 16);
    }
    v0 ^= m;
  }
  // The last word: the remaining bytes, with the length's low byte on top.
  let b = len << 24;
  const left = len & 3;
  if (left >= 3) b |= data[i + 2] << 16;
  if (left >= 2) b |= data[i + 1] << 8;
  if (left >= 1) b |= data[i];
  v3 ^= b;
  for (let r = 0; r < 2; r++) {
    v0 = (v0 + v1) | 0, v1 = (v1 << 5) | (v1 >>> 27), v1 ^= v0, v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0, v3 = (v3 << 8) | (v3 >>> 24), v3 ^= v2;
    v0 = (v0 + v3) | 0, v3 = (v3 << 7) | (v3 >>> 25), v3 ^= v0;
    v2 = (v2 + v1) | 0, v1 = (v1 << 13) | (v1 >>> 19), v1 ^= v2, v2 = (v2 << 16) | (v2 >>> 16);
  }
  v0 ^= b;
  v2 ^= 0xff;
  for (let r = 0; r < 4; r++) {
    v0 = (v0 + v1) | 0, v1 = (v1 << 5) | (v1 >>> 27), v1 ^= v0, v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0, v3 = (v3 << 8) | (v3 >>> 24), v3 ^= v2;
    v0 = (v0 + v3) | 0, v3 = (v3 << 7) | (v3 >>> 25), v3 ^= v0;
    v2 = (v2 + v1) | 0, v1 = (v1 << 13) | (v1 >>> 19), v1 ^= v2, v2 = (v2 << 16) | (v2 >>> 16);
  }
  return (v1 ^ v3) >>> 0;
}
