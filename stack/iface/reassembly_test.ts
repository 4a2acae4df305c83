import { assert, assertEquals } from "@std/assert";
import { SeededRng } from "../../core/rng.ts";
import { parse_addr } from "../addr.ts";
import { Reassembler } from "./reassembly.ts";

const A4 = parse_addr("10.0.0.1")!, B4 = parse_addr("10.0.0.2")!;
const A6 = parse_addr("fd00::1")!, B6 = parse_addr("fd00::2")!;

/** A payload of `n` bytes with a recognisable pattern. */
function data(n: number, seed = 1): Uint8Array {
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) d[i] = (i * 7 + seed) & 255;
  return d;
}

interface Frag {
  offset: number;
  more: boolean;
  payload: Uint8Array;
}

/** Cut `d` into fragments of `size` bytes (a multiple of 8). */
function cut(d: Uint8Array, size: number): Frag[] {
  const out: Frag[] = [];
  for (let o = 0; o < d.length; o += size) {
    const e = Math.min(o + size, d.length);
    out.push({ offset: o, more: e < d.length, payload: d.slice(o, e) });
  }
  return out;
}

/** Feed `frags` in order; every result before the last must be undefined. */
function feed(r: Reassembler, frags: Frag[], src = A4, dst = B4, id = 7, now = 0) {
  let got: Uint8Array | undefined;
  for (let i = 0; i < frags.length; i++) {
    const f = frags[i];
    got = r.add(now, src, dst, 17, id, f.offset, f.more, f.payload);
    if (i < frags.length - 1) assertEquals(got, undefined, `fragment ${i} completed early`);
  }
  return got;
}

Deno.test("reassembly: in order, reverse and seeded shuffles give the exact payload", () => {
  const d = data(5000);
  const r = new Reassembler();
  assertEquals(feed(r, cut(d, 1480)), d);
  assertEquals(feed(r, cut(d, 1480).reverse(), A4, B4, 8), d);
  const rng = new SeededRng(42);
  for (let k = 0; k < 20; k++) {
    const f = cut(d, 8 * (1 + rng.below(200)));
    for (let i = f.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [f[i], f[j]] = [f[j], f[i]];
    }
    assertEquals(feed(r, f, A4, B4, 100 + k), d, `shuffle ${k}`);
  }
  assertEquals(r.stats.reassembled, 22);
  assertEquals([r.datagrams, r.bytesHeld, r.drops], [0, 0, {}]);
});

Deno.test("reassembly: the result is the caller's: later fragments do not touch it", () => {
  const r = new Reassembler();
  const d = data(3000);
  const got = feed(r, cut(d, 1000 - 1000 % 8))!;
  const again = feed(r, cut(data(3000, 9), 992))!;
  assertEquals(got, d);
  assert(got.buffer !== again.buffer);
  assertEquals(got.length, 3000);
});

Deno.test("reassembly: exact duplicates are dropped alone; overlaps kill the datagram (RFC 5722)", () => {
  const r = new Reassembler();
  const d = data(3000);
  const f = cut(d, 1000 - 1000 % 8); // 1000-byte pieces
  assertEquals(r.add(0, A4, B4, 17, 1, f[0].offset, true, f[0].payload), undefined);
  assertEquals(r.add(0, A4, B4, 17, 1, f[0].offset, true, f[0].payload), undefined);
  assertEquals(r.drops.duplicate, 1);
  assertEquals(feed(r, f.slice(1), A4, B4, 1), d);

  // Overlap: a fragment 8 bytes into the first one. The datagram is gone, and the fragments
  // still to come are dropped too (RFC 5722 §4 "including those not yet received").
  assertEquals(r.add(0, A4, B4, 17, 2, 0, true, d.subarray(0, 992)), undefined);
  assertEquals(r.add(0, A4, B4, 17, 2, 984, true, d.subarray(984, 1984)), undefined);
  assertEquals(r.drops.overlap, 1);
  assertEquals(r.bytesHeld, 0);
  for (const x of f.slice(1)) {
    assertEquals(r.add(0, A4, B4, 17, 2, x.offset, x.more, x.payload), undefined);
  }
  assertEquals(r.drops.dead, 2);
  // Overlap from the other side (a later piece reaching into an earlier one) in IPv6.
  r.add(0, A6, B6, 44, 3, 992, true, d.subarray(992, 1984)); // 0..1000 reaches into it
  r.add(0, A6, B6, 44, 3, 0, true, d.subarray(0, 1004)); // not a multiple of 8
  assertEquals(r.drops.unaligned, 1);
  r.add(0, A6, B6, 44, 3, 0, true, d.subarray(0, 1000));
  assertEquals(r.drops.overlap, 2);
  // Expiry frees the dead keys: a new datagram with the old id reassembles.
  assertEquals(r.poll(0), 30_000);
  assertEquals(r.poll(30_000), Infinity);
  assertEquals([r.datagrams, r.drops.timeout], [0, undefined]); // dead ones are not timeouts
  assertEquals(feed(r, f, A4, B4, 2, 30_000), d);
});

