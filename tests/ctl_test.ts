/** `weft ctl` against a live `weft switch` and its API on loopback. */

import { assertEquals, assertMatch } from "@std/assert";
import { waitUntil } from "./_harness/process.ts";
import { runWeft, WeftSwitch } from "./_harness/weft.ts";

Deno.test("ctl: list, create, set, show and delete through a live node's API", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "weft-ctl-" });
  try {
    const state = `${tmp}/state`;
    await using sw = await WeftSwitch.start(`${tmp}/sw`, [
      "--api",
      "127.0.0.1:0",
      "--state",
      state,
    ]);
    const url = await waitUntil("the api ready line", () => {
      return /api ready url=(\S+)/.exec(sw.process.errors)?.[1];
    }, { timeoutMs: 10_000 });
    const ctl = (...args: string[]) => runWeft(["ctl", "--api", url, "--state", state, ...args]);

    const list = await ctl("list", "switches");
    assertEquals(list.code, 0, list.stderr);
    assertMatch(list.stdout, /^name\s+.*\nsw0\s/);
    const created = await ctl("create", "switch", "lab", "hub=true", "mtu=1500");
    assertEquals(created.code, 0, created.stderr);
    assertMatch(created.stdout, /hub\s+true/);
    const json = await ctl("--json", "show", "switch", "lab");
    assertEquals(JSON.parse(json.stdout).mtu, 1500);
    const set = await ctl("set", "switch", "lab", "ageingSec=60");
    assertEquals(set.code, 0, set.stderr);
    assertMatch(set.stdout, /ageingSec\s+60/);
    const dup = await ctl("create", "switch", "lab");
    assertEquals(dup.code, 1);
    assertMatch(dup.stderr, /^weft ctl: 409 /);
    const gone = await ctl("delete", "switch", "lab");
    assertEquals(gone.code, 0, gone.stderr);
    const missing = await ctl("show", "switch", "lab");
    assertEquals(missing.code, 1);
    assertMatch(missing.stderr, /^weft ctl: 404 /);
    // Stacks: one with an echo service on sw0, listed, shown, deleted.
    const stack = await ctl(
      "create",
      "stack",
      "web",
      "switch=sw0",
      "ipv4=10.7.0.2/24",
      "ipv6=fd07::2/64",
      "service.kind=echo",
      "service.port=7",
    );
    assertEquals(stack.code, 0, stack.stderr);
    assertMatch(stack.stdout, /addresses\s+\["10\.7\.0\.2\/24",/);
    const stacks = await ctl("list", "stacks");
    assertMatch(stacks.stdout, /^name\s+switch\s+port.*\nweb\s+sw0\s+1\s/);
    const shown = JSON.parse((await ctl("--json", "show", "stack", "web")).stdout);
    assertEquals(shown.service, { kind: "echo", port: 7, accepted: 0 });
    const badStack = await ctl("create", "stack", "x", "switch=sw0", "ipv4=10.7.0.300/24");
    assertEquals(badStack.code, 1);
    assertMatch(badStack.stderr, /^weft ctl: 400 Invalid ipv4 "10\.7\.0\.300\/24"/);
    assertEquals((await ctl("delete", "stack", "web")).code, 0);
    assertMatch((await ctl("list", "stacks")).stdout, /^\(none\)/);
    // Cables: sw0 dials the lab switch's directory… (lab was deleted above: make another).
    assertEquals((await ctl("create", "switch", "lab2", `sock=${tmp}/lab2`)).code, 0);
    const cable = await ctl("create", "cable", "sw0", `vde://${tmp}/lab2`);
    assertEquals(cable.code, 0, cable.stderr);
    assertMatch(cable.stdout, /link\s+up/);
    assertMatch((await ctl("list", "cables")).stdout, /sw0\s+connect\s+vde:\/\//);
    assertEquals((await ctl("delete", "cable", "sw0", `vde://${tmp}/lab2`)).code, 0);
    assertMatch((await ctl("list", "cables")).stdout, /^\(none\)/);
    // Routers: between sw0 and lab2, with a static route; shown, refused when bad, deleted.
    const router = await ctl(
      "create",
      "router",
      "r1",
      "iface=a=sw0,10.1.0.1/24",
      "iface=b=lab2,10.2.0.1/24,fd02::1/64",
      "ra=b",
      "route=10.9.0.0/16=10.2.0.254",
    );
    assertEquals(router.code, 0, router.stderr);
    const r1 = JSON.parse((await ctl("--json", "show", "router", "r1")).stdout);
    assertEquals(
      r1.interfaces.map((i: { name: string; switch: string; advertising: boolean }) => [
        i.name,
        i.switch,
        i.advertising,
      ]),
      [["a", "sw0", false], ["b", "lab2", true]],
    );
    assertMatch((await ctl("list", "routers")).stdout, /^name\s.*\nr1\s/);
    const offLink = await ctl(
      "create",
      "router",
      "r2",
      "iface=a=sw0,10.1.0.9/24",
      "route=default=10.3.0.1",
    );
    assertEquals(offLink.code, 1);
    assertMatch(
      offLink.stderr,
      /^weft ctl: 400 Router "r2": Route 0\.0\.0\.0\/0: via "10\.3\.0\.1" is on no/,
    );
    const noIface = await ctl("create", "router", "r2", "route=default=10.3.0.1");
    assertEquals(noIface.code, 2);
    assertMatch(noIface.stderr, /give at least one iface=/);
    assertEquals((await ctl("delete", "router", "r1")).code, 0, "router deleted");
    assertMatch((await ctl("list", "routers")).stdout, /^\(none\)/);
    const usage = await ctl("frobnicate", "things");
    assertEquals(usage.code, 2);
    assertMatch(usage.stderr, /unknown request "frobnicate things"/);
    const noToken = await runWeft(["ctl", "--api", url, "--state", `${tmp}/empty`, "show", "node"]);
    assertEquals(noToken.code, 2);
    assertMatch(noToken.stderr, /No API token/);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});
