import { assertEquals } from "@std/assert";
import { parse_addr } from "../addr.ts";
import { PMTU_EXPIRY_MS, PmtuCache } from "./pmtu.ts";

Deno.test("pmtu: lowers only, clamps to the family floor, expires, stays bounded", () => {
  const c = new PmtuCache(2);
  const a = parse_addr("10.0.0.1")!, b = parse_addr("10.0.0.2")!, x = parse_addr("fd00::1")!;
  assertEquals(c.get(a, 1500, 0), 1500);
  assertEquals(c.update(a, 1400, 1500, 0), 1400);
  assertEquals(c.update(a, 1450, 1500, 0), 1400, "never raised by a message");
  assertEquals(c.update(a, 10, 1500, 0), 576);
  assertEquals(c.update(x, 600, 1500, 0), 1280);
  assertEquals(c.update(b, 1000, 1500, 1), 1000);
  assertEquals(c.size, 2, "bounded: the oldest went");
  assertEquals(c.get(a, 1500, 2), 1500);
  assertEquals(c.get(b, 1500, 1 + PMTU_EXPIRY_MS - 1), 1000);
  assertEquals(c.get(b, 1500, 1 + PMTU_EXPIRY_MS), 1500);
  assertEquals(c.get(x, 1300, 0), 1280);
});
