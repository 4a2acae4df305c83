/**
 * Real-peer acceptance tests for weft's VDE compatibility (ARCHITECTURE §7: a capability is not
 * done until a real peer exercised it). Hosts are network namespaces whose kernel TCP/IP stack
 * talks through a TAP plugged into a switch by the unmodified VDE tools (vdeplug4 `vde_plug`, vde2
 * `vde_plug2tap`); the reference switch is vde2's `vde_switch`. Each test builds its own topology
 * with unique namespace names, is bounded in time, and tears everything down even when it fails
 * (tests/_harness/lab.ts). Without root or a tool, a test is ignored with the reason in its name.
 */

import {
  assert,
  assertEquals,
  assertGreater,
  assertLessOrEqual,
  assertMatch,
  assertNotEquals,
} from "@std/assert";
import { type Host, type Lab, peerTest } from "./_harness/lab.ts";
import { download, serveRandomFile } from "./_harness/http.ts";
import type { Netns } from "./_harness/netns.ts";
import { type CapturedFrame, hex, startCapture } from "./_harness/pcap.ts";
import { sleep, writeExecScript } from "./_harness/process.ts";
import { encodeCtlRequest, MacFlood, macBytes, streamFrame } from "./_harness/vde_wire.ts";
import { runWeft, weftCommand } from "./_harness/weft.ts";

const TAP_TOOLS = ["ip", "ping", "vde_plug"];
const TAP = { tun: true };

/**
 * Assert that `to` answers `from`: first wait until one echo comes back (ARP/NDP resolved), then
 * require every one of `count` echoes to be answered.
 */
async function assertPings(from: Netns, to: string, count = 5): Promise<void> {
  await from.waitReachable(to, 10_000);
  const r = await from.ping(to, { count, interval: 0.05, wait: 1 });
  assertEquals([r.sent, r.received], [count, count], `echoes sent/answered:\n${r.output}`);
}

/** Ping both ways over IPv4 and over IPv6. */
async function assertPingBothWays(a: Host, b: Host): Promise<void> {
  await assertPings(a.ns, b.ipv4!);
  await assertPings(b.ns, a.ipv4!);
  await assertPings(a.ns, b.ipv6!);
  await assertPings(b.ns, a.ipv6!);
}

/** Serve a random `mib` MiB file from `server` and fetch it from `client`; sha256 must match. */
async function assertHttpTransfer(lab: Lab, server: Host, client: Host, mib: number) {
  const served = await serveRandomFile(server.ns, {
    bind: server.ipv4!,
    mib,
    dir: await lab.mkdir("www"),
  });
  const got = await download(client.ns, served.url, lab.path("download.bin"));
  assertEquals(got.bytes, served.bytes, "downloaded size");
  assertEquals(got.sha256, served.sha256, "sha256 of the downloaded file");
  console.log(`  HTTP ${mib} MiB: ${got.mibPerSec.toFixed(1)} MiB/s`);
}

// ---------------------------------------------------------------------------------------------
// Reference: the harness against the real vde_switch. If this fails, the machine or the harness is
// broken, not weft — it keeps weft's failures below unambiguous.

peerTest(
  "reference vde_switch: vde_plug and vde_plug2tap hosts ping (IPv4, IPv6) and move 20 MiB over HTTP",
  { ...TAP, tools: [...TAP_TOOLS, "vde_switch", "vde_plug2tap", "socat", "curl", "python3"] },
  async (lab) => {
    const sw = await lab.vdeSwitch();
    const a = await lab.host("a", sw.dir, { ipv4: "10.0.0.1/24", ipv6: "fd00::1/64" });
    const b = await lab.host("b", sw.dir, {
      via: "vde_plug2tap",
      ipv4: "10.0.0.2/24",
      ipv6: "fd00::2/64",
    });
    await assertPingBothWays(a, b);
    assertMatch(await sw.console("port/print"), /vde_plug2tap/);
    await assertHttpTransfer(lab, a, b, 20);
  },
);

// ---------------------------------------------------------------------------------------------
// a, b: weft switch with unmodified VDE tools as its clients.

