/**
 * Real-peer acceptance tests for `vxlan://` (cable/vxlan.ts): weft as a VXLAN tunnel endpoint on
 * one segment with the Linux kernel's `vxlan` device and with vdeplug4's `vde_plug vxlan://`.
 *
 * Every VTEP lives in its own network namespace (each holds UDP port 4789 on the wildcard
 * address, so two cannot share one), joined by veth pairs — or, for three VTEPs, by a Linux
 * bridge in an "underlay" namespace. weft runs as `weft switch --connect vxlan://…` inside its
 * namespace (`ip netns exec`), and a host namespace plugs a TAP into that switch with vde_plug:
 * its kernel then pings the kernel behind the other VTEP. Inner hosts use MTU 1450, what Linux
 * gives its vxlan device over a 1500-byte underlay (RFC 7348 §4.3: VTEPs must not fragment).
 */

import { assert, assertEquals, assertGreater } from "@std/assert";
import { type Lab, peerTest } from "./_harness/lab.ts";
import type { Netns } from "./_harness/netns.ts";
import { type Background, sleep, waitUntil } from "./_harness/process.ts";
import { parseCounterReports, type SwitchCounters, weftCommand } from "./_harness/weft.ts";
import { startCapture } from "./_harness/pcap.ts";
import { download, serveRandomFile } from "./_harness/http.ts";

const TOOLS = ["ip", "ping", "vde_plug"];
/** Inner MTU over a 1500-byte IPv4 underlay (Linux's vxlan default; 1430 over IPv6). */
const INNER_MTU = 1450;

/** A veth pair `u0` ⇄ `u0` between two namespaces, up, with the given addresses. */
async function veth(a: Netns, b: Netns, addrA: string, addrB: string): Promise<void> {
  await a.ip("link", "add", "u0", "type", "veth", "peer", "name", "u0", "netns", b.name);
  await a.addAddress("u0", addrA);
  await b.addAddress("u0", addrB);
  // A veth end reports LOWER_UP only once its peer is up too: up both, then wait for each.
  await a.ip("link", "set", "u0", "up");
  await b.linkUp("u0");
  await a.linkUp("u0");
}

/**
 * Multicast needs a route (the sockets join and send by the routing table): send the whole
 * multicast range out of the underlay link.
 */
async function multicastRoute(ns: Netns, dev = "u0"): Promise<void> {
  await ns.ip("route", "add", "224.0.0.0/4", "dev", dev);
}

/** A `weft switch` in `ns` whose one cable is `url`; resolves when its ctl socket exists. */
async function weftVtep(lab: Lab, ns: Netns, url: string): Promise<WeftVtep> {
  const dir = lab.path(`weft-${ns.name}`);
  const p = ns.spawn(weftCommand(["switch", "--sock", dir, "--connect", url]), {
    name: "weft switch",
  });
  await waitUntil(`weft switch in ${ns.name} to create ${dir}/ctl`, async () => {
    if (p.exitStatus) throw new Error(`weft switch exited early\n${p}`);
    try {
      return (await Deno.stat(`${dir}/ctl`)).isSocket === true;
    } catch {
      return false;
    }
  }, { timeoutMs: 30_000, intervalMs: 50 });
  return new WeftVtep(dir, p);
}

class WeftVtep {
  constructor(readonly dir: string, readonly process: Background) {}

  /** The counter report a SIGUSR2 makes the switch print (as tests/_harness/weft.ts). */
  async counters(): Promise<SwitchCounters> {
    const mark = this.process.errorMark;
    this.process.signal("SIGUSR2");
    return await waitUntil("a counters report on SIGUSR2", () => {
      const fresh = parseCounterReports(this.process.errorsSince(mark));
      return fresh.length > 0 ? fresh[fresh.length - 1] : undefined;
    }, { timeoutMs: 5_000 });
  }

  /**
   * The drops of the vxlan endpoint, without `noSink`: on a busy group a frame can arrive in the
   * moment between opening the cable and plugging it into the switch, and the contract counts it.
   */
  async vxlanDrops(): Promise<Record<string, number>> {
    const port = (await this.counters()).ports.find((p) => String(p.endpoint).startsWith("vxlan"));
    assert(port !== undefined, "the vxlan port is in the report");
    const { noSink: _, ...drops } = port.endpointDrops as Record<string, number>;
    return drops;
  }
}

