/**
 * IP fragment reassembly for IPv4 (RFC 791 §3.2, RFC 815) and IPv6 (RFC 8200 §4.5): one state
 * machine for both families, fed by the IP layer with the fragment fields it parsed.
 *
 * Policy, and why:
 * - Overlapping fragments discard the whole datagram, and fragments of it that arrive later
 *   (RFC 5722 §4 for IPv6). IPv4 gets the same rule: RFC 791 lets the last copy win, which makes
 *   the reassembled bytes depend on the receiver's policy; overlaps are the tool of the TCP
 *   header overwrite attack (RFC 1858 §3.2) and IDS evasion, and no sender that fragments once
 *   produces them (a router re-fragmenting a fragment cuts it into disjoint pieces). Exact
 *   duplicates (same offset and length: the network duplicated a packet) are dropped alone, as
 *   RFC 5722 §4 allows, so a duplicate does not cost the datagram.
 * - Timeout 30 s by default, from the first fragment, not restarted (RFC 8200 §4.5). RFC 8200
 *   says 60 s and RFC 1122 §3.3.2 60-120 s, RFC 791 suggests a 15 s initial value; 30 s is
 *   Linux's ipfrag_time for both families. It halves the time garbage holds memory compared with
 *   60 s, and with 16-bit IPv4 IDs a shorter life lowers the chance that a stale fragment is
 *   joined to a new datagram reusing its ID (RFC 4963 §2).
 * - Memory is bounded by `maxDatagrams` datagrams and `maxBytes` of buffer held in total: a new
 *   datagram beyond either is refused, an existing one that would grow past `maxBytes` is
 *   discarded, both counted "full". Refusing new work (rather than evicting the oldest) means a
 *   flood cannot flush reassemblies already under way.
 * - The key is (src, dst, proto, id) for IPv4 (RFC 791 §3.2) and (src, dst, id) for IPv6: RFC
 *   8200 §4.5 lets the Next Header of the fragments differ, only the first fragment's counts,
 *   which the IP layer reads itself. The key bytes are hashed to a number; the full key is
 *   compared only on a hash match. No strings per fragment.
 * - Each datagram holds one buffer, sized exactly once the last fragment gives the total length
 *   (doubling before that), and its received ranges as sorted [start, end) pairs: an overlap is
 *   found by binary search against the two neighbours, and the datagram is complete when the
 *   bytes received (disjoint ranges) reach the total.
 */

import { addr_hash, type IpAddr } from "../addr.ts";
import type { Timed } from "../ip_io.ts";

/** The largest IP payload a datagram reassembles to (16-bit length fields; no jumbograms). */
export const REASSEMBLY_MAX = 65535;

export interface ReassemblerOptions {
  /** Datagrams under reassembly at once (64). */
  maxDatagrams?: number;
  /** Buffer bytes held by all of them (4 MiB). */
  maxBytes?: number;
  /** How long an incomplete datagram is kept after its first fragment, in ms (30000). */
  timeoutMs?: number;
}

/** One datagram under reassembly; plain data, reused after it completes or expires. */
interface Slot {
  used: boolean;
  hash: number;
  /** Address length (4 or 16) and the address bytes. */
  alen: number;
  src: Uint8Array;
  dst: Uint8Array;
  proto: number;
  id: number;
  /** When it expires (ms). */
  deadline: number;
  /** Discarded after an overlap or a bad length: later fragments of it are dropped too. */
  dead: boolean;
  buf: Uint8Array | undefined;
  /** Total payload length once the last fragment (MF = 0) arrived, else -1. */
  total: number;
  /** Bytes received (the ranges are disjoint, so this is their coverage). */
  received: number;
  /** Received ranges as start, end pairs sorted by start. */
  ranges: number[];
}

export class Reassembler implements Timed {
  readonly drops: Record<string, number> = {};
  readonly stats = { reassembled: 0 };
  readonly maxDatagrams: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  #slots: Slot[] = [];
  #active = 0;
  #held = 0;