peerTest(
  "weft switch + vde_plug TAP hosts: ping both ways (IPv4, IPv6) and a 20 MiB HTTP download, sha256 equal",
  { ...TAP, tools: [...TAP_TOOLS, "curl", "python3", "sha256sum"] },
  async (lab) => {
    const sw = await lab.weftSwitch();
    const a = await lab.host("a", sw.dir, { ipv4: "10.0.0.1/24", ipv6: "fd00::1/64" });
    const b = await lab.host("b", sw.dir, { ipv4: "10.0.0.2/24", ipv6: "fd00::2/64" });
    await assertPingBothWays(a, b);
    await assertHttpTransfer(lab, a, b, 20);
  },
);

peerTest(
  "weft switch + vde_plug2tap host and vde_plug host: ping both ways (IPv4, IPv6) and 20 MiB HTTP, sha256 equal",
  { ...TAP, tools: [...TAP_TOOLS, "vde_plug2tap", "curl", "python3", "sha256sum"] },
  async (lab) => {
    const sw = await lab.weftSwitch();
    const a = await lab.host("a", sw.dir, {
      via: "vde_plug2tap",
      ipv4: "10.0.0.1/24",
      ipv6: "fd00::1/64",
    });
    const b = await lab.host("b", sw.dir, { ipv4: "10.0.0.2/24", ipv6: "fd00::2/64" });
    await assertPingBothWays(a, b);
    // Both directions of bulk data: vde_plug2tap's host serves, then receives.
    await assertHttpTransfer(lab, a, b, 20);
  },
);

// ---------------------------------------------------------------------------------------------
// c: weft as a VDE *client* of the real vde_switch, cabled to weft's own switch.

peerTest(
  "weft cable joins a real vde_switch and a weft switch: hosts on either side ping (IPv4, IPv6)",
  { ...TAP, tools: [...TAP_TOOLS, "vde_switch", "socat"] },
  async (lab) => {
    const vde = await lab.vdeSwitch();
    const weft = await lab.weftSwitch();
    const cable = lab.spawnWeft(["cable", vde.url, weft.url], { name: "weft cable" });
    const a = await lab.host("a", vde.dir, { ipv4: "10.0.0.1/24", ipv6: "fd00::1/64" });
    const b = await lab.host("b", weft.dir, { ipv4: "10.0.0.2/24", ipv6: "fd00::2/64" });
    await assertPingBothWays(a, b);
    assertEquals(cable.exitStatus, undefined, "weft cable still running");
    // The real switch sees weft's cable as one of its ports.
    const ports = await vde.console("port/print");
    assertEquals((ports.match(/ACTIVE/g) ?? []).length, 2, `vde_switch ports:\n${ports}`);
  },
);

// ---------------------------------------------------------------------------------------------
// d: `weft plug` at both ends of a byte pipe.

peerTest(
  "weft plug ⇄ socat ⇄ weft plug joins two weft switches: hosts ping across (IPv4, IPv6)",
  { ...TAP, tools: [...TAP_TOOLS, "socat"] },
  async (lab) => {
    const swA = await lab.weftSwitch();
    const swB = await lab.weftSwitch();
    // socat's EXEC splits its command on spaces and gives ':' and ',' meaning: hand it scripts.
    const plugA = await writeExecScript(lab.path("plug_a.sh"), weftCommand(["plug", swA.url]));
    const plugB = await writeExecScript(lab.path("plug_b.sh"), weftCommand(["plug", swB.url]));
    const pipe = lab.spawn(["socat", `EXEC:${plugA}`, `EXEC:${plugB}`], { name: "socat" });
    const a = await lab.host("a", swA.dir, { ipv4: "10.0.0.1/24", ipv6: "fd00::1/64" });
    const b = await lab.host("b", swB.dir, { ipv4: "10.0.0.2/24", ipv6: "fd00::2/64" });
    await assertPingBothWays(a, b);
    assertEquals(pipe.exitStatus, undefined, "socat pipe still running");
  },
);