/** A host namespace whose TAP is plugged into weft's switch, with inner MTU and addresses. */
async function innerHost(
  lab: Lab,
  vtep: WeftVtep,
  v4: string,
  v6: string,
  mtu = INNER_MTU,
): Promise<Netns> {
  const h = await lab.host("h", vtep.dir, { ipv4: v4, ipv6: v6 });
  await h.ns.ip("link", "set", h.tap, "mtu", String(mtu));
  return h.ns;
}

/** Inner addresses on a device: MTU 1450, IPv4 and IPv6 (nodad), up. */
async function innerAddresses(
  ns: Netns,
  dev: string,
  v4: string,
  v6: string,
  mtu = INNER_MTU,
): Promise<void> {
  await ns.ip("link", "set", dev, "mtu", String(mtu));
  await ns.addAddress(dev, v4);
  await ns.addAddress(dev, v6);
  await ns.linkUp(dev);
}

/** Wait until `to` answers once, then require all `count` echoes answered. */
async function assertPings(from: Netns, to: string, count = 5): Promise<void> {
  await from.waitReachable(to, 15_000);
  const r = await from.ping(to, { count, interval: 0.05, wait: 1 });
  assertEquals([r.sent, r.received], [count, count], `echoes sent/answered:\n${r.output}`);
}

/** Ping both ways over inner IPv4 and IPv6. */
async function assertPingBothWays(a: Netns, aAddrs: string[], b: Netns, bAddrs: string[]) {
  for (let i = 0; i < aAddrs.length; i++) {
    await assertPings(a, bAddrs[i]);
    await assertPings(b, aAddrs[i]);
  }
}

/** A kernel vxlan device `vx42` (VNI 42, UDP 4789) over `u0`; `where`: remote/group/local. */
async function kernelVtep(ns: Netns, where: string[]): Promise<void> {
  await ns.ip(
    "link",
    "add",
    "vx42",
    "type",
    "vxlan",
    "id",
    "42",
    "dstport",
    "4789",
    ...where,
    "dev",
    "u0",
  );
}

/**
 * `ethtool -K DEV tx off` without ethtool (SIOCETHTOOL, ETHTOOL_STXCSUM; linux/ethtool.h).
 *
 * Why: a kernel vxlan device over a veth leaves the inner TCP/UDP checksum *partial* — checksum
 * offload is trusted across veth into the next namespace, where only a NIC (or a device without
 * offload) would complete it — and a UDP socket reading the datagram, weft's or any other
 * program's, gets the inner packet with an unfinished checksum. The TAP host behind weft then
 * drops every TCP segment (tcpdump: "cksum … incorrect"); pings pass because ICMP is summed in
 * software. Between hosts the sender's NIC finishes the checksum, so only this test setup needs
 * it; a VTEP must not rewrite inner checksums (that would hide real corruption).
 */
async function txChecksumOff(ns: Netns, dev: string): Promise<void> {
  const script = [
    "import array, fcntl, socket, struct, sys",
    "ev = array.array('I', [0x17, 0])",
    "ifr = struct.pack('16sP', sys.argv[1].encode(), ev.buffer_info()[0])",
    "fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8946, ifr)",
  ].join("\n");
  await ns.execOk(["python3", "-c", script, dev], { timeoutMs: 10_000 });
}

