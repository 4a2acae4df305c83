/**
 * The built single executable works on its own: `dist/weft --version`, and `dist/weft switch`
 * with two namespaces plugged in by the real vde_plug pinging each other. .ci/run builds dist/weft
 * before the tests; without it this test is ignored with the reason (and CI fails on that).
 */

import { assertEquals, assertMatch } from "@std/assert";
import { peerTest } from "./_harness/lab.ts";
import { exists, run, waitUntil } from "./_harness/process.ts";
import { REPO_ROOT } from "./_harness/weft.ts";

const DIST = `${REPO_ROOT}/dist/weft`;
const built = await exists(DIST);

peerTest(
  built ? "dist/weft: --version, and a switch that vde_plug hosts ping across" : "dist/weft",
  built
    ? { tools: ["ip", "ping", "vde_plug"], tun: true }
    : { tools: ["dist/weft (run: deno task build)"] },
  async (lab) => {
    // Run without deno on PATH: the file must carry its own runtime.
    const env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: lab.path("home") };
    const v = await run([DIST, "--version"], { env, timeoutMs: 60_000 });
    assertEquals(v.code, 0, v.stderr);
    assertMatch(v.stdout, /^weft \d+\.\d+\.\d+\n$/);
    const dir = lab.path("sw");
    lab.spawn([DIST, "switch", "--sock", dir], { name: "dist/weft switch", env });
    await waitUntil(`dist/weft switch to create ${dir}/ctl`, () => exists(`${dir}/ctl`), {
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    const a = await lab.host("da", dir, { ipv4: "10.78.0.1/24" });
    const b = await lab.host("db", dir, { ipv4: "10.78.0.2/24" });
    await a.ns.waitReachable(b.ipv4!, 10_000);
    const r = await a.ns.ping(b.ipv4!, { count: 5, interval: 0.05, wait: 1 });
    assertEquals([r.sent, r.received], [5, 5], r.output);
  },
  { timeoutMs: 120_000 },
);
