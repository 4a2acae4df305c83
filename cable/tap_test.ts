/**
 * `tap://` against its real peer, the Linux kernel. A tap is created in the network namespace of
 * the process that opens /dev/net/tun, so every tap here lives in a namespace the test creates:
 * in-process tests open theirs with `netns=` (the setup runs inside the namespace on the JS
 * thread), CLI tests run weft itself under `ip netns exec`. Without root or /dev/net/tun the
 * kernel tests are ignored with the reason in their names; the input checks run everywhere.
 */

import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { endpointContract, type Link, until } from "../tests/_harness/endpoint_contract.ts";
import { frame, mac } from "../tests/_harness/frames.ts";
import { download, serveRandomFile } from "../tests/_harness/http.ts";
import { type Lab, peerTest } from "../tests/_harness/lab.ts";
import { Netns } from "../tests/_harness/netns.ts";
import { type Background, exists, run, waitUntil } from "../tests/_harness/process.ts";
import { gate } from "../tests/_harness/requirements.ts";
import { weftCommand } from "../tests/_harness/weft.ts";
import { ConfigError } from "../core/errors.ts";
import { poller } from "./ffi/poller.ts";
import { openEndpoint } from "./mod.ts";
import { invalidTapName, openTap, type TapEndpoint } from "./tap.ts";

const KERNEL = { tun: true, tools: ["ip"] };

// ---------------------------------------------------------------------------------------------
// Input checks: no root, no device needed.

Deno.test("tap: interface names are checked before any system call", () => {
  assertEquals(invalidTapName("wt0"), undefined);
  assertEquals(invalidTapName("a234567890abcde"), undefined); // 15 bytes
  assertEquals(invalidTapName("wt%d"), undefined);
  assertMatch(invalidTapName("a234567890abcdef")!, /16 bytes; Linux allows at most 15/);
  assertMatch(invalidTapName("ééééééééé")!, /18 bytes/); // bytes, not characters
  assertMatch(invalidTapName("")!, /empty/);
  for (const bad of ["a/b", "a:b", "a b", "a\tb", ".", "..", "%s", "a%d%d", "a\0"]) {
    assert(invalidTapName(bad) !== undefined, `"${bad}" is rejected`);
  }
});

