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
import { sleep, waitUntil, writeExecScript } from "./_harness/process.ts";
import { encodeCtlRequest, macBytes, MacFlood, streamFrame } from "./_harness/vde_wire.ts";
import { runWeft, type SwitchCounters, weftCommand, type WeftSwitch } from "./_harness/weft.ts";

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

// ---------------------------------------------------------------------------------------------
// e: 802.1Q. Ports 1 and 3 are access VLAN 10, port 2 access VLAN 20, port 4 a trunk carrying 10
// and 20 tagged and 30 untagged (native), port 5 access VLAN 30. h2 has an address in h1's subnet,
// so only the switch keeps them apart.
//
// The trunk host h4 speaks tagged frames through a raw socket rather than a Linux VLAN
// subinterface: CI kernels may lack CONFIG_VLAN_8021Q (this one does). Its tagged ARP requests are
// answered by the access hosts' kernels, and captures on every host are compared byte by byte.

const ETH_ARP = 0x0806;
const ETH_8021Q = 0x8100;

/** VLAN ID of a tagged frame, or undefined when untagged. */
function vidOf(f: Uint8Array): number | undefined {
  return ((f[12] << 8) | f[13]) === ETH_8021Q ? ((f[14] & 0x0f) << 8) | f[15] : undefined;
}

/** The frame with an 802.1Q tag (PCP 0, DEI 0, `vid`) inserted after the MAC addresses. */
function withTag(f: Uint8Array, vid: number): Uint8Array {
  const out = new Uint8Array(f.length + 4);
  out.set(f.subarray(0, 12));
  out.set([ETH_8021Q >> 8, ETH_8021Q & 0xff, vid >> 8, vid & 0xff], 12);
  out.set(f.subarray(12), 16);
  return out;
}

/** The frame without its 802.1Q tag. */
function withoutTag(f: Uint8Array): Uint8Array {
  const out = new Uint8Array(f.length - 4);
  out.set(f.subarray(0, 12));
  out.set(f.subarray(16), 12);
  return out;
}

function ipv4Bytes(ip: string): number[] {
  return ip.split(".").map(Number);
}

/**
 * An ARP request (RFC 826) `who-has target tell sender`, broadcast, padded to the 60-byte
 * minimum, tagged when `vid` is given.
 */
function arpRequest(senderMac: string, senderIp: string, targetIp: string, vid?: number) {
  const f = new Uint8Array(60);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
  f.set(macBytes(senderMac), 6);
  f.set([ETH_ARP >> 8, ETH_ARP & 0xff, 0, 1, 0x08, 0x00, 6, 4, 0, 1], 12);
  f.set(macBytes(senderMac), 22);
  f.set(ipv4Bytes(senderIp), 28);
  f.set(ipv4Bytes(targetIp), 38);
  return vid === undefined ? f : withTag(f, vid);
}

/** Offset of the EtherType that follows any 802.1Q tag. */
function l3Offset(f: Uint8Array): number {
  return vidOf(f) === undefined ? 14 : 18;
}

/** Whether `f` (tagged or not) is an ARP packet with this operation, sender and target IPs. */
function isArp(f: Uint8Array, op: 1 | 2, senderIp: string, targetIp: string): boolean {
  const o = l3Offset(f);
  if (((f[o - 2] << 8) | f[o - 1]) !== ETH_ARP || f.length < o + 28) return false;
  const ip = (at: number) => Array.from(f.subarray(o + at, o + at + 4)).join(".");
  return f[o + 7] === op && ip(14) === senderIp && ip(24) === targetIp;
}

function fromMac(frames: CapturedFrame[], mac: string): CapturedFrame[] {
  const m = mac.replaceAll(":", "");
  return frames.filter((f) => hex(f.data.subarray(6, 12)) === m);
}

/**
 * Assert that every frame of `sent` (at least one) appears in `seen` exactly as `expect(frame)`.
 */
function assertDeliveredAs(
  what: string,
  sent: Uint8Array[],
  seen: CapturedFrame[],
  expect: (f: Uint8Array) => Uint8Array = (f) => f,
): void {
  const have = new Set(seen.map((f) => hex(f.data)));
  assertGreater(sent.length, 0, `${what}: nothing was sent`);
  for (const f of sent) {
    const want = hex(expect(f));
    assert(have.has(want), `${what}: frame not delivered byte-exact:\n${want}`);
  }
}

