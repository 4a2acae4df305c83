import { assert, assertEquals, assertMatch } from "@std/assert";
import { formatRows, parseTransfers, SIZES_MIB } from "./stack.ts";

Deno.test("parseTransfers reads lwhttp's client lines and ignores anything else", () => {
  const out = "lwhttp: noise\n/r10.bin 10485760 0.250000 40.00\n/small.bin 1024 0.001113 0.88\n\n";
  assertEquals(parseTransfers(out), [
    { path: "/r10.bin", bytes: 10485760, seconds: 0.25 },
    { path: "/small.bin", bytes: 1024, seconds: 0.001113 },
  ]);
  assertEquals(parseTransfers("lwhttp: connect: Connection refused\n"), []);
});

Deno.test("formatRows prints medians, a ratio to the named row, and skip reasons", () => {
  assertEquals(SIZES_MIB.length, 3);
  const text = formatRows([
    { name: "base", mibs: [10, 20, 40], reqs: 500 },
    { name: "new", mibs: [5, 10, 20], reqs: 250.4, vs: "base" },
    { name: "gone", skipped: "`weft serve` not available yet" },
  ]);
  const lines = text.split("\n");
  assertEquals(lines.length, 5);
  assertEquals(lines[2], "| base | 10.0 | 20.0 | 40.0 | 500 |  |");
  assertEquals(lines[3], "| new | 5.0 | 10.0 | 20.0 | 250 | 0.50× base |");
  assertMatch(
    lines[4],
    /^\| gone \| – \| – \| – \| – \| skipped: `weft serve` not available yet \|$/,
  );
  assert(!text.includes("NaN"));
});
