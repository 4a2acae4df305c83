import { assert, assertEquals } from "@std/assert";
import { SackScoreboard } from "./scoreboard.ts";

const MSS = 1000;

Deno.test("scoreboard merges overlapping and adjacent blocks and counts bytes", () => {
  const sb = new SackScoreboard();
  assert(sb.add(3000, 4000));
  assert(sb.add(6000, 7000));
  assert(sb.add(4000, 5000)); // adjacent: merges with [3000,4000)
  assert(!sb.add(3500, 4500)); // nothing new
  assertEquals(sb.ranges, [3000, 5000, 6000, 7000]);
  assertEquals(sb.sackedBytes, 3000);
  assert(sb.add(4500, 6500)); // bridges both
  assertEquals(sb.ranges, [3000, 7000]);
  assertEquals(sb.sackedBytes, 4000);
  assert(!sb.add(5000, 5000));
});

Deno.test("scoreboard works across sequence wrap-around", () => {
  const sb = new SackScoreboard();
  const base = 0xffffff00;
  sb.add(base + 0x80, (base + 0x180) >>> 0);
  sb.add(0x100, 0x200);
  assertEquals(sb.ranges, [base + 0x80, 0x80, 0x100, 0x200]);
  assertEquals(sb.sackedBytes, 0x200);
  sb.advance(0x10);
  assertEquals(sb.ranges, [0x10, 0x80, 0x100, 0x200]);
  assertEquals(sb.sackedBytes, 0x170);
  assertEquals(sb.unsackedIn(base, 0x300), 0x400 - 0x170); // 1024 bytes, 0x170 of them SACKed
});

Deno.test("advance forgets what SND.UNA covers", () => {
  const sb = new SackScoreboard();
  sb.add(2000, 3000);
  sb.add(4000, 6000);
  sb.advance(5000);
  assertEquals(sb.ranges, [5000, 6000]);
  assertEquals(sb.sackedBytes, 1000);
  sb.advance(7000);
  assert(sb.isEmpty);
  assertEquals(sb.sackedBytes, 0);
});

Deno.test("lossEdge: IsLost by DupThresh blocks or (DupThresh-1)*SMSS bytes (RFC 6675 §4)", () => {
  const sb = new SackScoreboard();
  const una = 0;
  sb.add(2000, 3000); // 1 block, 1000 bytes above [0,2000): not lost
  assertEquals(sb.lossEdge(una, MSS), una);
  sb.add(4000, 5000); // 2 blocks, 2000 bytes: not more than 2*SMSS
  assertEquals(sb.lossEdge(una, MSS), una);
  sb.add(6000, 6001); // 3 blocks above [0,2000): lost; [3000,4000) has only 2 blocks above
  assertEquals(sb.lossEdge(una, MSS), 2000);
  const big = new SackScoreboard();
  big.add(5000, 8001); // > 2*SMSS in one block
  assertEquals(big.lossEdge(una, MSS), 5000);
});

Deno.test("skipSacked, nextSackedStart and unsackedIn", () => {
  const sb = new SackScoreboard();
  sb.add(2000, 3000);
  sb.add(5000, 6000);
  assertEquals(sb.skipSacked(1000), 1000);
  assertEquals(sb.skipSacked(2500), 3000);
  assertEquals(sb.nextSackedStart(1000, 9000), 2000);
  assertEquals(sb.nextSackedStart(3000, 4000), 4000);
  assertEquals(sb.nextSackedStart(6000, 9000), 9000);
  assertEquals(sb.unsackedIn(0, 7000), 5000);
  assertEquals(sb.unsackedIn(2500, 5500), 2000);
});

Deno.test("bounded: the highest ranges are forgotten first", () => {
  const sb = new SackScoreboard(3);
  for (let i = 0; i < 5; i++) sb.add(1000 + 2000 * i, 2000 + 2000 * i);
  assertEquals(sb.ranges, [1000, 2000, 3000, 4000, 5000, 6000]);
  assertEquals(sb.sackedBytes, 3000);
  const copy = new SackScoreboard(3);
  copy.restore(sb.snapshot());
  assertEquals(copy.ranges, sb.ranges);
  assertEquals(copy.sackedBytes, 3000);
});
