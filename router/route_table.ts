/**
 * The router's forwarding table: connected prefixes of every interface plus static routes, looked
 * up by longest prefix match across interfaces (RFC 1812 §5.2.4.3). Entries are kept sorted by
 * prefix length, longest first, so the first match is the answer; IPv4 compares 32-bit numbers,
 * IPv6 bytes in place — no allocation per lookup. A router has a handful of routes, so a linear
 * scan is faster than a trie here.
 */

import type { Cidr, IpAddr } from "../stack/addr.ts";

export interface RouteEntry {
  dest: Cidr;
  /** Index of the egress interface. */
  port: number;
  /** Gateway; absent for a connected prefix. */
  via?: IpAddr;
  kind: "connected" | "static";
}

interface V4 {
  net: number;
  mask: number;
  e: RouteEntry;
}

function mask_v4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function v4(a: Uint8Array, o: number): number {
  return ((a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3]) >>> 0;
}

export class RouteTable {
  #v4: V4[] = [];
  #v6: RouteEntry[] = [];

  /** Add (or replace the entry for the same prefix). */
  add(e: RouteEntry): void {
    if (e.dest.addr.length === 4) {
      const mask = mask_v4(e.dest.prefix);
      const net = (v4(e.dest.addr, 0) & mask) >>> 0;
      this.#v4 = this.#v4.filter((x) => !(x.mask === mask && x.net === net));
      this.#v4.push({ net, mask, e });
      this.#v4.sort((a, b) => b.e.dest.prefix - a.e.dest.prefix);
    } else {
      this.#v6 = this.#v6.filter((x) =>
        !(x.dest.prefix === e.dest.prefix && match6(x.dest.addr, e.dest.addr, 0, e.dest.prefix))
      );
      this.#v6.push(e);
      this.#v6.sort((a, b) => b.dest.prefix - a.dest.prefix);
    }
  }

  /** The route for the IPv4 destination at `buf[o..o+4)`. */
  lookup4(buf: Uint8Array, o: number): RouteEntry | undefined {
    const d = v4(buf, o);
    const t = this.#v4;
    for (let i = 0; i < t.length; i++) {
      if (((d & t[i].mask) >>> 0) === t[i].net) return t[i].e;
    }
    return undefined;
  }

  /** The route for the IPv6 destination at `buf[o..o+16)`. */
  lookup6(buf: Uint8Array, o: number): RouteEntry | undefined {
    const t = this.#v6;
    for (let i = 0; i < t.length; i++) {
      if (match6(t[i].dest.addr, buf, o, t[i].dest.prefix)) return t[i];
    }
    return undefined;
  }

  entries(): RouteEntry[] {
    return [...this.#v4.map((x) => x.e), ...this.#v6];
  }
}

/** Whether the first `prefix` bits of `p` equal those of `b[o..o+16)`. */
function match6(p: Uint8Array, b: Uint8Array, o: number, prefix: number): boolean {
  const full = prefix >>> 3;
  for (let i = 0; i < full; i++) if (p[i] !== b[o + i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const m = (0xff00 >>> rest) & 0xff;
  return (p[full] & m) === (b[o + full] & m);
}
