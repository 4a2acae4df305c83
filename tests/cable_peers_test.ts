/**
 * Host-to-host cables with real peers. Two "hosts" are network namespaces joined by a veth, each
 * running its own `weft switch`; a TLS cable (pinned certificate, token) joins the switches; one
 * "guest" namespace per host is plugged into its host's switch by weft's own `tap://`, and the
 * guests' kernels are the
 * judges: ping (IPv4 and IPv6) and a 40 MiB HTTP download with matching sha256. Then the veth goes
 * down for 3 s: the cable must be back within 2 s of the link, with the outage's drops counted.
 * Last, a `cmd://` cable runs `weft plug` in another namespace, as it would over ssh.
 */

import { assert, assertEquals, assertGreater } from "@std/assert";
import { type Lab, peerTest } from "./_harness/lab.ts";
import { download, serveRandomFile } from "./_harness/http.ts";
import type { Netns } from "./_harness/netns.ts";
import { shellQuote, sleep, waitUntil } from "./_harness/process.ts";
import { runWeft, type SwitchCounters, weftCommand, type WeftSwitch } from "./_harness/weft.ts";

const TOOLS = ["ip", "ping", "curl", "python3"];

interface Guest {
  ns: Netns;
  ipv4: string;
  ipv6: string;
}

interface TwoHosts {
  hostA: Netns;
  hostB: Netns;
  swA: WeftSwitch;
  swB: WeftSwitch;
  guestA: Guest;
  guestB: Guest;
}

/** The topology of this file: host A listens on TLS, host B dials it. */
async function twoHosts(lab: Lab): Promise<TwoHosts> {
  const hostA = await lab.netns("ha");
  const hostB = await lab.netns("hb");
  await hostA.ip("link", "add", "vA", "type", "veth", "peer", "name", "vB", "netns", hostB.name);
  await hostA.ip("addr", "add", "10.201.0.1/24", "dev", "vA");
  await hostB.ip("addr", "add", "10.201.0.2/24", "dev", "vB");
  // A veth has carrier only when both ends are up: raise both, then wait for carrier.
  await hostA.ip("link", "set", "vA", "up");
  await hostB.ip("link", "set", "vB", "up");
  await hostA.linkUp("vA");
  await hostB.waitReachable("10.201.0.1");

  const tokenFile = lab.path("tokens");
  await Deno.writeTextFile(tokenFile, "cable-token-1\n");
  const stateA = lab.path("stateA");
  const id = await runWeft(["id", "--state", stateA, "--json"]);
  assertEquals(id.code, 0, id.stderr);
  const fp = JSON.parse(id.stdout).fingerprint as string;

  // Each host's switch holds its guest's TAP itself (weft's tap://, opened in the guest's
  // namespace): host and guest are separate network stacks, as with a VM.
  const nsGuestA = await lab.netns("ga");
  const nsGuestB = await lab.netns("gb");
  const swA = await lab.weftSwitch([
    "--connect",
    `tap://wt0?netns=${nsGuestA.name}`,
    "--state",
    stateA,
    "--listen",
    "tls://10.201.0.1:7443",
    "--token-file",
    tokenFile,
  ], hostA);
  const swB = await lab.weftSwitch([
    "--connect",
    `tap://wt0?netns=${nsGuestB.name}`,
    "--state",
    lab.path("stateB"),
    "--connect",
    `tls://10.201.0.1:7443?fp=${fp}&token-file=${tokenFile}`,
  ], hostB);
  const guestA = await tapGuest(nsGuestA, "10.77.1.1/24", "fd77::1/64");
  const guestB = await tapGuest(nsGuestB, "10.77.1.2/24", "fd77::2/64");
  return { hostA, hostB, swA, swB, guestA, guestB };
}

/** Give a guest namespace's TAP (made by its host's switch) its addresses. */
async function tapGuest(ns: Netns, ipv4: string, ipv6: string): Promise<Guest> {
  await waitUntil(`wt0 in ${ns.name}`, async () => {
    return (await ns.exec(["ip", "link", "show", "wt0"])).success;
  }, { timeoutMs: 30_000, intervalMs: 50 });
  await ns.linkUp("wt0");
  await ns.addAddress("wt0", ipv4);
  await ns.addAddress("wt0", ipv6);
  return { ns, ipv4: ipv4.split("/")[0], ipv6: ipv6.split("/")[0] };
}

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