Deno.test("tap: bad URLs give one clear ConfigError naming the URL", async () => {
  const cases: [string, RegExp][] = [
    [
      "tap://abcdefghijklmnop",
      /^Cannot open endpoint "tap:\/\/abcdefghijklmnop": interface name "abcdefghijklmnop" is 16 bytes; Linux allows at most 15 \(IFNAMSIZ\)$/,
    ],
    ["tap://", /^Cannot open endpoint "tap:\/\/": the interface name is empty$/],
    ["tap://a/b", /^Cannot open endpoint "tap:\/\/a\/b": interface name "a\/b" contains/],
    ["tap://wt0?mtu=67", /^Invalid tap mtu "67": expected a whole number from 68 to 65521$/],
    ["tap://wt0?mtu=65522", /^Invalid tap mtu "65522"/],
    ["tap://wt0?mtu=big", /^Invalid tap mtu "big"/],
    [
      "tap://wt0?colour=red",
      /^Cannot open endpoint "tap:\/\/wt0\?colour=red": unknown option "colour" \(tap takes mtu, persist, netns\)$/,
    ],
    ["tap://wt0?persist=maybe", /invalid persist=maybe \(expected persist, persist=1 or/],
  ];
  for (const [url, re] of cases) {
    const e = await assertRejects(() => openEndpoint(url), ConfigError);
    assertMatch(e.message, re, url);
  }
});

Deno.test("tap: no TUN/TAP device: a ConfigError that says so", () => {
  let err: unknown;
  try {
    openTap("wt0", { device: "/nonexistent-weft/net/tun" });
  } catch (e) {
    err = e;
  }
  assert(err instanceof ConfigError, `ConfigError, got ${err}`);
  assertMatch(
    err.message,
    /^Cannot open endpoint "tap:\/\/wt0": \/nonexistent-weft\/net\/tun does not exist \(no TUN\/TAP support here: modprobe tun/,
  );
});

// ---------------------------------------------------------------------------------------------
// In-process, kernel as the peer: two taps in a namespace joined by a Linux bridge, so that what
// one tap writes the other reads — after the kernel has parsed, forwarded and queued it.

/**
 * A namespace where the kernel sends nothing by itself: IPv6 off (no router solicitations, MLD or
 * DAD), and bridges made by `bridgeTaps` have IGMP snooping off (no multicast router queries).
 */
async function quietNetns(label: string): Promise<Netns> {
  const ns = await Netns.create(label);
  try {
    await ns.execOk([
      "sysctl",
      "-qw",
      "net.ipv6.conf.all.disable_ipv6=1",
      "net.ipv6.conf.default.disable_ipv6=1",
    ]);
  } catch (e) {
    await ns.dispose();
    throw e;
  }
  return ns;
}

/** Enslave `taps` to a new bridge br0 (STP and IGMP snooping off: it forwards at once). */
async function bridgeTaps(ns: Netns, taps: string[]): Promise<void> {
  await ns.ip("link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
  for (const t of taps) await ns.ip("link", "set", t, "master", "br0");
  await ns.ip("link", "set", "br0", "up");
}

/** Taps `ta` and `tb` in a fresh quiet namespace, bridged by its kernel. */
async function bridgedTaps(linkMtu = 1500) {
  const ns = await quietNetns("tap");
  const opened: TapEndpoint[] = [];
  try {
    opened.push(openTap("ta", { netns: ns.name, mtu: linkMtu }));
    opened.push(openTap("tb", { netns: ns.name, mtu: linkMtu }));
    await bridgeTaps(ns, ["ta", "tb"]);
  } catch (e) {
    for (const t of opened) t.close();
    await ns.dispose();
    throw e;
  }
  const [a, b] = opened;
  return {
    ns,
    a,
    b,
    async cleanup() {
      a.close();
      b.close();
      await poller().idle();
      await ns.dispose();
    },
  };
}

const kernelGate = gate(KERNEL);
if (kernelGate.ignore) {
  Deno.test({ name: kernelGate.name("tap: contract"), ignore: true, fn() {} });
} else {
  endpointContract("tap (two taps bridged by the kernel)", (): Promise<Link> => bridgedTaps(), {
    // MTU 1500 + Ethernet header + one 802.1Q tag: what the bridge forwards too (br_forward.c
    // is_skb_forwardable: mtu + hard_header_len + VLAN_HLEN).
    mtu: 1518,
    closePropagates: false, // the kernel is the far side; nothing tells b that a closed
  });
}

/** A peer test in a lab; the body gets bridged taps (default MTU 1500). */
function bridgedTest(
  name: string,
  linkMtu: number,
  fn: (l: Awaited<ReturnType<typeof bridgedTaps>>) => Promise<void>,
) {
  peerTest(name, KERNEL, async (lab) => {
    const l = await bridgedTaps(linkMtu);
    lab.defer(() => l.cleanup());
    await fn(l);
  });
}

bridgedTest(
  "tap: frames of 60 to 65,535 bytes pass byte-exact at MTU 65521, one per read and write",
  65521,
  async ({ a, b }) => {
    assertEquals([a.linkMtu, a.mtu], [65521, 65535]);
    const got: Uint8Array[] = [];
    b.setSink((f) => got.push(f.slice()));
    const sent = [60, 1514, 9018, 65535, 61].map((n, i) =>
      frame({ dst: mac(2), src: mac(1), seq: i, length: n })
    );
    for (const f of sent) assert(a.send(f));
    assert(await until(() => got.length === sent.length), `got ${got.length}`);
    assertEquals(got, sent);
  },
);

bridgedTest(
  "tap: 1,024 writes in one synchronous flush all reach the kernel (no drop on the write side)",
  1500,
  async ({ ns, a, b }) => {
    // The reading tap's queue is txqueuelen frames (1,000 by default): make it hold the burst, so
    // any loss would be the writer's.
    await ns.ip("link", "set", "tb", "txqueuelen", "2000");
    let got = 0;
    b.setSink(() => got++);
    const f = frame({ dst: mac(2), src: mac(1), length: 1514 });
    const t0 = performance.now();
    for (let i = 0; i < 1024; i++) assert(a.send(f));
    await null; // the flush microtask: 1,024 writes back to back
    const ms = performance.now() - t0;
    assert(await until(() => got === 1024), `got ${got} of 1024`);
    assertEquals(a.stats().drops, {});
    console.log(`  1,024 × 1,514-byte writes in ${ms.toFixed(1)} ms`);
  },
);

bridgedTest(
  "tap: a write while the link is down is dropped as linkDown",
  1500,
  async ({ ns, a }) => {
    await ns.ip("link", "set", "ta", "down");
    assert(a.send(frame({ dst: mac(2), src: mac(1) })), "queued");
    await until(() => (a.stats().drops.linkDown ?? 0) > 0);
    assertEquals(a.stats().drops, { linkDown: 1 });
    assertEquals(a.lastError, "EIO");
    assertEquals(a.isClosed, false, "a down link is not a reason to close");
  },
);

bridgedTest("tap: a device deleted under the endpoint closes it", 1500, async ({ ns, b }) => {
  await ns.ip("link", "del", "tb");
  const closed = await Promise.race([
    b.closed.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
  ]);
  assert(closed, "closed after the device was deleted");
  assertMatch(b.closeReason ?? "", /EBADFD/);
});

peerTest("tap: persist, %d names, MTU and attaching to existing taps", KERNEL, async (lab) => {
  const ns = await lab.netns("tapp");
  const links = async () => (await ns.ip("-d", "-o", "link")).split("\n");
  const link = async (name: string) => (await links()).find((l) => l.includes(` ${name}: `));

  // A non-persistent tap vanishes with its endpoint.
  const t = await openEndpoint(`tap://wn0?netns=${ns.name}`);
  assertMatch((await link("wn0"))!, /<[^>]*\bUP\b[^>]*>/);
  t.close();
  await t.closed;
  assertEquals(await link("wn0"), undefined, "wn0 is gone after close");

  // `%d`, persist and mtu; the endpoint names the device it got.
  const p = await openEndpoint(`tap://wp%d?persist&mtu=9000&netns=${ns.name}`);
  lab.defer(() => void ns.ip("link", "del", "wp0").catch(() => {}));
  assertEquals([p.url, p.mtu], ["tap://wp0", 9018]);
  const shown = (await link("wp0"))!;
  assertMatch(shown, /mtu 9000 /);
  assertMatch(shown, /tun type tap pi off vnet_hdr off persist on/);
  p.close();
  await p.closed;
  assert(await link("wp0"), "a persistent tap stays after close");
  // Attach to it again: its MTU is kept when none is asked for.
  const again = openTap("wp0", { netns: ns.name });
  assertEquals(again.linkMtu, 9000);
  again.close();
  await ns.ip("link", "del", "wp0");

  // A tap made by iproute2 (down, MTU 1500): weft attaches, sets the MTU and brings it up.
  await ns.ip("tuntap", "add", "wq0", "mode", "tap");
  lab.defer(() => void ns.ip("link", "del", "wq0").catch(() => {}));
  assertMatch((await link("wq0"))!, /state DOWN/);
  const q = openTap("wq0", { netns: ns.name, mtu: 4000 });
  assertMatch((await link("wq0"))!, /<[^>]*\bUP\b[^>]*> mtu 4000 /);
  q.close();
  await poller().idle();
});

peerTest("tap: in use, not a tap, no such namespace: clear ConfigErrors", KERNEL, async (lab) => {
  const ns = await lab.netns("tape");
  const home = Deno.readLinkSync("/proc/thread-self/ns/net");
  const first = openTap("wt0", { netns: ns.name });
  lab.defer(() => first.close());
  const errorOf = (name: string, netns: string) => {
    try {
      openTap(name, { netns }).close();
    } catch (e) {
      assert(e instanceof ConfigError, `ConfigError, got ${e}`);
      return e.message;
    }
    throw new Error(`opening ${name} in ${netns} succeeded`);
  };
  assertEquals(
    errorOf("wt0", ns.name),
    `Cannot open endpoint "tap://wt0": TAP wt0 is in use by another process`,
  );
  assertEquals(
    errorOf("lo", ns.name),
    `Cannot open endpoint "tap://lo": lo exists and is not a TAP device (or is a TAP with other flags)`,
  );
  assertEquals(
    errorOf("wt1", "wft-no-such-netns"),
    `Cannot open endpoint "tap://wt1": cannot open network namespace /run/netns/wft-no-such-netns: ENOENT`,
  );
  // The failed attempts left nothing behind, and this process is still in its own namespace.
  assertEquals((await ns.ip("-o", "link")).split("\n").filter((l) => l.trim()).length, 2);
  assertEquals(Deno.readLinkSync("/proc/thread-self/ns/net"), home);
});

// ---------------------------------------------------------------------------------------------
// The CLI: weft run inside a namespace, the kernel and vdeplug4/vde2 as peers.

/**
 * Start `weft ARGS…` inside `ns` and wait (bounded) until `ready()`; a weft that exits first
 * fails at once with its output.
 */
async function weftIn(
  ns: Netns,
  args: string[],
  what: string,
  ready: () => Promise<boolean>,
): Promise<Background> {
  const p = ns.spawn(weftCommand(args), { name: `weft ${args[0]}` });
  const state = await waitUntil(what, async () => {
    if (p.exitStatus) return "exited";
    return (await ready()) && "ready";
  }, { timeoutMs: 30_000, intervalMs: 100 });
  if (state === "exited") throw new Error(`weft ${args[0]} exited before ${what}\n${p}`);
  return p;
}

async function hasLink(ns: Netns, dev: string): Promise<boolean> {
  return (await ns.exec(["ip", "link", "show", dev], { timeoutMs: 5_000 })).success;
}

/** `weft switch --sock DIR --connect URL…` inside `ns`; ready when ctl and `tap` exist. */
async function switchIn(lab: Lab, ns: Netns, connect: string[], tap: string) {
  const dir = lab.path("sw");
  const p = await weftIn(
    ns,
    ["switch", "--sock", dir, ...connect.flatMap((u) => ["--connect", u])],
    `weft switch in ${ns.name} with ${tap}`,
    async () => (await exists(`${dir}/ctl`)) && (await hasLink(ns, tap)),
  );
  return { dir, process: p };
}

async function addresses(ns: Netns, dev: string, v4: string, v6: string): Promise<void> {
  await ns.linkUp(dev);
  await ns.addAddress(dev, v4);
  await ns.addAddress(dev, v6);
}

/** Every one of `count` echoes answered (after a first one, which resolves ARP/NDP). */
async function assertPings(from: Netns, to: string, count = 5): Promise<void> {
  await from.waitReachable(to, 10_000);
  const r = await from.ping(to, { count, interval: 0.05, wait: 1 });
  assertEquals([r.sent, r.received], [count, count], `echoes sent/answered:\n${r.output}`);
}

async function assertPingBothWays(a: Netns, b: Netns): Promise<void> {
  await assertPings(a, "10.0.0.2");
  await assertPings(b, "10.0.0.1");
  await assertPings(a, "fd00::2");
  await assertPings(b, "fd00::1");
}

/** Serve a random `mib` MiB file from `server` at `bind`, fetch it from `client`, compare sha256. */
async function assertHttp(lab: Lab, server: Netns, bind: string, client: Netns, mib: number) {
  const www = await lab.mkdir(`www-${server.name}`);
  const served = await serveRandomFile(server, { bind, mib, dir: www });
  const got = await download(client, served.url, lab.path(`dl-${client.name}.bin`));
  assertEquals(got.bytes, served.bytes, "downloaded size");
  assertEquals(got.sha256, served.sha256, "sha256 of the downloaded file");
  await served.server.stop();
  console.log(
    `  HTTP ${mib} MiB ${server.name} → ${client.name}: ${got.mibPerSec.toFixed(1)} MiB/s`,
  );
}

peerTest(
  "tap: weft switch --connect tap://wt0 in a namespace + vde_plug host: ping both ways (IPv4, IPv6), 20 MiB HTTP each way, sha256 equal",
  { tun: true, tools: ["ip", "ping", "vde_plug", "curl", "python3", "sha256sum"] },
  async (lab) => {
    const a = await lab.netns("a");
    const sw = await switchIn(lab, a, ["tap://wt0"], "wt0");
    await addresses(a, "wt0", "10.0.0.1/24", "fd00::1/64");
    const b = await lab.host("b", sw.dir, { ipv4: "10.0.0.2/24", ipv6: "fd00::2/64" });
    await assertPingBothWays(a, b.ns);
    await assertHttp(lab, a, "10.0.0.1", b.ns, 20); // the tap reads the bulk
    await assertHttp(lab, b.ns, "10.0.0.2", a, 20); // the tap writes the bulk
    assertEquals(sw.process.exitStatus, undefined, "weft switch still running");
    // Stopping weft closes the descriptor: the tap goes with it.
    await sw.process.stop();
    assertEquals(await hasLink(a, "wt0"), false, "wt0 gone after weft stopped");
  },
);

peerTest(
  "tap: weft cable tap://wt0 vde://DIR joins a namespace to a real vde_switch: ping both ways (IPv4, IPv6)",
  { tun: true, tools: ["ip", "ping", "vde_plug", "vde_switch", "socat"] },
  async (lab) => {
    const vde = await lab.vdeSwitch();
    const a = await lab.netns("a");
    const cable = await weftIn(
      a,
      ["cable", "tap://wt0", vde.url],
      "weft cable with wt0",
      async () => (await hasLink(a, "wt0")) && /ACTIVE/.test(await vde.console("port/print")),
    );
    await addresses(a, "wt0", "10.0.0.1/24", "fd00::1/64");
    const b = await lab.host("b", vde.dir, { ipv4: "10.0.0.2/24", ipv6: "fd00::2/64" });
    await assertPingBothWays(a, b.ns);
    assertEquals(cable.exitStatus, undefined, "weft cable still running");
  },
);

/** `ping -M do -s SIZE` (no fragmentation anywhere): all `count` echoes must come back. */
async function assertBigPings(from: Netns, to: string, size: number, count = 3) {
  await from.waitReachable(to, 10_000);
  const argv = ["ping", "-n", "-q", "-c", String(count), "-i", "0.1", "-W", "2", "-M", "do"];
  const r = await from.exec([...argv, "-s", String(size), to], { timeoutMs: 15_000 });
  assertMatch(r.stdout, new RegExp(`${count} packets transmitted, ${count} received`), r.stdout);
}

peerTest(
  "tap: MTU 9000 taps carry 8,000-byte pings unfragmented (IPv4, IPv6) through a weft switch",
  { tun: true, tools: ["ip", "ping"] },
  async (lab) => {
    const a = await lab.netns("a");
    const b = await lab.netns("b");
    const sw = await switchIn(lab, a, ["tap://wt0?mtu=9000"], "wt0");
    await weftIn(
      b,
      ["cable", "tap://wt0?mtu=9000", `vde://${sw.dir}?mtu=9000`],
      "weft cable with wt0 in b",
      () => hasLink(b, "wt0"),
    );
    for (const ns of [a, b]) assertMatch(await ns.ip("-o", "link", "show", "wt0"), / mtu 9000 /);
    await addresses(a, "wt0", "10.0.0.1/24", "fd00::1/64");
    await addresses(b, "wt0", "10.0.0.2/24", "fd00::2/64");
    await assertBigPings(a, "10.0.0.2", 8000);
    await assertBigPings(b, "10.0.0.1", 8000);
    await assertBigPings(a, "fd00::2", 8000);
    await assertBigPings(b, "fd00::1", 8000);
    // 8,972 bytes of ICMP payload is exactly a 9,000-byte IPv4 packet: the edge passes too.
    await assertBigPings(a, "10.0.0.2", 8972);
  },
);

peerTest(
  "tap: one weft switch outside, taps in two namespaces by netns=: ping both ways (IPv4, IPv6)",
  { tun: true, tools: ["ip", "ping"] },
  async (lab) => {
    const a = await lab.netns("a");
    const b = await lab.netns("b");
    const dir = lab.path("sw");
    const args = ["switch", "--sock", dir];
    for (const ns of [a, b]) args.push("--connect", `tap://wt0?netns=${ns.name}`);
    const sw = lab.spawnWeft(args, { name: "weft switch" });
    await waitUntil("weft switch with wt0 in both namespaces", async () => {
      if (sw.exitStatus) return "exited";
      return (await hasLink(a, "wt0")) && (await hasLink(b, "wt0")) && "ready";
    }, { timeoutMs: 30_000, intervalMs: 100 }).then((s) => {
      if (s === "exited") throw new Error(`weft switch exited\n${sw}`);
    });
    await addresses(a, "wt0", "10.0.0.1/24", "fd00::1/64");
    await addresses(b, "wt0", "10.0.0.2/24", "fd00::2/64");
    await assertPingBothWays(a, b);
    // weft itself never left its own namespace: no wt0 here.
    const own = await run(["ip", "-o", "link", "show", "wt0"], { timeoutMs: 5_000 });
    assert(!own.success || !own.stdout.includes("tap"), "no wt0 in weft's own namespace");
  },
);

/** Run `weft plug tap://wt0` in `ns` under `wrapper` and return its one stderr line. */
async function plugError(ns: Netns, wrapper: string[]): Promise<string> {
  const r = await ns.exec([...wrapper, ...weftCommand(["plug", "tap://wt0"])], {
    timeoutMs: 30_000,
  });
  assertEquals(r.code, 2, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assertEquals(lines.length, 1, `one line on stderr:\n${r.stderr}`);
  return lines[0];
}

peerTest(
  "tap: without CAP_NET_ADMIN or /dev/net/tun, weft exits 2 with one line saying why",
  { tun: true, tools: ["ip", "setpriv", "unshare", "mount"] },
  async (lab) => {
    const ns = await lab.netns("perm");
    assertMatch(
      await plugError(ns, ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"]),
      /^weft: Cannot open endpoint "tap:\/\/wt0": creating or attaching to TAP wt0 needs CAP_NET_ADMIN \(run as root, or create it for your user first: ip tuntap add wt0 mode tap user USER\)$/,
    );
    // A private mount namespace where /dev/net is an empty tmpfs: no clone device.
    assertMatch(
      await plugError(ns, [
        "unshare",
        "-m",
        "sh",
        "-c",
        'mount -t tmpfs none /dev/net && exec "$@"',
        "sh",
      ]),
      /^weft: Cannot open endpoint "tap:\/\/wt0": \/dev\/net\/tun does not exist \(no TUN\/TAP support here/,
    );
    assertEquals(await hasLink(ns, "wt0"), false);
  },
);
