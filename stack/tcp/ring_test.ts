import { assert, assertEquals, assertGreater } from "@std/assert";
import { SeededRng } from "../../core/rng.ts";
import { ByteRing } from "./ring.ts";

Deno.test("ByteRing: write, peek, read, discard across the wrap", () => {
  const r = new ByteRing(8);
  assertEquals(r.write(Uint8Array.of(1, 2, 3, 4, 5, 6)), 6);
  assertEquals(r.free, 2);
  const d = new Uint8Array(4);
  assertEquals(r.read(d), 4);
  assertEquals([...d], [1, 2, 3, 4]);
  // Head at 4: the next write wraps.
  assertEquals(r.write(Uint8Array.of(7, 8, 9, 10, 11, 12, 13)), 6);
  assertEquals(r.length, 8);
  const p = new Uint8Array(10);
  assertEquals(r.peek(1, p, 2, 10), 7);
  assertEquals([...p], [0, 0, 6, 7, 8, 9, 10, 11, 12, 0]);
  r.discard(3);
  assertEquals(r.length, 5);
  const all = new Uint8Array(8);
  assertEquals(r.read(all), 5);
  assertEquals([...all.subarray(0, 5)], [8, 9, 10, 11, 12]);
  assertEquals(r.read(all), 0);
});

Deno.test("ByteRing: writeAt beyond length, then commit makes it readable", () => {
  const r = new ByteRing(10);
  r.write(Uint8Array.of(1, 2));
  assertEquals(r.writeAt(5, Uint8Array.of(9, 9, 6, 7, 8), 2, 3), 3);
  assertEquals(r.length, 2);
  assertEquals(r.writeAt(2, Uint8Array.of(3, 4, 5), 0, 3), 3);
  r.commit(6);
  assertEquals(r.length, 8);
  const d = new Uint8Array(8);
  r.read(d);
  assertEquals([...d], [1, 2, 3, 4, 5, 6, 7, 8]);
  // Clamped to capacity: offset 8 of 10 stores only 2 bytes.
  assertEquals(r.writeAt(8, new Uint8Array(5), 0, 5), 2);
  assertEquals(r.writeAt(10, new Uint8Array(5), 0, 5), 0);
  r.commit(100);
  assertEquals(r.length, 10);
});

Deno.test("ByteRing: snapshot/restore keeps order and out-of-order bytes", () => {
  const r = new ByteRing(6);
  r.write(Uint8Array.of(1, 2, 3, 4, 5));
  r.discard(4);
  r.write(Uint8Array.of(6, 7)); // wraps
  r.writeAt(4, Uint8Array.of(9), 0, 1);
  const s = r.snapshot(5);
  // Offset 3 was never written since the wrap: its byte is stale and not meaningful.
  assertEquals([...s.data.subarray(0, 3)], [5, 6, 7]);
  assertEquals(s.data[4], 9);
  assertEquals(s.data.length, 5);
  assertEquals(s.length, 3);
  const q = ByteRing.restore(s);
  assertEquals(q.length, 3);
  q.writeAt(3, Uint8Array.of(8), 0, 1);
  q.commit(2);
  const d = new Uint8Array(5);
  assertEquals(q.read(d), 5);
  assertEquals([...d], [5, 6, 7, 8, 9]);
  assertEquals([...ByteRing.restore({ capacity: 4, data: Uint8Array.of(1, 2) }).snapshot().data], [
    1,
    2,
  ]);
});

