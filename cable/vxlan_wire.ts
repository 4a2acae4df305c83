/**
 * The VXLAN header (RFC 7348 §5), a pure codec: no I/O, no allocation on the hot path.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |R|R|R|R|I|R|R|R|            Reserved                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                VXLAN Network Identifier (VNI) |   Reserved    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * followed by the inner Ethernet frame without its FCS. The header rides in a UDP datagram to
 * port 4789 (IANA, RFC 7348 §5 "Destination Port").
 *
 * Receive policy — why the flags byte must be exactly 0x08: RFC 7348 §5 says the seven R bits are
 * "ignored on receipt", but every extension since (VXLAN-GBP's G bit 0x80, VXLAN-GPE's Ver/P/O
 * bits) signals itself through those bits, and GPE's P bit even changes what the payload is. A
 * VTEP that ignored them would decapsulate frames whose meaning it does not know. Linux's vxlan
 * driver drops packets with unknown flag bits for that reason (its comment calls it a deliberate
 * divergence from the RFC), and vdeplug4's `vxlan://` accepts the flags byte only when it is
 * exactly 0x08 (docs/PROTOCOLS.md §4). weft does the same, so all three agree on what reaches the
 * segment. The reserved *bytes* (1–3 and 7) are ignored as the RFC says: without a flag bit they
 * carry no meaning.
 */

/** Bytes of the VXLAN header. */
export const VXLAN_HEADER_SIZE = 8;
/** IANA's VXLAN UDP port (RFC 7348 §5). */
export const VXLAN_PORT = 4789;
/** The I flag: "VNI present", the only flag bit RFC 7348 defines. */
export const VXLAN_FLAG_I = 0x08;
/** Largest VNI: 24 bits. */
export const MAX_VNI = 0xffffff;

// `readVxlanVni` results below zero say why a datagram is not a VXLAN packet we accept.
/** Shorter than the 8-byte header. */
export const VXLAN_RUNT = -1;
/** The flags byte is not exactly 0x08 (I set, no other bit; see the module doc). */
export const VXLAN_BAD_FLAGS = -2;

/** Write the header for `vni` at `offset` of `buf` (flags 0x08, reserved bytes zero). */
export function writeVxlanHeader(buf: Uint8Array, offset: number, vni: number): void {
  buf[offset] = VXLAN_FLAG_I;
  buf[offset + 1] = 0;
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
  buf[offset + 4] = (vni >>> 16) & 0xff;
  buf[offset + 5] = (vni >>> 8) & 0xff;
  buf[offset + 6] = vni & 0xff;
  buf[offset + 7] = 0;
}

/**
 * The VNI of the VXLAN datagram `d` (a UDP payload), or VXLAN_RUNT / VXLAN_BAD_FLAGS. Never
 * throws: any byte string is a valid argument.
 */
export function readVxlanVni(d: Uint8Array): number {
  if (d.length < VXLAN_HEADER_SIZE) return VXLAN_RUNT;
  if (d[0] !== VXLAN_FLAG_I) return VXLAN_BAD_FLAGS;
  return (d[4] << 16) | (d[5] << 8) | d[6];
}

/** A whole VXLAN datagram: header + `frame` (one copy; for tests and tools, not the data path). */
export function encodeVxlan(vni: number, frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(VXLAN_HEADER_SIZE + frame.length);
  writeVxlanHeader(out, 0, vni);
  out.set(frame, VXLAN_HEADER_SIZE);
  return out;
}

/**
 * Bytes the encapsulation adds outside the inner frame, per RFC 7348 §5's figures: outer IPv4
 * (20) or IPv6 (40) header, UDP (8), VXLAN (8). The outer Ethernet header is the underlay's
 * business and not counted against its MTU.
 */
export function vxlanOverhead(ipv6: boolean): number {
  return (ipv6 ? 40 : 20) + 8 + VXLAN_HEADER_SIZE;
}
