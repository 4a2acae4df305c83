/**
 * A neighbour cache (one per address family): IPv4 → MAC learnt by ARP (RFC 826), IPv6 → MAC by
 * Neighbor Discovery (RFC 4861 §7.3). The states follow RFC 4861 §7.3.2 for both families
 * (INCOMPLETE, REACHABLE, STALE, DELAY, PROBE) plus FAILED, kept briefly so `neighbours()` shows
 * what happened; ARP gets the same Neighbor Unreachability Detection ("NUD-lite"): a reachable
 * entry goes stale after its reachable time, and the first use of a stale entry re-probes it
 * unicast after a short delay instead of trusting it forever.
 *
 * The cache is plain data with deadlines; the interface drives it through `poll(now, hooks)` and
 * sends the solicitations itself (`hooks.solicit`). Packets waiting for resolution are copies (the
 * transmit buffer is reused) with 14 bytes of headroom for the Ethernet header, bounded per entry.
 */

import { addr_equal, addr_hash, type IpAddr } from "../addr.ts";
import type { Rng } from "../../core/rng.ts";

export type NeighState = "incomplete" | "reachable" | "stale" | "delay" | "probe" | "failed";

export interface NeighEntry {
  addr: IpAddr;
  /** The link-layer address, -1 while unknown. */
  mac: number;
  state: NeighState;
  /** When the state's timer fires (Infinity for none). */
  deadline: number;
  /** Solicitations sent in the current INCOMPLETE / PROBE round. */
  probes: number;
  /** IP packets waiting for `mac`, each at offset 14 of its own array (Ethernet headroom). */
  pending: Uint8Array[];
}

/** What the cache asks of its interface. */
export interface NeighbourHooks {
  /** Send a solicitation for `e.addr`: multicast/broadcast, or unicast to `e.mac` (a NUD probe). */
  solicit(e: NeighEntry, unicast: boolean): void;
  /** Resolution failed: the interface drops (and reports) `e.pending`. */
  failed(e: NeighEntry): void;
}

export interface NeighbourOptions {
  maxEntries?: number;
  maxPending?: number;
  /** RFC 4861 §10 RETRANS_TIMER. */
  retransMs?: number;
  /** RFC 4861 §10 MAX_MULTICAST_SOLICIT / MAX_UNICAST_SOLICIT. */
  maxProbes?: number;
  /** RFC 4861 §10 REACHABLE_TIME (randomised ×0.5–1.5, §6.3.2). */
  reachableMs?: number;
  /** RFC 4861 §10 DELAY_FIRST_PROBE_TIME. */
  delayMs?: number;
  /** Stale entries are forgotten after this long unused; failed ones after `failedMs`. */
  staleMs?: number;
  failedMs?: number;
}

/** Snapshot form of one entry (pending packets are not carried: they are retransmitted above). */
export interface NeighSnapshot {
  addr: Uint8Array;
  mac: number;
  state: NeighState;
  deadline: number;
  probes: number;
}

export class NeighbourCache {
  /** Drops by reason; may be shared with the interface's counters. */
  readonly drops: Record<string, number>;
  readonly #map = new Map<number, NeighEntry>();
  readonly #rng: Rng;
  readonly maxEntries: number;
  readonly maxPending: number;
  retransMs: number;
  readonly maxProbes: number;
  reachableMs: number;
  readonly delayMs: number;
  readonly staleMs: number;
  readonly failedMs: number;

  constructor(rng: Rng, opts: NeighbourOptions = {}, drops: Record<string, number> = {}) {
    this.#rng = rng;
    this.drops = drops;
    this.maxEntries = opts.maxEntries ?? 512;
    this.maxPending = opts.maxPending ?? 16;
    this.retransMs = opts.retransMs ?? 1000;
    this.maxProbes = opts.maxProbes ?? 3;
    this.reachableMs = opts.reachableMs ?? 30_000;
    this.delayMs = opts.delayMs ?? 5000;
    this.staleMs = opts.staleMs ?? 600_000;
    this.failedMs = opts.failedMs ?? 20_000;
  }

