/** Big-endian (network order, RFC 791 Appendix B) 32-bit fields, shared by the codecs. */

/** The unsigned 32-bit big-endian value at `o`. */
export function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Write `v` as a 32-bit big-endian value at `o`. */
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}
