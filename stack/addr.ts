/**
 * IP addresses as the stack above the wire keeps them: a `Uint8Array` of 4 bytes (IPv4) or 16
 * bytes (IPv6), network byte order. One representation for both families lets TCP, UDP and the
 * socket API treat a connection's endpoints alike; the hot path compares and hashes the bytes
 * without allocating, and text appears only at the API/log edge.
 */

import { format_ipv4, format_ipv6, ipv4_at, parse_ipv4_addr, parse_ipv6_addr } from "./wire/mod.ts";

/** 4 bytes (IPv4) or 16 bytes (IPv6). */
export type IpAddr = Uint8Array;

export type IpFamily = 4 | 6;

export function family_of(a: IpAddr): IpFamily {
  return a.length === 4 ? 4 : 6;
}

/** Byte equality of two addresses (different families are never equal). */
export function addr_equal(a: IpAddr, b: IpAddr): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Byte equality of `a` and the address bytes at `offset` of `buf` (an address inside a packet). */
export function addr_equal_at(a: IpAddr, buf: Uint8Array, offset: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[offset + i]) return false;
  return true;
}

/** FNV-1a over `len` address bytes at `offset` of `buf`, mixed with `seed`: a 32-bit table key. */
export function addr_hash(buf: Uint8Array, offset: number, len: number, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ buf[offset + i], 0x01000193);
  return h >>> 0;
}

/** "10.0.0.1" or RFC 5952 IPv6 text. */
export function format_addr(a: IpAddr): string {
  return a.length === 4 ? format_ipv4(ipv4_at(a, 0)) : format_ipv6(a);
}

/** The bytes of an IPv4 or IPv6 address in text, or undefined. */
export function parse_addr(text: string): IpAddr | undefined {
  const v4 = parse_ipv4_addr(text);
  if (v4 !== undefined) {
    return new Uint8Array([v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255]);
  }
  return parse_ipv6_addr(text);
}

/** `a` as a uint32 (IPv4 only). */
export function addr_v4(a: IpAddr): number {
  return ipv4_at(a, 0);
}

/** The 4-byte address of uint32 `v`. */
export function addr_from_v4(v: number): IpAddr {
  return new Uint8Array([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
}

/** The unspecified address of a family (0.0.0.0 or ::). */
export function unspecified(family: IpFamily): IpAddr {
  return new Uint8Array(family === 4 ? 4 : 16);
}

export function is_unspecified(a: IpAddr): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

/** An address with a prefix length, as in "10.0.0.2/24" or "fd00::2/64". */
export interface Cidr {
  addr: IpAddr;
  prefix: number;
}

/** Parse "ADDR/LEN"; undefined when either part is invalid for the family. */
export function parse_cidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const addr = parse_addr(text.slice(0, slash));
  const len = text.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(len)) return undefined;
  const prefix = Number(len);
  if (prefix > addr.length * 8) return undefined;
  return { addr, prefix };
}

/** Whether the first `prefix` bits of `a` and `b` agree (same family). */
export function prefix_match(a: IpAddr, b: IpAddr, prefix: number): boolean {
  if (a.length !== b.length) return false;
  const full = prefix >>> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff00 >>> rest) & 0xff;
  return (a[full] & mask) === (b[full] & mask);
}
