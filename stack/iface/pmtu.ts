/**
 * A bounded per-destination Path MTU cache (RFC 1191 for IPv4, RFC 8201 for IPv6). An ICMP
 * "fragmentation needed" / "packet too big" lowers a destination's PMTU; an entry expires after
 * 10 minutes (RFC 1191 §6.3, RFC 8201 §4: "at least 5 minutes, 10 recommended") so a path that
 * grew again is rediscovered. Values never go below 576 (IPv4, the datagram size every host must
 * accept, RFC 1122 §3.3.3 — a floor that also blunts forged tiny-MTU messages) or 1280 (IPv6's
 * minimum link MTU, RFC 8200 §5).
 */

import { addr_equal, addr_hash, type IpAddr } from "../addr.ts";

export const PMTU_EXPIRY_MS = 600_000;
export const PMTU_MIN_V4 = 576;
export const PMTU_MIN_V6 = 1280;

export interface PmtuEntry {
  addr: IpAddr;
  mtu: number;
  expires: number;
}

export class PmtuCache {
  readonly #map = new Map<number, PmtuEntry>();
  readonly maxEntries: number;

  constructor(maxEntries = 256) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The path MTU toward `dst`: the cached value, or `linkMtu` (never above it). */
  get(dst: IpAddr, linkMtu: number, now: number): number {
    if (this.#map.size === 0) return linkMtu;
    const k = addr_hash(dst, 0, dst.length);
    const e = this.#map.get(k);
    if (e === undefined || !addr_equal(e.addr, dst)) return linkMtu;
    if (e.expires <= now) {
      this.#map.delete(k);
      return linkMtu;
    }
    return e.mtu < linkMtu ? e.mtu : linkMtu;
  }

  /**
   * Lower the PMTU toward `dst` to `mtu` (clamped to the family's floor). Increases are ignored
   * (RFC 1191 §6.3: a host must not raise its estimate from a "too big" message). Returns the
   * value in force.
   */
  update(dst: IpAddr, mtu: number, linkMtu: number, now: number): number {
    const floor = dst.length === 4 ? PMTU_MIN_V4 : PMTU_MIN_V6;
    let m = mtu < floor ? floor : mtu;
    if (m > linkMtu) m = linkMtu;
    const k = addr_hash(dst, 0, dst.length);
    const e = this.#map.get(k);
    if (e !== undefined && addr_equal(e.addr, dst) && e.expires > now) {
      if (m < e.mtu) e.mtu = m;
      e.expires = now + PMTU_EXPIRY_MS;
      return e.mtu;
    }
    if (m >= linkMtu) return linkMtu;
    if (this.#map.size >= this.maxEntries && !this.#map.has(k)) {
      // Evict the entry that expires first (the oldest update).
      let victim = -1, when = Infinity;
      for (const [vk, ve] of this.#map) {
        if (ve.expires < when) [victim, when] = [vk, ve.expires];
      }
      this.#map.delete(victim);
    }
    this.#map.set(k, { addr: dst.slice(), mtu: m, expires: now + PMTU_EXPIRY_MS });
    return m;
  }

  /** Forget expired entries; returns the next expiry. */
  poll(now: number): number {
    let next = Infinity;
    for (const [k, e] of this.#map) {
      if (e.expires <= now) this.#map.delete(k);
      else if (e.expires < next) next = e.expires;
    }
    return next;
  }

  snapshot(): PmtuEntry[] {
    return [...this.#map.values()].map((e) => ({
      addr: e.addr.slice(),
      mtu: e.mtu,
      expires: e.expires,
    }));
  }

  restore(entries: PmtuEntry[], shift: number): void {
    this.#map.clear();
    for (const e of entries) {
      const addr = new Uint8Array(e.addr);
      this.#map.set(addr_hash(addr, 0, addr.length), {
        addr,
        mtu: e.mtu,
        expires: e.expires + shift,
      });
    }
  }
}
