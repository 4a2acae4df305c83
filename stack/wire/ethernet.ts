/**
 * Ethernet II frames (IEEE 802.3 clause 3.2.6 type field) and one IEEE 802.1Q tag, plus the MAC
 * helpers stack/wire needs (it imports nothing outside stack/wire, so it cannot use core/mac.ts;
 * the representation is the same: a MAC is a 48-bit number, exact in a double).
 *
 * ```
 * | destination (6) | source (6) | [TPID 0x8100 (2) | TCI: PCP(3) DEI(1) VID(12)] | EtherType (2) |
 * ```
 *
 * Frames arrive without preamble and FCS (as from a TAP, VDE or pcap). One tag is decoded (TPID
 * 0x8100, or 0x88a8 as the outer tag of 802.1ad); with two stacked tags `ethertype` is the inner
 * TPID and the caller decides (a later slice may decode Q-in-Q).
 */

/** Bytes of an untagged Ethernet header. */
export const ETHERNET_HEADER_LEN = 14;
/** Bytes of the 802.1Q tag (TPID + TCI). */
export const VLAN_TAG_LEN = 4;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
/** IEEE 802.1ad service tag (the outer tag of Q-in-Q), accepted as a tag like 0x8100. */
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_IPV6 = 0x86dd;
/** The broadcast MAC ff:ff:ff:ff:ff:ff as a number. */
export const MAC_BROADCAST = 0xffffffffffff;

/** Why a frame was not accepted; "ok" when it was. Strings, so a counter can be keyed by them. */
export type EthernetReason = "ok" | "truncated";

/** The 48-bit number of the MAC address at `offset` of `b`. */
export function mac_at(b: Uint8Array, offset: number): number {
  return ((b[offset] << 8) | b[offset + 1]) * 4294967296 +
    (((b[offset + 2] << 24) | (b[offset + 3] << 16) | (b[offset + 4] << 8) | b[offset + 5]) >>>
      0);
}

/** Write the MAC `mac` (a 48-bit number) at `offset` of `b`. */
export function write_mac(b: Uint8Array, offset: number, mac: number): void {
  const hi = Math.floor(mac / 4294967296);
  const lo = mac >>> 0;
  b[offset] = hi >>> 8;
  b[offset + 1] = hi;
  b[offset + 2] = lo >>> 24;
  b[offset + 3] = lo >>> 16;
  b[offset + 4] = lo >>> 8;
  b[offset + 5] = lo;
}

/** IEEE 802 I/G bit: set for broadcast and multicast. */
export function is_group_mac(mac: number): boolean {
  return Math.floor(mac / 1099511627776) % 2 === 1;
}

/** "aa:bb:cc:dd:ee:ff" (for logs and the API edge, not the hot path). */
export function format_mac(mac: number): string {
  return mac.toString(16).padStart(12, "0").replace(/(..)(?!$)/g, "$1:");
}

/** The number of "aa:bb:cc:dd:ee:ff" (or with "-"), or undefined. */
export function parse_mac(text: string): number | undefined {
  if (!/^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i.test(text)) return undefined;
  return parseInt(text.replace(/[:-]/g, ""), 16);
}

/**
 * A view of an Ethernet frame at `offset` of a buffer. `reset` validates and caches; a caller may
 * keep one view and reset it per frame (no allocation).
 */
export class EthernetView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;
  /** Bytes of the frame (from `offset`). */
  length = 0;
  /** Offset in `buf` of the payload (after the tag, if any). */
  payload_offset = 0;
  /** The EtherType of the payload (after an 802.1Q tag). Below 0x0600 it is an 802.3 length. */
  ethertype = 0;
  /** The 802.1Q TCI, or -1 when untagged. */
  tci = -1;

  /** Validate the frame in `buf[offset, offset + length)`; "ok" or why not. Never throws. */
  reset(buf: Uint8Array, offset = 0, length = buf.length - offset): EthernetReason {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    this.tci = -1;
    if (offset < 0 || length < ETHERNET_HEADER_LEN || offset + length > buf.length) {
      return "truncated";
    }
    let t = (buf[offset + 12] << 8) | buf[offset + 13];
    let p = offset + 14;
    if (t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ) {
      if (length < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) return "truncated";
      this.tci = (buf[p] << 8) | buf[p + 1];
      t = (buf[p + 2] << 8) | buf[p + 3];
      p += 4;
    }
    this.ethertype = t;
    this.payload_offset = p;
    return "ok";
  }

  get dst_addr(): number {
    return mac_at(this.buf, this.offset);
  }
  get src_addr(): number {
    return mac_at(this.buf, this.offset + 6);
  }
  /** Bytes of the header, 14 or 18. */
  get header_len(): number {
    return this.payload_offset - this.offset;
  }
  get payload_len(): number {
    return this.offset + this.length - this.payload_offset;
  }
  /** 802.1Q Priority Code Point, or -1 when untagged. */
  get pcp(): number {
    return this.tci < 0 ? -1 : this.tci >>> 13;
  }
  /** 802.1Q Drop Eligible Indicator (false when untagged). */
  get dei(): boolean {
    return this.tci >= 0 && (this.tci & 0x1000) !== 0;
  }
  /** 802.1Q VLAN identifier, or -1 when untagged. */
  get vid(): number {
    return this.tci < 0 ? -1 : this.tci & 0xfff;
  }
}

/** A new view of the frame, or undefined when it is malformed. */
export function parse_ethernet(
  buf: Uint8Array,
  offset = 0,
  length = buf.length - offset,
): EthernetView | undefined {
  const v = new EthernetView();
  return v.reset(buf, offset, length) === "ok" ? v : undefined;
}

/**
 * Write an Ethernet header at `offset` of `b`; with `tci >= 0` an 802.1Q tag (TPID 0x8100) is
 * inserted. Returns the header length (14 or 18); the payload goes right after it.
 */
export function emit_ethernet(
  b: Uint8Array,
  offset: number,
  dst_addr: number,
  src_addr: number,
  ethertype: number,
  tci = -1,
): number {
  write_mac(b, offset, dst_addr);
  write_mac(b, offset + 6, src_addr);
  let p = offset + 12;
  if (tci >= 0) {
    b[p] = ETHERTYPE_VLAN >>> 8;
    b[p + 1] = ETHERTYPE_VLAN & 0xff;
    b[p + 2] = tci >>> 8;
    b[p + 3] = tci;
    p += 4;
  }
  b[p] = ethertype >>> 8;
  b[p + 1] = ethertype;
  return p + 2 - offset;
}

/** An 802.1Q TCI from its fields. */
export function vlan_tci(pcp: number, dei: boolean, vid: number): number {
  return ((pcp & 7) << 13) | (dei ? 0x1000 : 0) | (vid & 0xfff);
}