/**
 * The VLAN scenario on a switch whose ports 1–5 are configured as described above: hosts on the
 * numbered ports, pings that must and must not pass, tagged frames injected on the trunk, and
 * captures compared byte by byte.
 */
async function assertVlanScenario(lab: Lab, dir: string): Promise<void> {
  const h1 = await lab.host("h1", dir, { port: 1, ipv4: "10.10.10.1/24" });
  const h2 = await lab.host("h2", dir, { port: 2, ipv4: "10.10.10.2/24" });
  await h2.ns.addAddress(h2.tap, "10.10.20.2/24");
  const h3 = await lab.host("h3", dir, { port: 3, ipv4: "10.10.10.3/24" });
  const h4 = await lab.host("h4", dir, { port: 4, ipv4: "10.10.30.4/24" });
  const h5 = await lab.host("h5", dir, { port: 5, ipv4: "10.10.30.5/24" });
  const mac = {
    h1: await h1.ns.mac(h1.tap),
    h2: await h2.ns.mac(h2.tap),
    h5: await h5.ns.mac(h5.tap),
  };
  // Made-up stations behind the trunk, one per VLAN.
  const f10 = "02:00:00:0a:00:04", f20 = "02:00:00:14:00:04", f99 = "02:00:00:63:00:04";
  const f30 = "02:00:00:1e:00:04";

  const cap = (h: Host, name: string) =>
    startCapture(h.ns, h.tap, lab.path(`${name}.pcap`)).then((c) => lab.use(c));
  const [cap1, cap2, cap4, cap5] = [
    await cap(h1, "h1"),
    await cap(h2, "h2"),
    await cap(h4, "h4"),
    await cap(h5, "h5"),
  ];

  // Same VLAN: access ⇄ access, and the trunk's native VLAN ⇄ access 30, untagged.
  await assertPings(h1.ns, "10.10.10.3");
  await assertPings(h3.ns, "10.10.10.1");
  await assertPings(h4.ns, "10.10.30.5");
  await assertPings(h5.ns, "10.10.30.4");
  // Different access VLANs, same IPv4 subnet: nothing gets through, in either direction.
  for (
    const [from, to] of [[h1, "10.10.10.2"], [h2, "10.10.10.1"], [h2, "10.10.10.3"]] as const
  ) {
    const r = await from.ns.ping(to, { count: 3, interval: 0.2, wait: 1 });
    assertEquals(r.received, 0, `VLAN 10 and 20 must be isolated:\n${r.output}`);
  }
  // Tagged from the trunk: VLAN 10 asks h1, VLAN 20 asks h2, VLAN 99 (not allowed on the trunk)
  // asks h1; untagged (native VLAN 30) asks h5. The access hosts' kernels answer.
  const injected = {
    v10: arpRequest(f10, "10.10.10.4", "10.10.10.1", 10),
    v20: arpRequest(f20, "10.10.20.4", "10.10.20.2", 20),
    v99: arpRequest(f99, "10.10.10.99", "10.10.10.1", 99),
    native: arpRequest(f30, "10.10.30.40", "10.10.30.5"),
  };
  await h4.ns.sendRaw(h4.tap, Object.values(injected));
  await sleep(300); // answers are sub-millisecond; leave room on a loaded CI machine
  const [at1, at2, at4, at5] = [
    await cap1.stop(),
    await cap2.stop(),
    await cap4.stop(),
    await cap5.stop(),
  ];

  // L2 isolation, not just IP: not one frame of h2's (ARP, IPv6 ND, echo) reached h1, nor did the
  // trunk's VLAN 20 station reach h1, nor VLAN 10's reach h2, and VLAN 99 reached nobody.
  assertEquals(fromMac(at1, mac.h2).length, 0, "frames from VLAN 20's h2 reached h1");
  assertEquals(fromMac(at1, f20).length, 0, "trunk VLAN 20 frames reached h1");
  assertEquals(fromMac(at2, f10).length, 0, "trunk VLAN 10 frames reached h2");
  for (const at of [at1, at2, at5]) {
    assertEquals(fromMac(at, f99).length, 0, "a frame of VLAN 99, not allowed on the trunk");
  }
  // On the trunk, VLAN 10 frames carry tag 10, VLAN 20 frames tag 20, the native VLAN no tag.
  for (const f of fromMac(at4, mac.h1)) assertEquals(vidOf(f.data), 10, hex(f.data));
  for (const f of fromMac(at4, mac.h2)) assertEquals(vidOf(f.data), 20, hex(f.data));
  for (const f of fromMac(at4, mac.h5)) assertEquals(vidOf(f.data), undefined, hex(f.data));

  // Byte-exact in both directions: the tag is inserted or removed at offset 12, nothing else
  // changes. Access → trunk: h1's ARP requests for 10.10.10.2 (the isolation pings) and h1's and
  // h2's answers to the injected requests.
  const sentBy = (at: CapturedFrame[], m: string, op: 1 | 2, spa: string, tpa: string) =>
    fromMac(at, m).filter((f) => isArp(f.data, op, spa, tpa)).map((f) => f.data);
  assertDeliveredAs(
    "h1's broadcast ARP → trunk tagged 10",
    sentBy(at1, mac.h1, 1, "10.10.10.1", "10.10.10.2"),
    at4,
    (f) => withTag(f, 10),
  );
  assertDeliveredAs(
    "h1's ARP reply → trunk tagged 10",
    sentBy(at1, mac.h1, 2, "10.10.10.1", "10.10.10.4"),
    at4,
    (f) => withTag(f, 10),
  );
  assertDeliveredAs(
    "h2's ARP reply → trunk tagged 20",
    sentBy(at2, mac.h2, 2, "10.10.20.2", "10.10.20.4"),
    at4,
    (f) => withTag(f, 20),
  );
  assertDeliveredAs(
    "h5's ARP reply → trunk untagged (native)",
    sentBy(at5, mac.h5, 2, "10.10.30.5", "10.10.30.40"),
    at4,
  );
  // Trunk → access: the injected requests arrive untagged.
  assertDeliveredAs("trunk VLAN 10 → h1 untagged", [injected.v10], at1, withoutTag);
  assertDeliveredAs("trunk VLAN 20 → h2 untagged", [injected.v20], at2, withoutTag);
  assertDeliveredAs("trunk native → h5 unchanged", [injected.native], at5);
}