  constructor(opts: ReassemblerOptions = {}) {
    this.maxDatagrams = opts.maxDatagrams ?? 64;
    this.maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** Datagrams currently held (incomplete, or discarded and waiting out their timeout). */
  get datagrams(): number {
    return this.#active;
  }

  /** Buffer bytes currently held. */
  get bytesHeld(): number {
    return this.#held;
  }

  /**
   * One fragment: `offset` in bytes, `more` = MF flag, `payload` borrowed. Key = (src, dst, proto,
   * id) (proto ignored for IPv6, see above). Returns the whole reassembled payload (a new
   * Uint8Array the caller owns) when complete, else undefined.
   */
  add(
    now: number,
    src: IpAddr,
    dst: IpAddr,
    proto: number,
    id: number,
    offset: number,
    more: boolean,
    payload: Uint8Array,
  ): Uint8Array | undefined {
    const len = payload.length, end = offset + len;
    if (end > REASSEMBLY_MAX) return this.#drop("too_big", this.#find(src, dst, proto, id));
    // RFC 791 §3.2 / RFC 8200 §4.5: offsets count 8-byte units, and every fragment but the last
    // carries a multiple of 8 bytes (RFC 8200: otherwise discard, send a Parameter Problem).
    if ((offset & 7) !== 0 || (more && (len & 7) !== 0)) return this.#count("unaligned");
    if (more && len === 0) return this.#count("empty");
    // Not a fragment at all (RFC 6946: an atomic fragment is processed in isolation).
    if (offset === 0 && !more) return payload.slice();
    const s = this.#find(src, dst, proto, id) ?? this.#create(now, src, dst, proto, id);
    if (s === undefined) return undefined;
    if (s.dead) return this.#count("dead");
    if (!more) {
      // The last fragment fixes the total; a second, different one, or data already past it, is
      // an inconsistent datagram.
      if (s.total >= 0 && s.total !== end) return this.#kill(s, "inconsistent");
      const r = s.ranges;
      if (r.length > 0 && r[r.length - 1] > end) return this.#kill(s, "inconsistent");
      s.total = end;
    } else if (s.total >= 0 && end > s.total) {
      return this.#kill(s, "inconsistent");
    }
    // Binary search for the first range starting at or after `offset`.
    const r = s.ranges;
    let lo = 0, hi = r.length >>> 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r[2 * mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    const at = 2 * lo;
    if (at < r.length && r[at] === offset && r[at + 1] === end) return this.#count("duplicate");
    if ((at > 0 && r[at - 1] > offset) || (at < r.length && r[at] < end)) {
      return this.#kill(s, "overlap");
    }
    if (!this.#reserve(s, end)) {
      if (r.length > 0) return this.#kill(s, "full");
      this.#free(s); // a new datagram is refused, not remembered
      return this.#count("full");
    }
    s.buf!.set(payload, offset);
    r.splice(at, 0, offset, end);
    s.received += len;
    if (s.total < 0 || s.received !== s.total) return undefined;
    const out = s.buf!;
    this.#free(s);
    this.stats.reassembled++;
    return out;
  }

  /** Expire datagrams past their deadline (counted "timeout" unless already discarded). */
  poll(now: number): number {
    let next = Infinity;
    for (const s of this.#slots) {
      if (!s.used) continue;
      if (s.deadline <= now) {
        if (!s.dead) this.#count("timeout");
        this.#free(s);
      } else if (s.deadline < next) {
        next = s.deadline;
      }
    }
    return next;
  }

  #count(reason: string): undefined {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    return undefined;
  }

  /** Count a bad fragment; when its datagram is under way, it cannot complete: discard it. */
  #drop(reason: string, s: Slot | undefined): undefined {
    if (s !== undefined && !s.dead) return this.#kill(s, reason);
    return this.#count(reason);
  }

  /** Discard a datagram's data but keep its key until the deadline, so later fragments drop. */
  #kill(s: Slot, reason: string): undefined {
    this.#held -= s.buf?.length ?? 0;
    s.buf = undefined;
    s.dead = true;
    s.ranges.length = 0;
    s.received = 0;
    return this.#count(reason);
  }

  #free(s: Slot): void {
    this.#held -= s.buf?.length ?? 0;
    s.buf = undefined;
    s.used = false;
    s.ranges.length = 0;
    this.#active--;
  }

  #hash(src: IpAddr, dst: IpAddr, proto: number, id: number): number {
    const v6 = src.length === 16;
    const h = addr_hash(src, 0, src.length, (id ^ (v6 ? 0 : proto << 16)) >>> 0);
    return addr_hash(dst, 0, dst.length, h);
  }

  #find(src: IpAddr, dst: IpAddr, proto: number, id: number): Slot | undefined {
    if (this.#active === 0) return undefined;
    const h = this.#hash(src, dst, proto, id), v6 = src.length === 16;
    for (const s of this.#slots) {
      if (!s.used || s.hash !== h || s.id !== id || s.alen !== src.length) continue;
      if (!v6 && s.proto !== proto) continue;
      let same = true;
      for (let i = 0; i < s.alen && same; i++) same = s.src[i] === src[i] && s.dst[i] === dst[i];
      if (same) return s;
    }
    return undefined;
  }

  #create(now: number, src: IpAddr, dst: IpAddr, proto: number, id: number): Slot | undefined {
    if (this.#active >= this.maxDatagrams) return this.#count("full");
    let s = this.#slots.find((x) => !x.used);
    if (s === undefined) {
      s = {
        used: false,
        hash: 0,
        alen: 0,
        src: new Uint8Array(16),
        dst: new Uint8Array(16),
        proto: 0,
        id: 0,
        deadline: 0,
        dead: false,
        buf: undefined,
        total: -1,
        received: 0,
        ranges: [],
      };
      this.#slots.push(s);
    }
    s.used = true;
    s.hash = this.#hash(src, dst, proto, id);
    s.alen = src.length;
    s.src.set(src);
    s.dst.set(dst);
    s.proto = proto;
    s.id = id;
    s.deadline = now + this.timeoutMs;
    s.dead = false;
    s.total = -1;
    s.received = 0;
    this.#active++;
    return s;
  }

  /** Make the buffer hold `end` bytes within `maxBytes`; exact once the total is known. */
  #reserve(s: Slot, end: number): boolean {
    const have = s.buf?.length ?? 0;
    let want = have;
    if (s.total >= 0) want = s.total;
    else if (end > have) want = Math.min(REASSEMBLY_MAX, Math.max(end, 2 * have, 2048));
    if (want === have) return true;
    if (this.#held - have + want > this.maxBytes) return false;
    const nb = new Uint8Array(want);
    if (s.buf !== undefined) nb.set(s.buf.subarray(0, Math.min(have, want)));
    s.buf = nb;
    this.#held += want - have;
    return true;
  }
}
