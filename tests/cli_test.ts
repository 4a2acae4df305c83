/**
 * The CLI contract: --help and --version exit 0; usage errors exit 2 with one line on stderr that
 * names the bad value and what was expected; never a stack trace.
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { runWeft } from "./_harness/weft.ts";

function oneLine(text: string): string {
  const lines = text.trim().split("\n");
  assertEquals(lines.length, 1, `expected one line on stderr, got:\n${text}`);
  assert(!/\n\s+at /.test(text), "no stack trace");
  return lines[0];
}

Deno.test("cli: --version and --help exit 0", async () => {
  const v = await runWeft(["--version"]);
  assertEquals(v.code, 0);
  assertMatch(v.stdout, /^weft \d+\.\d+\.\d+\n$/);
  const h = await runWeft(["--help"]);
  assertEquals(h.code, 0);
  for (const word of ["switch", "plug", "cable", "vde:///", "stdio:", "cmd://"]) {
    assert(h.stdout.includes(word), `help mentions ${word}`);
  }
  for (const cmd of ["switch", "plug", "cable", "demo"]) {
    const c = await runWeft([cmd, "--help"]);
    assertEquals(c.code, 0, `${cmd} --help`);
    assertMatch(c.stdout, new RegExp(`^Usage: weft ${cmd}`));
  }
});

Deno.test("cli: usage errors exit 2 with one clear line", async () => {
  const cases: [string[], RegExp][] = [
    [["switch", "--bogus"], /Unknown option '--bogus'/],
    [["frobnicate"], /Unknown command "frobnicate": expected one of switch, plug, cable/],
    [["switch", "--ports", "many"], /Invalid --ports "many": expected a whole number from 1/],
    [
      ["switch", "--vlan", "3=access:5000"],
      /Invalid VLAN ID "5000": expected a whole number from 1 to 4094/,
    ],
    [["switch", "--vlan", "3=hybrid"], /Invalid VLAN mode "hybrid"/],
    [["plug"], /expected URL, got 0 argument/],
    [
      ["plug", "notascheme://x"],
      /Cannot open endpoint "notascheme:\/\/x": unknown scheme "notascheme"/,
    ],
    [["cable", "vde:///nonexistent-weft-dir", "stdio:"], /nonexistent-weft-dir/],
  ];
  for (const [args, re] of cases) {
    const r = await runWeft(args);
    assertEquals(r.code, 2, `weft ${args.join(" ")}: exit code (stderr: ${r.stderr})`);
    assertMatch(oneLine(r.stderr), re);
  }
});

Deno.test("cli: the demo moves frames across a switch and reports them", async () => {
  const r = await runWeft(["demo"]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /2000000 frames received of 2000000/);
});