  #drop(reason: string, n = 1): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + n;
  }

  /**
   * The table key: the address itself for IPv4, FNV-1a for IPv6. A 32-bit collision between two
   * IPv6 neighbours (odds ~n²/2³³) makes them share one slot, i.e. one evicts the other and is
   * re-resolved: a performance loss, never a wrong MAC, because `get` compares the bytes.
   */
  static key(a: IpAddr): number {
    return a.length === 4
      ? ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0
      : addr_hash(a, 0, 16);
  }

  get size(): number {
    return this.#map.size;
  }

  get(addr: IpAddr): NeighEntry | undefined {
    const e = this.#map.get(NeighbourCache.key(addr));
    return e !== undefined && addr_equal(e.addr, addr) ? e : undefined;
  }

  entries(): IterableIterator<NeighEntry> {
    return this.#map.values();
  }

  #reachable_time(): number {
    return Math.floor(this.reachableMs * (0.5 + this.#rng.float()));
  }

  /** Make room for one entry: forget a failed, then a stale one. False when all are busy. */
  #make_room(): boolean {
    if (this.#map.size < this.maxEntries) return true;
    let victim = -1;
    for (const [k, e] of this.#map) {
      if (e.state === "failed") {
        victim = k;
        break;
      }
      if (victim < 0 && e.state === "stale") victim = k;
    }
    if (victim < 0) {
      this.#drop("neigh_full");
      return false;
    }
    this.#map.delete(victim);
    return true;
  }

  /**
   * The entry to send `addr`'s packet to, for output. With a MAC, a stale entry starts NUD
   * (§7.3.3: DELAY). Without one, the entry is (re)started INCOMPLETE with a first solicitation;
   * the caller queues the packet with `enqueue`. Undefined when the table is full.
   */
  lookup(now: number, addr: IpAddr, hooks: NeighbourHooks): NeighEntry | undefined {
    const k = NeighbourCache.key(addr);
    let e = this.#map.get(k);
    if (e !== undefined && !addr_equal(e.addr, addr)) {
      this.#map.delete(k);
      e = undefined;
    }
    if (e !== undefined) {
      if (e.mac >= 0) {
        if (e.state === "stale") {
          e.state = "delay";
          e.deadline = now + this.delayMs;
        }
        return e;
      }
      if (e.state === "incomplete") return e;
      // failed: try again (as Linux does on new traffic), the caller's packet waits.
      e.state = "incomplete";
      e.probes = 1;
      e.deadline = now + this.retransMs;
      hooks.solicit(e, false);
      return e;
    }
    if (!this.#make_room()) return undefined;
    e = {
      addr: addr.slice(),
      mac: -1,
      state: "incomplete",
      deadline: now + this.retransMs,
      probes: 1,
      pending: [],
    };
    this.#map.set(k, e);
    hooks.solicit(e, false);
    return e;
  }

  /** Queue a copy of the IP packet `buf[off, off + len)` on an unresolved entry. */
  enqueue(e: NeighEntry, buf: Uint8Array, off: number, len: number): boolean {
    if (e.pending.length >= this.maxPending) {
      this.#drop("pending_full");
      return false;
    }
    const copy = new Uint8Array(14 + len);
    copy.set(buf.subarray(off, off + len), 14);
    e.pending.push(copy);
    return true;
  }

  /**
   * Record that `addr` is at `mac`. `confirmed` (a solicited answer) makes the entry REACHABLE,
   * otherwise it is STALE when new or changed (RFC 4861 §7.2.3, §7.2.5). `create` false only
   * updates an existing entry (RFC 826's merge step). Returns the entry when its queued packets
   * can now go out (the caller sends and clears `pending`), else undefined.
   */
  learn(
    now: number,
    addr: IpAddr,
    mac: number,
    confirmed: boolean,
    create: boolean,
  ): NeighEntry | undefined {
    const k = NeighbourCache.key(addr);
    let e = this.#map.get(k);
    if (e !== undefined && !addr_equal(e.addr, addr)) {
      if (!create) return undefined;
      this.#map.delete(k);
      e = undefined;
    }
    if (e === undefined) {
      if (!create || !this.#make_room()) return undefined;
      e = {
        addr: addr.slice(),
        mac,
        state: "stale",
        deadline: now + this.staleMs,
        probes: 0,
        pending: [],
      };
      this.#map.set(k, e);
      if (confirmed) {
        e.state = "reachable";
        e.deadline = now + this.#reachable_time();
      }
      return undefined;
    }
    const changed = e.mac !== mac;
    e.mac = mac;
    e.probes = 0;
    if (confirmed) {
      e.state = "reachable";
      e.deadline = now + this.#reachable_time();
    } else if (changed || e.state === "incomplete" || e.state === "failed") {
      e.state = "stale";
      e.deadline = now + this.staleMs;
    }
    return e.pending.length > 0 ? e : undefined;
  }

  /** A confirmation without a new address (e.g. an NA with S set and no TLLA). */
  confirm(now: number, e: NeighEntry): void {
    if (e.mac < 0) return;
    e.state = "reachable";
    e.probes = 0;
    e.deadline = now + this.#reachable_time();
  }

  delete(addr: IpAddr): void {
    const e = this.get(addr);
    if (e !== undefined) this.#map.delete(NeighbourCache.key(addr));
  }

  /** Run the due timers; returns the next deadline. */
  poll(now: number, hooks: NeighbourHooks): number {
    let next = Infinity;
    for (const [k, e] of this.#map) {
      if (e.deadline <= now) {
        switch (e.state) {
          case "incomplete":
            if (e.probes < this.maxProbes) {
              e.probes++;
              e.deadline = now + this.retransMs;
              hooks.solicit(e, false);
            } else {
              e.state = "failed";
              e.deadline = now + this.failedMs;
              if (e.pending.length > 0) {
                hooks.failed(e);
                this.#drop("neigh_failed", e.pending.length);
                e.pending = [];
              }
            }
            break;
          case "reachable":
            e.state = "stale";
            e.deadline = now + this.staleMs;
            break;
          case "delay":
            e.state = "probe";
            e.probes = 1;
            e.deadline = now + this.retransMs;
            hooks.solicit(e, true);
            break;
          case "probe":
            if (e.probes < this.maxProbes) {
              e.probes++;
              e.deadline = now + this.retransMs;
              hooks.solicit(e, true);
            } else {
              // RFC 4861 §7.3.3: no answer to unicast probes → the entry is deleted.
              this.#map.delete(k);
              continue;
            }
            break;
          case "stale":
          case "failed":
            this.#map.delete(k);
            continue;
        }
      }
      if (e.deadline < next) next = e.deadline;
    }
    return next;
  }

  snapshot(): NeighSnapshot[] {
    const out: NeighSnapshot[] = [];
    for (const e of this.#map.values()) {
      out.push({
        addr: e.addr.slice(),
        mac: e.mac,
        state: e.state,
        deadline: e.deadline,
        probes: e.probes,
      });
    }
    return out;
  }

  /** Load `entries`, shifting their deadlines by `shift` ms (the clock of the new host). */
  restore(entries: NeighSnapshot[], shift: number): void {
    this.#map.clear();
    for (const s of entries) {
      const e: NeighEntry = {
        addr: new Uint8Array(s.addr),
        mac: s.mac,
        state: s.state,
        deadline: s.deadline + shift,
        probes: s.probes,
        pending: [],
      };
      this.#map.set(NeighbourCache.key(e.addr), e);
    }
  }
}
