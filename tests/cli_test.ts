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
  for (const cmd of ["switch", "plug", "cable", "demo", "serve", "ping", "fetch"]) {
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
    [["serve", "--ip", "10.0.0.2/24", "--echo", "7"], /--switch URL is required/],
    [
      ["serve", "--switch", "vde:///x", "--ip", "10.0.0.300/24", "--echo", "7"],
      /--ip "10.0.0.300\/24": expected IPv4\/prefix like 10.0.0.2\/24, or dhcp/,
    ],
    [
      ["serve", "--switch", "vde:///x", "--ip", "10.0.0.2/24", "--echo", "7", "--dir", "."],
      /choose exactly one of --dir, --proxy, --app, --echo \(got 2\)/,
    ],
    [["serve", "--switch", "vde:///x", "--echo", "7"], /give the stack an address/],
    [
      ["serve", "--switch", "vde:///x", "--ip", "10.0.0.2/24", "--proxy", "nocolon"],
      /--proxy "nocolon": expected HOST:PORT/,
    ],
    [
      ["serve", "--switch", "vde:///x", "--ip", "10.0.0.2/24", "--dir", "/nonexistent-weft"],
      /--dir "\/nonexistent-weft": not a directory/,
    ],
    [
      ["ping", "--switch", "vde:///x", "--ip", "10.0.0.9/24", "nohost"],
      /"nohost": expected an IPv4 or IPv6 address/,
    ],
    [
      ["ping", "--switch", "vde:///x", "--ip6", "fe80::1", "::1"],
      /--ip6 "fe80::1": expected IPv6\/prefix/,
    ],
    [
      ["fetch", "--switch", "vde:///x", "--ip", "10.0.0.9/24", "https://10.0.0.1/"],
      /only http:\/\/ is supported/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await runWeft(args);
    assertEquals(r.code, 2, `weft ${args.join(" ")}: exit code (stderr: ${r.stderr})`);
    assertMatch(oneLine(r.stderr), re);
  }
});

Deno.test("cli: the demo runs two stacks on a switch and moves HTTP between them", async () => {
  const r = await runWeft(["demo"]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(
    r.stdout,
    /B GET http:\/\/10\.0\.0\.1\/ → 200 hello from stack A, you are 10\.0\.0\.2/,
  );
  assertMatch(r.stdout, /B GET http:\/\/\[fd00::1\]\/ → 200 hello from stack A, you are fd00::2/);
  assertMatch(r.stdout, /B GET \/bytes\/64 → 67108864 bytes in [\d.]+ s: [\d.]+ MiB\/s/);
});
