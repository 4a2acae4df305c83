import { assertEquals } from "@std/assert";
import { SeededRng } from "../core/rng.ts";
import { LEARN_REFUSED, LEARNED_NEW, MacTable } from "./mac_table.ts";

Deno.test("mac table: agrees with a reference Map under random learn/age/flush", () => {
  const rng = new SeededRng(42);
  const t = new MacTable(200, 50);
  const ref = new Map<string, { port: number; seen: number }>();
  let now = 0;
  for (let step = 0; step < 50_000; step++) {
    if (rng.below(100) === 0) now += rng.below(20);
    const vlan = 1 + rng.below(3);
    const hi = rng.below(4), lo = rng.below(150) | 0;
    const key = `${vlan}/${hi}/${lo}`;
    const op = rng.below(10);
    if (op < 6) {
      const port = 1 + rng.below(8);
      const r = t.learn(vlan, hi, lo, port, now);
      const old = ref.get(key);
      if (old && now - old.seen <= 50) assertEquals(r, old.port);
      if (r === LEARN_REFUSED) assertEquals(t.size, 200);
      else ref.set(key, { port, seen: now });
    } else if (op < 9) {
      const e = ref.get(key);
      const expected = e && now - e.seen <= 50 ? e.port : -1;
      assertEquals(t.lookup(vlan, hi, lo, now), expected, `lookup ${key} at step ${step}`);
      if (expected === -1) ref.delete(key);
    } else if (rng.below(50) === 0) {
      const port = 1 + rng.below(8);
      t.flush(port);
      for (const [k, v] of ref) if (v.port === port) ref.delete(k);
    }
  }
});

Deno.test("mac table: bounded; a full table refuses and counts, then sweeps aged entries", () => {
  const t = new MacTable(1000, 10);
  for (let i = 0; i < 1_000_000; i++) t.learn(1, 0x0200, i, 1, 0);
  assertEquals(t.size, 1000);
  assertEquals(t.refusals, 999_000);
  assertEquals(t.learn(1, 0x0200, -5, 2, 11), LEARNED_NEW, "after ageing, room again");
  assertEquals(t.aged, 1000);
  assertEquals(t.size, 1);
});

Deno.test("mac table: entries() reports MACs as 48-bit numbers with their VLAN and port", () => {
  const t = new MacTable();
  t.learn(7, 0x0200, 0x00000001, 3, 5);
  t.learn(7, 0xfeff, -1, 4, 5);
  const e = t.entries(6).sort((a, b) => a.mac - b.mac);
  assertEquals(e, [
    { vlan: 7, mac: 0x020000000001, port: 3, age: 1 },
    { vlan: 7, mac: 0xfeffffffffff, port: 4, age: 1 },
  ]);
});