/** A 10 MiB HTTP download each way between two namespaces; sha256 must match. */
async function assertHttpBothWays(lab: Lab, a: Netns, aAddr: string, b: Netns, bAddr: string) {
  for (const [server, bind, client] of [[a, aAddr, b], [b, bAddr, a]] as const) {
    const served = await serveRandomFile(server, {
      bind,
      mib: 10,
      dir: await lab.mkdir(`www-${server.name}`),
    });
    const got = await download(client, served.url, lab.path(`got-${client.name}.bin`));
    assertEquals(got.sha256, served.sha256, `sha256 of the download from ${server.name}`);
    console.log(
      `  HTTP 10 MiB ${server.name} -> ${client.name}: ${got.mibPerSec.toFixed(1)} MiB/s`,
    );
    await served.server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 1. The Linux kernel's vxlan device, point to point ("remote" mode), over IPv4 and IPv6 underlays.

for (const underlay of ["IPv4", "IPv6"] as const) {
  peerTest(
    `Linux vxlan device (remote ${underlay}) and weft vxlan:// (peer): ping and 10 MiB HTTP both ways`,
    { tun: true, tools: [...TOOLS, "python3", "curl", "sha256sum"] },
    async (lab) => {
      const v6 = underlay === "IPv6";
      const [k, w] = [await lab.netns("kvtep"), await lab.netns("wvtep")];
      const [ka, wa] = v6 ? ["fd99::1", "fd99::2"] : ["10.99.0.1", "10.99.0.2"];
      await veth(k, w, `${ka}/${v6 ? 64 : 24}`, `${wa}/${v6 ? 64 : 24}`);
      await kernelVtep(k, ["remote", wa, "local", ka]);
      // 1500 - outer IP (20 or 40) - UDP 8 - VXLAN 8 - inner Ethernet 14 (RFC 7348 §5).
      const mtu = v6 ? 1430 : 1450;
      await innerAddresses(k, "vx42", "192.168.42.1/24", "fd42::1/64", mtu);
      const vtep = await weftVtep(lab, w, `vxlan://${v6 ? `[${ka}]` : ka}?vni=42`);
      const h = await innerHost(lab, vtep, "192.168.42.2/24", "fd42::2/64", mtu);
      await assertPingBothWays(h, ["192.168.42.2", "fd42::2"], k, ["192.168.42.1", "fd42::1"]);
      // The largest packet that fits the inner MTU crosses both ways, unfragmented.
      const big = await h.ping("192.168.42.1", { count: 3, interval: 0.1, size: mtu - 28 });
      assertEquals(big.received, 3, big.output);
      const back = await k.ping("192.168.42.2", { count: 3, interval: 0.1, size: mtu - 28 });
      assertEquals(back.received, 3, back.output);
      await txChecksumOff(k, "vx42");
      await assertHttpBothWays(lab, h, "192.168.42.2", k, "192.168.42.1");
      assertEquals(await vtep.vxlanDrops(), {});
    },
  );
}

peerTest(
  "Linux vxlan device (group ff05:56de::1, IPv6 underlay) and weft vxlan:///v6 (the default group): ping both ways",
  { tun: true, tools: [...TOOLS, "bridge"] },
  async (lab) => {
    const [k, w] = [await lab.netns("kvtep"), await lab.netns("wvtep")];
    await veth(k, w, "fd99::1/64", "fd99::2/64");
    // IPv6 multicast needs no extra route: every IPv6 link has ff00::/8 in the local table.
    await kernelVtep(k, ["group", "ff05:56de::1"]);
    await innerAddresses(k, "vx42", "192.168.42.1/24", "fd42::1/64", 1430);
    const vtep = await weftVtep(lab, w, "vxlan:///v6?vni=42&if=u0");
    const h = await innerHost(lab, vtep, "192.168.42.2/24", "fd42::2/64", 1430);
    await assertPingBothWays(h, ["192.168.42.2", "fd42::2"], k, ["192.168.42.1", "fd42::1"]);
    // The kernel learned weft's inner MAC behind weft's underlay address (RFC 7348 §4.1).
    const fdb = await k.execOk(["bridge", "fdb", "show", "dev", "vx42"]);
    assert(fdb.includes("dst fd99::2"), fdb);
    assertEquals(await vtep.vxlanDrops(), {});
  },
);

// ---------------------------------------------------------------------------------------------
// 2. vdeplug4's vde_plug vxlan:// on a multicast group.
//
// vdeplug4's learning is broken in the Debian 4.0.1 build (and at upstream HEAD): its
// vde_vxlan_recv sets `msg_namelen = fam2socklen(&sender)` from an *uninitialised* sockaddr, so
// recvmsg is called with msg_namelen 0 and returns no source address; every MAC it learns maps
// to a zeroed sockaddr and its unicast replies fail with EDESTADDRREQ (seen with strace). So
// `hashsize=0` turns its table off: it then sends every frame to the group, which is valid VXLAN
// (RFC 7348 §4.2: unknown destinations go to the group). weft still learns and answers it by
// unicast on port 4789, which vdeplug4 receives like any datagram.

const VDEPLUG_VXLAN = "vxlan://239.0.0.1/vni=42/hashsize=0";

peerTest(
  "vdeplug4 vde_plug vxlan:// and weft vxlan:// on group 239.0.0.1: hosts ping both ways",
  { tun: true, tools: TOOLS },
  async (lab) => {
    const [v, w] = [await lab.netns("vvtep"), await lab.netns("wvtep")];
    await veth(v, w, "10.99.0.1/24", "10.99.0.2/24");
    await multicastRoute(v);
    await multicastRoute(w);
    const plug = v.spawn(["vde_plug", VDEPLUG_VXLAN, "tap://vxt"], { name: "vde_plug vxlan" });
    await waitUntil("vde_plug to create its TAP", async () => {
      if (plug.exitStatus) throw new Error(`${plug}`);
      return (await v.exec(["ip", "link", "show", "vxt"])).success;
    }, { timeoutMs: 10_000, intervalMs: 50 });
    await innerAddresses(v, "vxt", "192.168.42.1/24", "fd42::1/64");
    const vtep = await weftVtep(lab, w, "vxlan://239.0.0.1?vni=42");
    const h = await innerHost(lab, vtep, "192.168.42.2/24", "fd42::2/64");
    await assertPingBothWays(h, ["192.168.42.2", "fd42::2"], v, ["192.168.42.1", "fd42::1"]);
    assertEquals(await vtep.vxlanDrops(), {});
  },
);

// ---------------------------------------------------------------------------------------------
// 3. Three VTEPs on one group over a bridge: Linux (group mode), vdeplug4 and weft. weft must
// answer the kernel's VTEP by unicast, to the address it learned (RFC 7348 §4.1).

/** Whether this kernel can create a Linux bridge (probed once, in a throwaway namespace). */
function bridgeSupport(): string | undefined {
  const name = `wft-brprobe-${Deno.pid}`;
  const ip = (...args: string[]) =>
    new Deno.Command("ip", { args, stdout: "null", stderr: "null" }).outputSync().success;
  try {
    if (!ip("netns", "add", name)) return "cannot create a network namespace";
    return ip("-n", name, "link", "add", "br0", "type", "bridge")
      ? undefined
      : "the kernel has no bridge support";
  } catch {
    return "cannot run ip";
  } finally {
    try {
      ip("netns", "del", name);
    } catch {
      // nothing to clean
    }
  }
}

peerTest(
  "three VTEPs on one group (Linux group mode, vdeplug4, weft): all ping; weft unicasts to the learned VTEP",
  { tun: true, tools: [...TOOLS, "tcpdump"], probe: bridgeSupport },
  (lab) => threeVtepsIn(lab),
);

async function threeVtepsIn(lab: Lab): Promise<void> {
  const ul = await lab.netns("underlay");
  await ul.ip("link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
  await ul.linkUp("br0");
  const vteps: Netns[] = [];
  for (const [i, label] of ["kvtep", "vvtep", "wvtep"].entries()) {
    const ns = await lab.netns(label);
    await ns.ip("link", "add", "u0", "type", "veth", "peer", "name", `p${i}`, "netns", ul.name);
    await ul.ip("link", "set", `p${i}`, "master", "br0");
    await ns.addAddress("u0", `10.99.0.${i + 1}/24`);
    await ns.ip("link", "set", "u0", "up");
    await ul.linkUp(`p${i}`);
    await ns.linkUp("u0");
    await multicastRoute(ns);
    vteps.push(ns);
  }
  const [k, v, w] = vteps;
  await kernelVtep(k, ["group", "239.0.0.1"]);
  await innerAddresses(k, "vx42", "192.168.42.1/24", "fd42::1/64");
  const plug = v.spawn(["vde_plug", VDEPLUG_VXLAN, "tap://vxt"], { name: "vde_plug vxlan" });
  await waitUntil("vde_plug to create its TAP", async () => {
    if (plug.exitStatus) throw new Error(`${plug}`);
    return (await v.exec(["ip", "link", "show", "vxt"])).success;
  }, { timeoutMs: 10_000, intervalMs: 50 });
  await innerAddresses(v, "vxt", "192.168.42.3/24", "fd42::3/64");
  const vtep = await weftVtep(lab, w, "vxlan://239.0.0.1?vni=42");
  const h = await innerHost(lab, vtep, "192.168.42.2/24", "fd42::2/64");

  const cap = await startCapture(k, "u0", lab.path("k-u0.pcap"), [
    "udp and src host 10.99.0.3 and dst host 10.99.0.1 and dst port 4789",
  ]);
  await assertPingBothWays(h, ["192.168.42.2", "fd42::2"], k, ["192.168.42.1", "fd42::1"]);
  const unicast = (await cap.stop()).length;
  assertGreater(unicast, 0, "weft sent unicast datagrams to the kernel's VTEP 10.99.0.1");
  await assertPingBothWays(h, ["192.168.42.2", "fd42::2"], v, ["192.168.42.3", "fd42::3"]);
  // The kernel and vdeplug4 reach each other through the same group without weft.
  await assertPings(k, "192.168.42.3");
  assertEquals(await vtep.vxlanDrops(), {});
  console.log(`  weft → kernel VTEP by unicast: ${unicast} datagrams`);
}

// ---------------------------------------------------------------------------------------------
// 4. Malformed datagrams at weft's VTEP: counted by reason, never fatal, traffic keeps flowing.

peerTest(
  "weft vxlan:// counts malformed datagrams (flags, VNI, short, random) and keeps forwarding",
  { tun: true, tools: [...TOOLS, "python3"] },
  async (lab) => {
    const [k, w] = [await lab.netns("kvtep"), await lab.netns("wvtep")];
    await veth(k, w, "10.99.0.1/24", "10.99.0.2/24");
    await kernelVtep(k, ["remote", "10.99.0.2"]);
    await innerAddresses(k, "vx42", "192.168.42.1/24", "fd42::1/64");
    const vtep = await weftVtep(lab, w, "vxlan://10.99.0.1?vni=42");
    const h = await innerHost(lab, vtep, "192.168.42.2/24", "fd42::2/64");
    await assertPings(h, "192.168.42.1");

    // From the kernel VTEP's namespace, while a ping runs: wrong flags (0x00, 0x0c, 0x88), a
    // wrong VNI, a 3-byte datagram, a header with a 13-byte frame, and 200 random datagrams
    // (the first one byte long).
    const script = `
import os, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dst = ("10.99.0.2", 4789)
frame = bytes.fromhex("ffffffffffff02000000000108060001080006040001") + bytes(20)
hdr = lambda flags, vni: bytes([flags, 0, 0, 0]) + vni.to_bytes(3, "big") + b"\\0"
for f in (0x00, 0x0c, 0x88):
    s.sendto(hdr(f, 42) + frame, dst)
s.sendto(hdr(8, 43) + frame, dst)
s.sendto(b"\\x08\\0\\0", dst)
s.sendto(hdr(8, 42) + frame[:13], dst)
for i in range(200):
    d = bytearray(os.urandom(1 + i * 7))
    d[0] = 0x55  # never the valid flags byte: badHeader (or runt when under 8 bytes)
    s.sendto(bytes(d), dst)
    time.sleep(0.002)  # UDP has no flow control: a faster burst could overflow the socket buffer
`;
    const during = h.ping("192.168.42.1", { count: 20, interval: 0.05, wait: 1 });
    await sleep(200);
    await k.execOk(["python3", "-c", script], { timeoutMs: 10_000 });
    const r = await during;
    assertEquals(r.received, 20, `pings during the garbage:\n${r.output}`);
    await assertPings(k, "192.168.42.2");
    assertEquals(await vtep.vxlanDrops(), { badHeader: 202, wrongVni: 1, runt: 3 });
    assertEquals(vtep.process.exitStatus, undefined, "weft is still running");
  },
);
