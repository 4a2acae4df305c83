/**
 * The seam between the IP layer (stack/iface) and the transports (stack/tcp, UDP, ICMP echo).
 *
 * Single-copy output: a transport writes its header and payload straight into the IP layer's
 * transmit buffer `tx` at `TX_HEADROOM`; `sendIp` then writes the IP and Ethernet headers into the
 * headroom in front of it and hands the frame to the NIC (whose endpoint copies it into its batch).
 * When the next hop's link address is not yet known, the IP layer copies the packet into a bounded
 * pending queue and resolves it (ARP / NDP); a full queue drops and counts.
 *
 * Input: the IP layer has validated the IP header (and reassembled fragments); it calls the
 * transport registered for the protocol number with the transport bytes, whose checksum the
 * transport verifies itself (it needs the pseudo header). Addresses handed to transports are views
 * into the packet: borrowed, copy to keep (ARCHITECTURE §4).
 */

import type { IpAddr } from "./addr.ts";

/** Room in front of a transport segment for Ethernet + 802.1Q + the largest IP header weft emits. */
export const TX_HEADROOM = 14 + 4 + 40;

/** Largest transport segment `tx` holds (an IPv4/IPv6 payload of a 64 KiB jumbo frame). */
export const TX_MAX_SEGMENT = 65535;

export interface IpOutput {
  /** The transmit buffer: write the transport segment at `TX_HEADROOM`. Reused by every send. */
  readonly tx: Uint8Array;
  /**
   * Send `tx[TX_HEADROOM, TX_HEADROOM + len)` as the payload of an IP packet `src` → `dst` with
   * protocol `proto` (6, 17, 1, 58). Returns false when the packet was dropped (no route, queue
   * full, too big; counted by reason in the IP layer).
   */
  sendIp(src: IpAddr, dst: IpAddr, proto: number, len: number): boolean;
  /**
   * True when the last `sendIp` failed because the NIC refused the frame (its queue is full):
   * local congestion, not loss. TCP then stops sending and retries shortly instead of treating
   * the segment as lost (the idea of Linux's TCP Small Queues: back-pressure, not drops).
   */
  readonly txBlocked: boolean;
  /** The largest transport segment that reaches `dst` unfragmented (path MTU minus IP header). */
  maxSegmentTo(dst: IpAddr): number;
  /** The source address to use toward `dst` (RFC 6724 rules, simplified), or undefined: no route. */
  sourceFor(dst: IpAddr): IpAddr | undefined;
  /** Whether `addr` is one of this stack's unicast addresses (for bind checks). */
  isLocal(addr: IpAddr): boolean;
}

/** What a transport registers with the IP layer for its protocol number. */
export interface TransportInput {
  /**
   * One transport segment `buf[off, off + len)` from `src` to `dst` (views into the packet).
   * `broadcast` is true when the packet was addressed to a broadcast or multicast address.
   * Must not throw on any input; counts its own drops.
   */
  input(
    src: IpAddr,
    dst: IpAddr,
    buf: Uint8Array,
    off: number,
    len: number,
    broadcast: boolean,
  ): void;
  /**
   * An ICMP / ICMPv6 error quoting a packet this transport sent (RFC 1122 §4.2.3.9, RFC 4443 §2.4):
   * `kind` says what happened; `quote` holds the start of the offending transport header.
   */
  icmpError?(kind: IcmpErrorKind, src: IpAddr, dst: IpAddr, quote: Uint8Array): void;
}

export type IcmpErrorKind =
  | "port_unreachable"
  | "host_unreachable"
  | "net_unreachable"
  | "too_big"
  | "time_exceeded"
  | "other";

/** Something with deadlines: `poll(now)` runs what is due and returns the next deadline (ms, or Infinity). */
export interface Timed {
  poll(now: number): number;
}
