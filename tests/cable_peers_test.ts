/**
 * Host-to-host cables with real peers. Two "hosts" are network namespaces joined by a veth, each
 * running its own `weft switch`; a TLS cable (pinned certificate, token) joins the switches; one
 * "guest" namespace per host is plugged into its host's switch by weft's own `tap://`
 * (tests/_harness/two_hosts.ts), and the guests' kernels are the judges: ping (IPv4 and IPv6) and a 40 MiB HTTP download with matching sha256. Then the veth goes
 * down for 3 s: the cable must be back within 2 s of the link, with the outage's drops counted.
 * Last, a `cmd://` cable runs `weft plug` in another namespace, as it would over ssh.
 */

import { assert, assertEquals, assertGreater } from "@std/assert";
import { peerTest } from "./_harness/lab.ts";
import { download, serveRandomFile } from "./_harness/http.ts";
import { shellQuote, sleep, waitUntil } from "./_harness/process.ts";
import { type SwitchCounters, weftCommand } from "./_harness/weft.ts";
import { twoHosts } from "./_harness/two_hosts.ts";

const TOOLS = ["ip", "ping", "curl", "python3"];

function cablePort(c: SwitchCounters): Record<string, unknown> | undefined {
  return c.ports.find((p) => String(p.endpoint).startsWith("tls://"));
}

peerTest(
  "tls cable between two hosts: guests ping (IPv4, IPv6) and move 40 MiB byte-exact",
  { tools: TOOLS, tun: true },
  async (lab) => {
    const t = await twoHosts(lab);
    for (const [from, to] of [[t.guestA, t.guestB], [t.guestB, t.guestA]]) {
      for (const addr of [to.ipv4!, to.ipv6!]) {
        await from.ns.waitReachable(addr, 15_000);
        const r = await from.ns.ping(addr, { count: 5, interval: 0.05, wait: 1 });
        assertEquals([r.sent, r.received], [5, 5], r.output);
      }
    }
    const file = await serveRandomFile(t.guestB.ns, {
      bind: t.guestB.ipv4!,
      mib: 40,
      dir: await lab.mkdir("www"),
    });
    const d = await download(t.guestA.ns, file.url, lab.path("dl.bin"), 60);
    assertEquals(d.sha256, file.sha256);
    assertEquals(d.bytes, 40 * 1024 * 1024);
    console.log(`  40 MiB over the TLS cable: ${d.mibPerSec.toFixed(1)} MiB/s`);
  },
  { timeoutMs: 120_000 },
);

peerTest(
  "tls cable survives a 3 s link cut: back within 2 s of the link, drops counted, nothing crashed",
  { tools: TOOLS, tun: true },
  async (lab) => {
    const t = await twoHosts(lab);
    await t.guestB.ns.waitReachable(t.guestA.ipv4!, 15_000);
    // Traffic during the outage, from the dialling side: pings every 100 ms.
    const pinger = t.guestB.ns.spawn(
      ["ping", "-i", "0.1", "-W", "1", "-c", "150", t.guestA.ipv4!],
      { name: "ping during the cut" },
    );
    await sleep(500);
    await t.hostA.ip("link", "set", "vA", "down");
    await sleep(3000);
    await waitUntil(
      "B's cable to go down",
      async () => cablePort(await t.swB.counters())?.link === "down",
      {
        timeoutMs: 5000,
      },
    );
    await t.hostA.ip("link", "set", "vA", "up");
    const linkBack = performance.now();
    await waitUntil(
      "B's cable to come back",
      async () => cablePort(await t.swB.counters())?.link === "up",
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const took = performance.now() - linkBack;
    assert(took < 2000, `the cable came back ${took.toFixed(0)} ms after the link (limit 2000)`);
    await t.guestA.ns.waitReachable(t.guestB.ipv4!, 10_000);
    const r = await t.guestA.ns.ping(t.guestB.ipv4!, { count: 5, interval: 0.05, wait: 1 });
    assertEquals([r.sent, r.received], [5, 5], `ping resumes:\n${r.output}`);
    const port = cablePort(await t.swB.counters())!;
    const drops = port.drops as Record<string, number>;
    assertGreater(drops.endpoint ?? 0, 0, `frames dropped while down: ${JSON.stringify(port)}`);
    assertEquals(t.swA.process.exitStatus, undefined, "switch A still running");
    assertEquals(t.swB.process.exitStatus, undefined, "switch B still running");
    await pinger.stop();
  },
  { timeoutMs: 90_000 },
);

peerTest(
  "cmd:// cable to `weft plug` in another namespace carries ping",
  { tools: [...TOOLS, "vde_plug"], tun: true },
  async (lab) => {
    const far = await lab.netns("far");
    const swA = await lab.weftSwitch();
    const swB = await lab.weftSwitch([], far);
    const a = await lab.host("ca", swA.dir, { ipv4: "10.78.2.1/24" });
    const b = await lab.host("cb", swB.dir, { ipv4: "10.78.2.2/24" });
    // As `cmd://ssh hostB weft plug vde:///b` would, with `ip netns exec` standing in for ssh.
    const remote = ["ip", "netns", "exec", far.name, ...weftCommand(["plug", `vde://${swB.dir}`])];
    lab.spawnWeft(["cable", `vde://${swA.dir}`, `cmd://${remote.map(shellQuote).join(" ")}`], {
      name: "weft cable cmd://",
    });
    await a.ns.waitReachable(b.ipv4!, 20_000);
    const r = await a.ns.ping(b.ipv4!, { count: 5, interval: 0.05, wait: 1 });
    assertEquals([r.sent, r.received], [5, 5], r.output);
    const back = await b.ns.ping(a.ipv4!, { count: 5, interval: 0.05, wait: 1 });
    assertEquals([back.sent, back.received], [5, 5], back.output);
  },
);