peerTest(
  "reference vde_switch VLANs: the VLAN scenario passes on the real switch (validates the scenario)",
  { ...TAP, tools: [...TAP_TOOLS, "vde_switch", "socat", "tcpdump", "python3"] },
  async (lab) => {
    const sw = await lab.vdeSwitch();
    for (const vid of [10, 20, 30]) await sw.console(`vlan/create ${vid}`);
    for (const [port, vid] of [[1, 10], [2, 20], [3, 10], [4, 30], [5, 30]]) {
      await sw.console(`port/create ${port}`);
      await sw.console(`port/setvlan ${port} ${vid}`);
    }
    await sw.console("vlan/addport 10 4");
    await sw.console("vlan/addport 20 4");
    await assertVlanScenario(lab, sw.dir);
  },
);

peerTest(
  "weft switch VLANs: access 10 and 20 isolated, same-VLAN hosts reach each other, trunk tags byte-exact both ways, native untagged",
  { ...TAP, tools: [...TAP_TOOLS, "tcpdump", "python3"] },
  async (lab) => {
    const vlans = [
      "1=access:10",
      "2=access:20",
      "3=access:10",
      "4=trunk:10,20,native:30",
      "5=access:30",
    ];
    const sw = await lab.weftSwitch(vlans.flatMap((v) => ["--vlan", v]));
    await assertVlanScenario(lab, sw.dir);
  },
);

peerTest(
  "weft trunk ⇄ vde_switch trunk over a vde_plug cable: VLAN 10 and 20 hosts on both switches reach their own VLAN only",
  { ...TAP, tools: [...TAP_TOOLS, "vde_switch", "socat"] },
  async (lab) => {
    const weft = await lab.weftSwitch(
      ["1=access:10", "2=access:20", "4=trunk:10,20,native:30"].flatMap((v) => ["--vlan", v]),
    );
    const vde = await lab.vdeSwitch();
    for (const vid of [10, 20, 30]) await vde.console(`vlan/create ${vid}`);
    for (const [port, vid] of [[1, 30], [2, 10], [3, 20]]) {
      await vde.console(`port/create ${port}`);
      await vde.console(`port/setvlan ${port} ${vid}`);
    }
    await vde.console("vlan/addport 10 1");
    await vde.console("vlan/addport 20 1");
    // Only real VDE code between the two trunks: vdeplug4's two-plug cable.
    lab.spawn(["vde_plug", `vde://${weft.dir}[4]`, `vde://${vde.dir}[1]`], {
      name: "vde_plug cable",
    });
    const h1 = await lab.host("h1", weft.dir, { port: 1, ipv4: "10.10.10.1/24" });
    const h2 = await lab.host("h2", weft.dir, { port: 2, ipv4: "10.10.20.2/24" });
    const h6 = await lab.host("h6", vde.dir, { port: 2, ipv4: "10.10.10.6/24" });
    const h7 = await lab.host("h7", vde.dir, { port: 3, ipv4: "10.10.20.7/24" });
    await h7.ns.addAddress(h7.tap, "10.10.10.7/24");
    await assertPings(h1.ns, "10.10.10.6");
    await assertPings(h6.ns, "10.10.10.1");
    await assertPings(h2.ns, "10.10.20.7");
    await assertPings(h7.ns, "10.10.20.2");
    const r = await h1.ns.ping("10.10.10.7", { count: 3, interval: 0.2, wait: 1 });
    assertEquals(r.received, 0, `VLAN 10 must not reach VLAN 20 across the trunk:\n${r.output}`);
  },
);