Deno.test("reassembly: timeout from the first fragment, not restarted; poll gives the deadline", () => {
  const r = new Reassembler({ timeoutMs: 15_000 });
  const d = data(3000);
  const f = cut(d, 1480);
  assertEquals(r.poll(0), Infinity);
  r.add(1000, A4, B4, 6, 5, f[0].offset, f[0].more, f[0].payload);
  r.add(9000, A4, B4, 6, 5, f[1].offset, f[1].more, f[1].payload);
  assertEquals(r.poll(9000), 16_000);
  assertEquals(r.poll(15_999), 16_000);
  assertEquals(r.poll(16_000), Infinity);
  assertEquals([r.drops.timeout, r.datagrams, r.bytesHeld], [1, 0, 0]);
  // The last fragment alone starts a new datagram that cannot complete.
  assertEquals(r.add(16_000, A4, B4, 6, 5, f[2].offset, f[2].more, f[2].payload), undefined);
  assertEquals(r.datagrams, 1);
});

Deno.test("reassembly: limits: datagrams, bytes, 65535, alignment, inconsistent totals", () => {
  const r = new Reassembler({ maxDatagrams: 3, maxBytes: 10_000 });
  const p = data(1480);
  for (let id = 0; id < 3; id++) r.add(0, A4, B4, 17, id, 0, true, p);
  assertEquals(r.add(0, A4, B4, 17, 3, 0, true, p), undefined);
  assertEquals([r.drops.full, r.datagrams], [1, 3]);
  // Bytes: three 2048-byte buffers are held; growing one to 9480 passes 10000 and kills it.
  assertEquals(r.bytesHeld, 3 * 2048);
  r.add(0, A4, B4, 17, 0, 8000, false, p);
  assertEquals([r.drops.full, r.datagrams], [2, 3]); // dead key kept until its deadline
  assertEquals(r.bytesHeld, 2 * 2048);
  r.poll(30_000);

  const q = new Reassembler();
  // Past 65535.
  assertEquals(q.add(0, A4, B4, 17, 1, 65528, false, p), undefined);
  assertEquals(q.drops.too_big, 1);
  // ... which also discards that datagram when it is under way.
  q.add(0, A4, B4, 17, 2, 0, true, p);
  q.add(0, A4, B4, 17, 2, 65000, true, p);
  assertEquals(q.drops.too_big, 2);
  assertEquals(q.add(0, A4, B4, 17, 2, 1480, false, p), undefined);
  assertEquals(q.drops.dead, 1);
  // A middle fragment that is not a multiple of 8, an odd offset, an empty middle fragment.
  q.add(0, A4, B4, 17, 3, 0, true, p.subarray(0, 100));
  q.add(0, A4, B4, 17, 3, 4, true, p.subarray(0, 8));
  q.add(0, A4, B4, 17, 3, 8, true, p.subarray(0, 0));
  assertEquals([q.drops.unaligned, q.drops.empty], [2, 1]);
  // Two different last fragments, and a middle fragment past the known end.
  q.add(0, A4, B4, 17, 4, 1480, false, p);
  q.add(0, A4, B4, 17, 4, 1480, false, p.subarray(0, 100));
  q.add(0, A4, B4, 17, 5, 0, false, p.subarray(0, 0)); // offset 0, MF 0: not a fragment
  q.add(0, A4, B4, 17, 6, 16, false, p.subarray(0, 8));
  q.add(0, A4, B4, 17, 6, 0, true, p.subarray(0, 32));
  assertEquals(q.drops.inconsistent, 2);
  // A datagram of exactly 65535 bytes reassembles.
  const big = data(65535);
  assertEquals(feed(q, cut(big, 8 * 1000), A6, B6, 9), big);
});

Deno.test("reassembly: keys: v4 proto matters, v6 proto does not; families and ids kept apart", () => {
  const r = new Reassembler();
  const d = data(2000);
  const [a, b] = cut(d, 1000 - 1000 % 8);
  // IPv4: same src/dst/id, proto 6 vs 17 are different datagrams.
  r.add(0, A4, B4, 6, 1, a.offset, a.more, a.payload);
  assertEquals(r.add(0, A4, B4, 17, 1, b.offset, b.more, b.payload), undefined);
  assertEquals(r.datagrams, 2);
  // IPv6 (RFC 8200 §4.5): the key is src, dst, id; the fragments' Next Header may differ.
  r.add(0, A6, B6, 6, 1, a.offset, a.more, a.payload);
  assertEquals(r.add(0, A6, B6, 17, 1, b.offset, b.more, b.payload), d);
  // Swapped addresses and another id are other datagrams.
  r.add(0, B6, A6, 17, 1, a.offset, a.more, a.payload);
  r.add(0, A6, B6, 17, 2, b.offset, b.more, b.payload);
  assertEquals(r.datagrams, 4);
  // A v4 datagram and a v6 one with the same id complete independently.
  assertEquals(r.add(0, A4, B4, 6, 1, b.offset, b.more, b.payload), d);
  assertEquals(r.add(0, B6, A6, 17, 1, b.offset, b.more, b.payload), d);
  assertEquals(r.add(0, A4, B4, 17, 1, a.offset, a.more, a.payload), d);
  assertEquals(r.datagrams, 1);
  assertEquals(r.stats.reassembled, 4);
});
