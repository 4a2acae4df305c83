/**
 * Host and port arguments of the socket API. The stack has no resolver yet, so a hostname must be
 * a literal IPv4 or IPv6 address; anything else is a TypeError naming the value (what
 * `Deno.connect` throws for arguments it cannot use), not a network error.
 */

import type { IpAddr } from "../addr.ts";
import { parse_addr } from "../addr.ts";

/** The address bytes of a literal "10.0.0.2", "fd00::2" or "[fd00::2]". */
export function parse_host(hostname: string, what: string): IpAddr {
  let h = hostname;
  if (h.length > 2 && h.charCodeAt(0) === 0x5b && h.charCodeAt(h.length - 1) === 0x5d) {
    h = h.slice(1, -1);
  }
  const a = typeof h === "string" ? parse_addr(h) : undefined;
  if (a === undefined) {
    throw new TypeError(
      `Invalid hostname ${JSON.stringify(hostname)} for ${what}: expected a literal IPv4 or ` +
        `IPv6 address (the stack has no DNS resolver yet)`,
    );
  }
  return a;
}

/** A port number in [min, 65535]. */
export function check_port(port: number, what: string, min = 0): number {
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw new TypeError(
      `Invalid port ${JSON.stringify(port)} for ${what}: expected a whole number from ${min} ` +
        `to 65535`,
    );
  }
  return port;
}