// ---------------------------------------------------------------------------------------------
// f: MAC-table exhaustion. A million frames with distinct random source MACs, injected by the real
// vde_plug reading 2-byte-framed frames from its stdin, into a switch with the default limit of
// 65,536 entries. The flood's destination is a MAC learned on the flooding port itself, so the
// frames end at the switch (same-segment) instead of loading the hosts' TAPs: what is measured
// is the switch's learning path and its memory.

const FLOOD_FRAMES = 1_000_000;
const MAC_LIMIT = 65_536;

peerTest(
  "MAC flood: 1,000,000 random source MACs into a weft switch (default limit 65,536): hosts keep pinging, refusals counted, RSS bounded",
  { ...TAP, tools: TAP_TOOLS },
  async (lab) => {
    const sw = await lab.weftSwitch();
    const a = await lab.host("a", sw.dir, { ipv4: "10.0.0.1/24" });
    const b = await lab.host("b", sw.dir, { ipv4: "10.0.0.2/24" });
    await assertPings(a.ns, b.ipv4!);
    await assertPings(b.ns, a.ipv4!);

    const FLOOD_PORT = 20;
    const flooder = lab.spawn(["vde_plug", `vde://${sw.dir}[${FLOOD_PORT}]`], {
      name: "vde_plug flood",
      stdin: "piped",
      stdout: "null",
    });
    // Station X on the flood port: learned first, then the destination of every flood frame.
    const x = macBytes("02:00:00:00:00:99");
    const hello = new Uint8Array(60);
    hello.set(x, 0);
    hello.set(x, 6);
    hello.set([0x88, 0xb5], 12);
    await flooder.stdin!.write(streamFrame(hello));
    const before = await waitForPort(sw, FLOOD_PORT, (p) => p.framesIn >= 1);
    const rssBefore = await sw.rssKiB();

    // Ping through the switch while it is being flooded.
    const during = a.ns.ping(b.ipv4!, { count: 40, interval: 0.1, wait: 2 });
    const flood = new MacFlood(x, 0x5eed);
    const t0 = performance.now();
    while (flood.count < FLOOD_FRAMES) {
      await flooder.stdin!.write(flood.chunk(Math.min(10_000, FLOOD_FRAMES - flood.count)));
      assertLessOrEqual(performance.now() - t0, 40_000, "flood took more than 40 s");
    }
    const after = await waitForPort(sw, FLOOD_PORT, (p) => p.framesIn >= FLOOD_FRAMES + 1, 20_000);
    const ms = performance.now() - t0;
    const duringPing = await during;
    const rssAfter = await sw.rssKiB();
    console.log(
      `  flood: ${FLOOD_FRAMES} frames in ${(ms / 1000).toFixed(1)} s ` +
        `(${Math.round(FLOOD_FRAMES / (ms / 1000))} frames/s); ping during: ` +
        `${duringPing.received}/${duringPing.sent}, avg ${duringPing.avgMs} ms; ` +
        `RSS ${rssBefore} → ${rssAfter} KiB`,
    );

    // Every flood frame reached the switch, and was either learned or refused — and the table
    // stopped at its limit.
    const port = after.ports.find((p) => p.port === FLOOD_PORT)!;
    assertEquals(port.framesIn, FLOOD_FRAMES + 1, "frames the switch received from the flooder");
    assertEquals(after.fdb.limit, MAC_LIMIT);
    assertEquals(after.fdb.size, MAC_LIMIT, "the table is full, not over-full");
    assertEquals(
      after.fdb.refusals - before.fdb.refusals + (after.fdb.size - before.fdb.size),
      FLOOD_FRAMES,
      "each flood MAC was learned or refused",
    );
    assertGreater(after.fdb.refusals, FLOOD_FRAMES - MAC_LIMIT - 1, "refusals counted");
    // The hosts were learned before the flood, so they keep unicast forwarding: they kept working
    // during the flood and still do.
    assertGreater(
      duringPing.received,
      0,
      `no ping answered during the flood:\n${duringPing.output}`,
    );
    await assertPings(a.ns, b.ipv4!);
    await assertPings(b.ns, a.ipv4!);
    // Memory: the table is preallocated; a million refused MACs must not grow the process.
    assertLessOrEqual(rssAfter - rssBefore, 64 * 1024, `RSS grew ${rssBefore} → ${rssAfter} KiB`);
    await flooder.stop();
  },
);