Deno.test("ByteRing: random operations match an array model (incl. backing growth)", () => {
  const rng = new SeededRng(7);
  // 70,000 exceeds the 16 KiB initial backing: growth happens mid-wrap, with out-of-order bytes.
  for (const [cap, steps] of [[1, 4000], [5, 4000], [17, 4000], [64, 4000], [70_000, 400]]) {
    const r = new ByteRing(cap);
    // virt[i] is the byte at head+i, or -1 when nothing was placed there.
    let virt: number[] = new Array(cap).fill(-1);
    let len = 0;
    let next = 0;
    for (let step = 0; step < steps; step++) {
      const op = rng.below(6);
      if (op === 0) {
        const n = rng.below(cap + 3);
        const src = new Uint8Array(n).map(() => (next++) & 0xff);
        const w = r.write(src);
        assertEquals(w, Math.min(n, cap - len));
        for (let i = 0; i < w; i++) virt[len + i] = src[i];
        len += w;
      } else if (op === 1) {
        const dst = new Uint8Array(rng.below(cap + 3));
        const n = r.read(dst);
        assertEquals(n, Math.min(dst.length, len));
        assertEquals([...dst.subarray(0, n)], virt.slice(0, n));
        virt = virt.slice(n).concat(new Array(n).fill(-1));
        len -= n;
      } else if (op === 2) {
        const off = rng.below(cap + 1);
        const ln = rng.below(cap + 1);
        const dst = new Uint8Array(cap + 2);
        const dOff = rng.below(3);
        const n = r.peek(off, dst, dOff, ln);
        assertEquals(n, Math.max(0, Math.min(ln, len - off)));
        assertEquals([...dst.subarray(dOff, dOff + n)], virt.slice(off, off + n));
      } else if (op === 3) {
        const k = rng.below(cap + 2);
        r.discard(k);
        const m = Math.min(k, len);
        virt = virt.slice(m).concat(new Array(m).fill(-1));
        len -= m;
      } else if (op === 4) {
        const off = len + rng.below(cap + 1 - len);
        const n = rng.below(cap + 1);
        const src = new Uint8Array(n + 1).map(() => (next++) & 0xff);
        const w = r.writeAt(off, src, 1, n);
        assertEquals(w, Math.max(0, Math.min(n, cap - off)));
        for (let i = 0; i < w; i++) virt[off + i] = src[1 + i];
      } else {
        // Commit only bytes that were placed, as the engine does.
        let n = 0;
        while (len + n < cap && virt[len + n] >= 0 && n < 1 + rng.below(cap)) n++;
        r.commit(n);
        len += n;
      }
      assertEquals(r.length, len);
      assertEquals(r.free, cap - len);
    }
    assertEquals([...r.snapshot().data], virt.slice(0, len));
    assert(virt.slice(0, len).every((b) => b >= 0));
    if (cap > 16384) assertGreater(r.allocated, 16384, "the backing grew");
  }
});

Deno.test("ByteRing: no backing memory until the first write, then only what is used", () => {
  const r = new ByteRing(2 * 1024 * 1024);
  assertEquals(r.allocated, 0);
  r.write(new Uint8Array(1000));
  assertEquals(r.allocated, 4 * 1024);
  r.write(new Uint8Array(100_000));
  assertEquals(r.allocated, 128 * 1024);
  r.write(new Uint8Array(4 * 1024 * 1024));
  assertEquals(r.allocated, 2 * 1024 * 1024);
  assertEquals(r.length, 2 * 1024 * 1024);
});

Deno.test("ByteRing.release: an empty ring's 4 KiB backing is reused zeroed; a ring holding bytes keeps them", () => {
  const a = new ByteRing(1 << 20);
  a.write(new Uint8Array([1, 2, 3]));
  a.writeAt(10, new Uint8Array([9, 9]), 0, 2); // out-of-order bytes beyond length
  a.read(new Uint8Array(3));
  const before = ByteRing.spareBackings;
  a.release();
  assertEquals(a.allocated, 0);
  assertEquals(ByteRing.spareBackings, before + 1);
  const b = new ByteRing(1 << 20);
  b.write(new Uint8Array([7]));
  assertEquals(ByteRing.spareBackings, before, "the spare backing was taken");
  assertEquals(
    b.snapshot(16).data,
    new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
  );
  const c = new ByteRing(1 << 20);
  c.write(new Uint8Array([5, 6]));
  c.release();
  assertEquals(c.length, 2);
  const out = new Uint8Array(2);
  assertEquals(c.read(out), 2);
  assertEquals(out, new Uint8Array([5, 6]));
});
