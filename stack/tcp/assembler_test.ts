import { assert, assertEquals } from "@std/assert";
import { SeededRng } from "../../core/rng.ts";
import { Assembler } from "./assembler.ts";

/** Runs of set bits in the model, as [start, end) pairs in offset order. */
function runs(bits: boolean[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < bits.length; i++) {
    if (bits[i] && (i === 0 || !bits[i - 1])) out.push([i, i]);
    if (bits[i]) out[out.length - 1][1] = i + 1;
  }
  return out;
}

function sorted(a: Array<[number, number]>): Array<[number, number]> {
  return [...a].sort((x, y) => x[0] - y[0]);
}

Deno.test("Assembler: merges overlapping and touching ranges, takeFront joins the hole", () => {
  const a = new Assembler(4);
  assert(a.isEmpty);
  assert(a.add(10, 5));
  assert(a.add(20, 5));
  assert(a.add(15, 5)); // touches both: one range [10, 25)
  assertEquals(a.snapshot(), [[10, 25]]);
  assertEquals(a.takeFront(), 0);
  assert(a.add(0, 10)); // the in-order segment fills the hole
  assertEquals(a.takeFront(), 25);
  assert(a.isEmpty);
  assert(a.add(3, 2));
  a.shift(4); // [3,5) -> [0,1) after consuming 4 bytes not in a range (cut at 0)
  assertEquals(a.snapshot(), [[0, 1]]);
  a.shift(1);
  assert(a.isEmpty);
});

Deno.test("Assembler: refuses a range needing more than maxRanges, changing nothing", () => {
  const a = new Assembler(2);
  assert(a.add(10, 2));
  assert(a.add(20, 2));
  const before = a.snapshot();
  assertEquals(a.add(30, 2), false);
  assertEquals(a.add(5, 2), false);
  assertEquals(a.snapshot(), before);
  assert(a.add(12, 8)); // joins both: fine even when full
  assertEquals(a.snapshot(), [[10, 22]]);
});

Deno.test("Assembler: SACK blocks, most recent first (RFC 2018 §4)", () => {
  const a = new Assembler();
  a.add(10, 5);
  a.add(30, 5);
  a.add(50, 5);
  const out: number[] = [];
  assertEquals(a.sackBlocks(out, 4), 3);
  assertEquals(out.slice(0, 6), [50, 55, 30, 35, 10, 15]);
  a.add(15, 3); // extends the oldest range: it now holds the newest segment
  assertEquals(a.sackBlocks(out, 3), 3);
  assertEquals(out.slice(0, 6), [10, 18, 50, 55, 30, 35]);
  assertEquals(a.sackBlocks(out, 2), 2);
  assertEquals(out.slice(0, 4), [10, 18, 50, 55]);
  // Snapshot keeps recency, so a restored assembler reports the same order.
  const b = Assembler.restore(a.snapshot());
  assertEquals(b.sackBlocks(out, 3), 3);
  assertEquals(out.slice(0, 6), [10, 18, 50, 55, 30, 35]);
  // takeFront keeps the others' order, shifted.
  a.add(0, 10);
  assertEquals(a.takeFront(), 18);
  assertEquals(a.sackBlocks(out, 3), 2);
  assertEquals(out.slice(0, 4), [32, 37, 12, 17]);
});

Deno.test("Assembler: random segments match a bitmap model", () => {
  const rng = new SeededRng(42);
  const W = 300;
  for (const maxRanges of [1, 3, 8, 32]) {
    const a = new Assembler(maxRanges);
    let bits: boolean[] = new Array(W).fill(false);
    let refused = 0;
    for (let step = 0; step < 3000; step++) {
      const inOrder = rng.below(8) === 0;
      const off = inOrder ? 0 : rng.below(W - 40);
      const len = 1 + rng.below(40);
      const trial = bits.slice();
      for (let i = off; i < off + len; i++) trial[i] = true;
      const ok = a.add(off, len);
      const before = runs(bits);
      if (ok) {
        bits = trial;
      } else {
        refused++;
        assertEquals(runs(trial).length, maxRanges + 1);
        assertEquals(sorted(a.snapshot()), before);
      }
      // The newest segment is in the first SACK block.
      const out: number[] = [];
      if (ok) {
        assert(a.sackBlocks(out, 3) > 0);
        assert(
          out[0] <= off && off + len <= out[1],
          `block ${out[0]}-${out[1]} lacks ${off}+${len}`,
        );
      }
      if (ok && inOrder) {
        let n = 0;
        while (bits[n]) n++;
        assertEquals(a.takeFront(), n);
        bits = bits.slice(n).concat(new Array(n).fill(false));
      } else if (rng.below(10) === 0) {
        const n = rng.below(10);
        a.shift(n);
        bits = bits.slice(n).concat(new Array(n).fill(false));
      }
      assertEquals(sorted(a.snapshot()), runs(bits));
      assertEquals(a.isEmpty, runs(bits).length === 0);
      const r = runs(bits);
      assertEquals(a.extent, r.length === 0 ? 0 : r[r.length - 1][1]);
    }
    if (maxRanges <= 3) assert(refused > 0, "the limit was exercised");
  }
});