/** Poll the switch's counters until port `n` exists and satisfies `ok` (bounded). */
async function waitForPort(
  sw: WeftSwitch,
  n: number,
  ok: (p: PortCounters) => boolean,
  timeoutMs = 10_000,
): Promise<SwitchCounters> {
  let last: SwitchCounters | undefined;
  return await waitUntil(`port ${n} counters`, async () => {
    last = await sw.counters();
    const p = last.ports.find((p) => p.port === n) as PortCounters | undefined;
    return p !== undefined && ok(p) ? last : undefined;
  }, { timeoutMs, intervalMs: 200 }).catch((e) => {
    throw new Error(`${e instanceof Error ? e.message : e}\nlast: ${JSON.stringify(last)}`);
  });
}

interface PortCounters {
  port: number;
  framesIn: number;
  framesOut: number;
  drops: Record<string, number>;
}

// ---------------------------------------------------------------------------------------------
// g: bad input against a running switch. Clients that break the protocol are refused and counted;
// the hosts attached before keep working, and new clients are served while bad ones stall.

/** Resolves true when the server closes `conn` (EOF or reset) within `timeoutMs`, else false. */
async function closedByPeer(conn: Deno.UnixConn, timeoutMs: number): Promise<boolean> {
  const buf = new Uint8Array(512);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), timeoutMs));
  try {
    for (let i = 0; i < 10; i++) {
      const n = await Promise.race([conn.read(buf).catch(() => null), late]);
      if (n === "late") return false;
      if (n === null) return true;
      // A reply to a bad request would be a protocol violation: fail loudly.
      throw new Error(`the switch answered a bad request with ${n} bytes`);
    }
    return false;
  } finally {
    clearTimeout(timer);
  }
}

peerTest(
  "weft switch refuses bad ctl requests (wrong magic, version 2, garbage, missing socket, short and silent stalls) and keeps serving",
  { ...TAP, tools: TAP_TOOLS },
  async (lab) => {
    const sw = await lab.weftSwitch();
    const a = await lab.host("a", sw.dir, { ipv4: "10.0.0.1/24" });
    const b = await lab.host("b", sw.dir, { ipv4: "10.0.0.2/24" });
    await assertPings(a.ns, b.ipv4!);

    const ctl = `${sw.dir}/ctl`;
    const conns: Deno.UnixConn[] = [];
    lab.defer(() => conns.forEach((c) => c.close()));
    const connect = async (bytes?: Uint8Array) => {
      const c = await Deno.connect({ transport: "unix", path: ctl });
      conns.push(c);
      if (bytes) await c.write(bytes);
      return c;
    };
    const garbage = crypto.getRandomValues(new Uint8Array(256));
    garbage[0] = 0; // not 0xfeedface whatever the draw
    const refusedAtOnce = {
      badMagic: await connect(encodeCtlRequest({ magic: 0xdeadbeef, sock: `${sw.dir}/x` })),
      badVersion: await connect(encodeCtlRequest({ version: 2, sock: `${sw.dir}/x` })),
      garbage: await connect(garbage),
      noClientSocket: await connect(encodeCtlRequest({ sock: lab.path("no-such-socket") })),
    };
    // Stalls: a request cut after 10 bytes, and a client that never says anything.
    const short = await connect(encodeCtlRequest({ sock: `${sw.dir}/x` }).subarray(0, 10));
    const silent = await connect();

    for (const [what, c] of Object.entries(refusedAtOnce)) {
      assert(await closedByPeer(c, 3_000), `${what}: the switch did not close the connection`);
    }
    // While two clients stall in the handshake, a real client attaches and works.
    const c = await lab.host("c", sw.dir, { ipv4: "10.0.0.3/24" });
    await assertPings(a.ns, c.ipv4!);
    // Stalled handshakes are cut after the request timeout (5 s), not kept forever.
    assert(await closedByPeer(short, 10_000), "a short request was kept open");
    assert(await closedByPeer(silent, 10_000), "a silent client was kept open");

    await assertPings(a.ns, b.ipv4!);
    await assertPings(b.ns, a.ipv4!);
    const counters = await sw.counters();
    assertEquals(counters.ctlRefused, {
      badMagic: 2,
      badVersion: 1,
      noClientSocket: 1,
      timeout: 2,
    });
    assertEquals(counters.ports.length, 3, "only the three real hosts hold ports");
  },
);

