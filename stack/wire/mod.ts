/**
 * stack/wire: pure packet codecs (ARCHITECTURE §2). Each protocol has a reusable view class whose
 * `reset(buf, offset, length, …)` validates and returns "ok" or a reason string (never throws,
 * never allocates), a `parse_x` convenience returning a new view or undefined, and `emit_x` /
 * `write_x` functions that write into a caller's buffer.
 */

export * from "./checksum.ts";
export * from "./ethernet.ts";
export * from "./arp.ts";
export * from "./ipv4.ts";
export * from "./ipv6.ts";
export * from "./icmpv4.ts";
export * from "./icmpv6.ts";
export * from "./udp.ts";
export * from "./tcp.ts";
export * from "./dhcp.ts";
export * from "./dns.ts";
