/**
 * MAC addresses as 48-bit numbers on the hot path (exact in a double), strings only at the edges.
 */

/** The 48-bit number of the MAC address at `offset` of `b`. */
export function macAt(b: Uint8Array, offset: number): number {
  return ((b[offset] << 8) | b[offset + 1]) * 4294967296 +
    (((b[offset + 2] << 24) | (b[offset + 3] << 16) | (b[offset + 4] << 8) | b[offset + 5]) >>> 0);
}

/** The high 16 bits of the MAC address at `offset` (for int32-only hot paths). */
export function hiAt(b: Uint8Array, offset: number): number {
  return (b[offset] << 8) | b[offset + 1];
}

/** The low 32 bits of the MAC address at `offset`, as a signed int32. */
export function loAt(b: Uint8Array, offset: number): number {
  return (b[offset + 2] << 24) | (b[offset + 3] << 16) | (b[offset + 4] << 8) | b[offset + 5];
}

/** IEEE 802 group bit (I/G): set for broadcast and multicast destinations. */
export function isGroupMacAt(b: Uint8Array, offset: number): boolean {
  return (b[offset] & 1) === 1;
}

export function formatMac(mac: number): string {
  const hi = Math.floor(mac / 4294967296);
  const lo = mac >>> 0;
  const bytes = [hi >> 8, hi & 0xff, lo >>> 24, (lo >> 16) & 0xff, (lo >> 8) & 0xff, lo & 0xff];
  return bytes.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

export function parseMac(text: string): number | undefined {
  const m =
    /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i
      .exec(text);
  if (!m) return undefined;
  return parseInt(m.slice(1).join(""), 16);
}