peerTest(
  "weft plug: a 65,535-byte frame (largest 2-byte length) on a 1500-MTU switch is dropped and counted, the stream stays in sync, a truncated frame + EOF ends the plug; hosts keep working",
  { ...TAP, tools: TAP_TOOLS },
  async (lab) => {
    const sw = await lab.weftSwitch(["--mtu", "1500"]);
    const a = await lab.host("a", sw.dir, { ipv4: "10.0.0.1/24" });
    const b = await lab.host("b", sw.dir, { ipv4: "10.0.0.2/24" });
    await assertPings(a.ns, b.ipv4!);

    const PLUG_PORT = 9;
    // The plug announces the largest MTU, so the 1500-MTU switch is the one that must refuse.
    const plug = lab.spawnWeft(["plug", `${sw.url}?port=${PLUG_PORT}&mtu=65521`], {
      name: "weft plug",
      stdin: "piped",
      stdout: "null",
    });
    await waitForPort(sw, PLUG_PORT, () => true, 30_000);
    const jumbo = new Uint8Array(65_535);
    jumbo.fill(0xff, 0, 6); // broadcast: it would reach every host if it were let through
    jumbo.set(macBytes("02:00:00:00:00:09"), 6);
    jumbo.set([0x88, 0xb5], 12);
    // Right behind it in the same write: an ARP request for host a, which must still be parsed.
    const who = arpRequest("02:00:00:00:00:09", "10.0.0.9", a.ipv4!);
    const bytes = new Uint8Array([...streamFrame(jumbo), ...streamFrame(who)]);
    await plug.stdin!.write(bytes);
    const seen = await waitForPort(sw, PLUG_PORT, (p) => p.framesIn >= 2 && p.framesOut >= 1);
    const port = seen.ports.find((p) => p.port === PLUG_PORT) as unknown as PortCounters;
    assertEquals(port.framesIn, 2, "both frames parsed from the stream");
    assertEquals(port.drops.oversize, 1, "the jumbo frame dropped as oversize");
    // framesOut ≥ 1 is host a's ARP reply coming back: the request after the jumbo frame went
    // through intact.

    // A header announcing 1000 bytes, 10 bytes of it, then EOF: the plug ends and its port goes.
    await plug.stdin!.write(new Uint8Array([0x03, 0xe8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    await plug.stdin!.close();
    const status = await plug.waitExit(10_000);
    assertNotEquals(status, undefined, `weft plug still running after EOF:\n${plug}`);
    await waitUntil("the plug's port to go", async () => {
      return (await sw.counters()).ports.every((p) => p.port !== PLUG_PORT);
    });
    assertEquals(status!.code, 0, "the peer ended the stream: not an error of the plug");
    assertMatch(plug.errors, /stream ended inside a frame \(12 bytes lost\)/, "but it says so");
    await assertPings(a.ns, b.ipv4!);
    await assertPings(b.ns, a.ipv4!);
  },
);

// ---------------------------------------------------------------------------------------------
// CLI front door: bad usage is one clear line on stderr and a non-zero exit, never a stack trace.

Deno.test("weft switch --bogus exits 2 with one line on stderr", async () => {
  const r = await runWeft(["switch", "--bogus"]);
  assertEquals(r.code, 2, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assertEquals(lines.length, 1, `stderr:\n${r.stderr}`);
  assertMatch(lines[0], /bogus/);
});

Deno.test("weft plug notascheme://x exits non-zero with one clear line", async () => {
  const r = await runWeft(["plug", "notascheme://x"], { stdin: "" });
  assertNotEquals(r.code, 0, "exit code");
  const lines = r.stderr.trimEnd().split("\n");
  assertEquals(lines.length, 1, `stderr:\n${r.stderr}`);
  assertMatch(lines[0], /unknown scheme "notascheme"/);
});
