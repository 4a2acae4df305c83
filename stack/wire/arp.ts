/**
 * ARP for IPv4 over Ethernet (RFC 826). Only hardware type 1 (Ethernet), protocol type 0x0800,
 * hardware length 6 and protocol length 4 are accepted: nothing else is meaningful to weft.
 *
 * ```
 * | ar$hrd (2) | ar$pro (2) | ar$hln (1) | ar$pln (1) | ar$op (2) |
 * | ar$sha (6) | ar$spa (4) | ar$tha (6) | ar$tpa (4) |            28 bytes
 * ```
 */

import { mac_at, write_mac } from "./ethernet.ts";
import { put32, u32 } from "./bytes.ts";

export const ARP_LEN = 28;
export const ARP_HRD_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

export type ArpReason = "ok" | "truncated" | "unsupported";

/** A view of an ARP packet (Ethernet/IPv4). Reusable through `reset`. */
export class ArpView {
  buf: Uint8Array = new Uint8Array(0);
  offset = 0;

  /** Validate the packet in `buf[offset, offset + length)`. Trailing padding is allowed. */
  reset(buf: Uint8Array, offset = 0, length = buf.length - offset): ArpReason {
    this.buf = buf;
    this.offset = offset;
    if (offset < 0 || length < ARP_LEN || offset + length > buf.length) return "truncated";
    const o = offset;
    if (
      ((buf[o] << 8) | buf[o + 1]) !== ARP_HRD_ETHERNET ||
      ((buf[o + 2] << 8) | buf[o + 3]) !== 0x0800 ||
      buf[o + 4] !== 6 || buf[o + 5] !== 4
    ) return "unsupported";
    return "ok";
  }

  /** ar$op: 1 request, 2 reply. */
  get operation(): number {
    return (this.buf[this.offset + 6] << 8) | this.buf[this.offset + 7];
  }
  /** ar$sha. */
  get sender_hardware_addr(): number {
    return mac_at(this.buf, this.offset + 8);
  }
  /** ar$spa, as a uint32. */
  get sender_protocol_addr(): number {
    return u32(this.buf, this.offset + 14);
  }
  /** ar$tha. */
  get target_hardware_addr(): number {
    return mac_at(this.buf, this.offset + 18);
  }
  /** ar$tpa, as a uint32. */
  get target_protocol_addr(): number {
    return u32(this.buf, this.offset + 24);
  }
}

export function parse_arp(
  buf: Uint8Array,
  offset = 0,
  length = buf.length - offset,
): ArpView | undefined {
  const v = new ArpView();
  return v.reset(buf, offset, length) === "ok" ? v : undefined;
}

/** Write an Ethernet/IPv4 ARP packet at `offset`; returns 28. */
export function emit_arp(
  b: Uint8Array,
  offset: number,
  operation: number,
  sender_hardware_addr: number,
  sender_protocol_addr: number,
  target_hardware_addr: number,
  target_protocol_addr: number,
): number {
  const o = offset;
  b[o] = 0;
  b[o + 1] = ARP_HRD_ETHERNET;
  b[o + 2] = 0x08;
  b[o + 3] = 0x00;
  b[o + 4] = 6;
  b[o + 5] = 4;
  b[o + 6] = operation >>> 8;
  b[o + 7] = operation;
  write_mac(b, o + 8, sender_hardware_addr);
  put32(b, o + 14, sender_protocol_addr);
  write_mac(b, o + 18, target_hardware_addr);
  put32(b, o + 24, target_protocol_addr);
  return ARP_LEN;
}
