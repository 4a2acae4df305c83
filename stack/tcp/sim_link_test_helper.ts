/**
 * Test helper: TcpEngines on hosts joined by an in-memory IP "link" in simulated time. Segments
 * are copied at send (the IP layer's single copy) and delivered after `delayMs` (+ jitter), with
 * seeded random loss, reordering (extra delay) and duplication. Everything is driven by a
 * ManualClock and a SeededRng, so a run is repeatable bit for bit.
 */

import { ManualClock } from "../../core/clock.ts";
import { SeededRng } from "../../core/rng.ts";
import { addr_equal, type IpAddr } from "../addr.ts";
import type { IpOutput } from "../ip_io.ts";
import { TX_HEADROOM, TX_MAX_SEGMENT } from "../ip_io.ts";
import { TcpEngine, type TcpOptions } from "./engine.ts";

export interface LinkOptions {
  /** One-way delay in ms (default 1). */
  delayMs?: number;
  /** Extra uniform random delay in [0, jitterMs). */
  jitterMs?: number;
  /** Probability a packet is lost. */
  loss?: number;
  /** Probability a packet is held back by `reorderMs` (so later ones overtake it). */
  reorder?: number;
  reorderMs?: number;
  /** Probability a packet is delivered twice. */
  duplicate?: number;
  /** IP MTU (default 1500). */
  mtu?: number;
}

interface Pkt {
  at: number;
  order: number;
  from: SimHost;
  to: SimHost;
  data: Uint8Array;
  len: number;
}

/** A segment as the tap sees it; return "drop" to lose it. */
export type Tap = (from: SimHost, to: SimHost, seg: Uint8Array) => "drop" | void;

export class SimHost implements IpOutput {
  readonly tx = new Uint8Array(TX_HEADROOM + TX_MAX_SEGMENT);
  readonly addr: IpAddr;
  readonly net: SimNet;
  engine!: TcpEngine;
  /** Path MTU seen by this host (defaults to the link's). */
  mtu: number;
  /** Set by a test that makes sendIp fail as a full NIC queue would. */
  txBlocked = false;

  constructor(net: SimNet, addr: IpAddr, mtu: number) {
    this.net = net;
    this.addr = addr;
    this.mtu = mtu;
  }

  sendIp(src: IpAddr, dst: IpAddr, proto: number, len: number): boolean {
    if (proto !== 6 || len > this.maxSegmentTo(dst)) return false;
    return this.net.send(this, src, dst, this.tx, TX_HEADROOM, len);
  }

  maxSegmentTo(dst: IpAddr): number {
    return this.mtu - (dst.length === 4 ? 20 : 40);
  }

  sourceFor(dst: IpAddr): IpAddr | undefined {
    return dst.length === this.addr.length ? this.addr : undefined;
  }

  isLocal(a: IpAddr): boolean {
    return addr_equal(a, this.addr);
  }
}

export class SimNet {
  readonly clock: ManualClock;
  readonly rng: SeededRng;
  readonly hosts: SimHost[] = [];
  opts: Required<LinkOptions>;
  tap: Tap | undefined;
  readonly counts = { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0 };
  #queue: Pkt[] = [];
  #head = 0;
  #order = 0;
  #pool: Uint8Array[] = [];

  constructor(seed: number, opts: LinkOptions = {}) {
    this.clock = new ManualClock(1000);
    this.rng = new SeededRng(seed);
    this.opts = {
      delayMs: opts.delayMs ?? 1,
      jitterMs: opts.jitterMs ?? 0,
      loss: opts.loss ?? 0,
      reorder: opts.reorder ?? 0,
      reorderMs: opts.reorderMs ?? 3,
      duplicate: opts.duplicate ?? 0,
      mtu: opts.mtu ?? 1500,
    };
  }

  /** A host with address `addr` and its TCP engine (its own rng stream, seeded from the net's). */
  addHost(addr: IpAddr, engineOpts: Partial<TcpOptions> = {}): SimHost {
    const h = new SimHost(this, addr, this.opts.mtu);
    h.engine = new TcpEngine(h, {
      clock: this.clock,
      rng: new SeededRng(this.rng.u32()),
      ...engineOpts,
    });
    this.hosts.push(h);
    return h;
  }

  send(
    from: SimHost,
    _src: IpAddr,
    dst: IpAddr,
    buf: Uint8Array,
    off: number,
    len: number,
  ): boolean {
    const to = this.#host(dst);
    this.counts.sent++;
    if (!to) return false;
    if (this.tap && this.tap(from, to, buf.subarray(off, off + len)) === "drop") {
      this.counts.lost++;
      return true;
    }
    const o = this.opts;
    const rng = this.rng;
    if (o.loss > 0 && rng.float() < o.loss) {
      this.counts.lost++;
      return true;
    }
    let copies = 1;
    if (o.duplicate > 0 && rng.float() < o.duplicate) {
      copies = 2;
      this.counts.duplicated++;
    }
    for (let c = 0; c < copies; c++) {
      let at = this.clock.now() + o.delayMs;
      if (o.jitterMs > 0) at += rng.float() * o.jitterMs;
      if (o.reorder > 0 && rng.float() < o.reorder) {
        at += o.reorderMs;
        this.counts.reordered++;
      }
      const data = this.#pool.pop() ?? new Uint8Array(TX_MAX_SEGMENT);
      data.set(buf.subarray(off, off + len));
      this.#enqueue({ at, order: this.#order++, from, to, data, len });
    }
    return true;
  }

  #host(a: IpAddr): SimHost | undefined {
    const hs = this.hosts;
    for (let i = 0; i < hs.length; i++) if (addr_equal(hs[i].addr, a)) return hs[i];
    return undefined;
  }

  #enqueue(p: Pkt): void {
    const q = this.#queue;
    let i = q.length;
    while (i > this.#head && (q[i - 1].at > p.at)) i--;
    if (i === q.length) q.push(p);
    else q.splice(i, 0, p);
  }

  get inFlight(): number {
    return this.#queue.length - this.#head;
  }

  /** Deliver due packets and run timers until `until()` holds or nothing is left to do. */
  run(until: () => boolean, maxMs = 3_600_000): boolean {
    const end = this.clock.now() + maxMs;
    for (let steps = 0; steps < 50_000_000; steps++) {
      if (until()) return true;
      const now = this.clock.now();
      const q = this.#queue;
      while (this.#head < q.length && q[this.#head].at <= now) {
        const p = q[this.#head++];
        // Resolved at delivery: a host replaced meanwhile (migration) gets its packets.
        const to = this.#host(p.to.addr);
        if (to) {
          this.counts.delivered++;
          to.engine.input(p.from.addr, to.addr, p.data, 0, p.len, false);
        } else this.counts.lost++;
        this.#pool.push(p.data);
        if (until()) return true;
      }
      if (this.#head > 1024 && this.#head * 2 > q.length) {
        q.splice(0, this.#head);
        this.#head = 0;
      }
      let next = Infinity;
      for (const h of this.hosts) next = Math.min(next, h.engine.poll(now));
      if (until()) return true;
      if (this.#head < q.length) next = Math.min(next, q[this.#head].at);
      if (next <= now) continue;
      if (next === Infinity || next > end) return until();
      this.clock.advance(next - now);
    }
    return until();
  }

  /** Advance time by `ms`, running everything due. */
  runFor(ms: number): void {
    const end = this.clock.now() + ms;
    this.run(() => this.clock.now() >= end, ms);
    if (this.clock.now() < end) this.clock.advance(end - this.clock.now());
  }
}
