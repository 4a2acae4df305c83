import { assert, assertEquals } from "@std/assert";
import { SeededRng } from "../../core/rng.ts";
import { addr_from_v4, parse_addr } from "../addr.ts";
import { NeighbourCache, type NeighbourHooks } from "./neighbour.ts";

function hooks() {
  const log: string[] = [];
  const h: NeighbourHooks = {
    solicit: (e, unicast) => log.push(`${unicast ? "u" : "m"} ${e.addr.join(".")}`),
    failed: (e) => log.push(`failed ${e.addr.join(".")} ${e.pending.length}`),
  };
  return { log, h };
}

Deno.test("neighbour: bounded size evicts stale entries first, refuses when all are busy", () => {
  const c = new NeighbourCache(new SeededRng(1), { maxEntries: 4 });
  const { h } = hooks();
  for (let i = 1; i <= 4; i++) c.lookup(0, addr_from_v4(i), h); // 4 incomplete
  assertEquals(c.lookup(0, addr_from_v4(5), h), undefined);
  assertEquals(c.drops.neigh_full, 1);
  c.learn(0, addr_from_v4(2), 0x0200000000aa, false, true); // → stale
  assert(c.lookup(0, addr_from_v4(5), h) !== undefined);
  assertEquals(c.get(addr_from_v4(2)), undefined, "the stale one was evicted");
  assertEquals(c.size, 4);
});

Deno.test("neighbour: incomplete → 3 solicitations → failed with the queue handed back", () => {
  const c = new NeighbourCache(new SeededRng(1));
  const { log, h } = hooks();
  const a = parse_addr("10.1.1.1")!;
  const e = c.lookup(0, a, h)!;
  assert(c.enqueue(e, new Uint8Array(10), 0, 10));
  assertEquals(e.pending[0].length, 24, "14 bytes of Ethernet headroom");
  let t = 0;
  for (let i = 0; i < 4; i++) t = c.poll(t, h);
  assertEquals(log, ["m 10.1.1.1", "m 10.1.1.1", "m 10.1.1.1", "failed 10.1.1.1 1"]);
  assertEquals(c.get(a)!.state, "failed");
  assertEquals(c.drops.neigh_failed, 1);
  c.poll(t, h); // failed entries are forgotten after failedMs
  assertEquals(c.get(a), undefined);
});

Deno.test("neighbour: snapshot/restore shifts deadlines", () => {
  const c = new NeighbourCache(new SeededRng(1));
  c.learn(100, parse_addr("fd00::1")!, 0x02000000000b, true, true);
  const s = c.snapshot();
  const d = new NeighbourCache(new SeededRng(2));
  d.restore(s, 1000);
  const e = d.get(parse_addr("fd00::1")!)!;
  assertEquals([e.mac, e.state, e.deadline], [0x02000000000b, "reachable", s[0].deadline + 1000]);
});
