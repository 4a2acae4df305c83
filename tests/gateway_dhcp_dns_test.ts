/**
 * The gateway's DHCP server and DNS forwarder against real clients: a weft Stack (10.77.0.1/24)
 * in this process, on a weft switch through `vde://`, serves a namespace whose kernel has a TAP
 * (`wt0`) on the same switch. busybox `udhcpc` (and ISC `dhclient` when installed) get their
 * configuration from the DhcpServer; `busybox nslookup` asks the DnsForwarder for a leased host's
 * NAME.weft and for a name only a local upstream resolver knows (dnsmasq on 127.0.0.1, or a tiny
 * Deno responder when dnsmasq is not installed).
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { openEndpoint } from "../cable/mod.ts";
import { systemClock } from "../core/clock.ts";
import { CryptoRng } from "../core/rng.ts";
import { format_addr, parse_addr, parse_cidr } from "../stack/addr.ts";
import { Stack } from "../stack/stack.ts";
import type { UdpSocketCore } from "../stack/socket_core.ts";
import { DhcpServer } from "../router/gateway/dhcp_server.ts";
import { DnsForwarder, hostNames } from "../router/gateway/dns_forwarder.ts";
import { LeaseStore } from "../router/gateway/lease_store.ts";
import { peerTest } from "./_harness/lab.ts";
import type { Lab } from "./_harness/lab.ts";
import type { Netns } from "./_harness/netns.ts";
import { describeFailure, waitUntil } from "./_harness/process.ts";
import { findTool } from "./_harness/requirements.ts";
import { udhcpc, UDHCPC_SCRIPT } from "./_harness/udhcpc.ts";

const A = (s: string) => parse_addr(s)!;
const RESERVED_MAC = "02:77:00:00:00:01";
const GUEST_MAC = "02:77:00:00:00:02";
const DHCLIENT_MAC = "02:77:00:00:00:03";

/** dhclient's script: print the new_* variables on BOUND. */
const DHCLIENT_SCRIPT = `#!/bin/sh
if [ "$reason" = BOUND ]; then
  echo "WEFT ip=$new_ip_address mask=$new_subnet_mask router=$new_routers dns=$new_domain_name_servers domain=$new_domain_name mtu=$new_interface_mtu" > "__OUT__"
fi
exit 0
`;

interface Gw {
  stack: Stack;
  store: string;
  dhcp: DhcpServer;
  sock: UdpSocketCore;
  dns: DnsForwarder;
  /** "kill -9": drop the server without any final write, start a new one from the file. */
  crashAndRestart(): Promise<void>;
}

async function gateway(lab: Lab, url: string, upstreamPort: number): Promise<Gw> {
  const stack = new Stack({ endpoint: await openEndpoint(url), ipv4: parse_cidr("10.77.0.1/24") });
  lab.defer(() => stack.close());
  const store = lab.path("leases.json");
  const make = async () =>
    new DhcpServer({
      serverAddr: A("10.77.0.1"),
      subnet: parse_cidr("10.77.0.0/24")!,
      start: A("10.77.0.100"),
      end: A("10.77.0.199"),
      router: A("10.77.0.1"),
      dns: [A("10.77.0.1")],
      domain: "weft",
      mtu: 1400,
      leaseSeconds: 600,
      reservations: [{ mac: 0x027700000001, addr: A("10.77.0.50"), name: "resv" }],
      store: await LeaseStore.open(store),
      clock: systemClock,
      rng: new CryptoRng(),
    });
  const gw: Gw = {
    stack,
    store,
    dhcp: await make(),
    sock: stack.udp.bind(67, { anyDst: true }),
    dns: new DnsForwarder({
      upstream: [{ hostname: "127.0.0.1", port: upstreamPort }],
      names: hostNames((label) => gw.dhcp.addrOf(label)),
      clock: systemClock,
      timeoutMs: 1000,
    }),
    async crashAndRestart() {
      gw.sock.close();
      gw.dhcp = await make();
      gw.sock = stack.udp.bind(67, { anyDst: true });
      gw.dhcp.attach(gw.sock);
    },
  };
  gw.dhcp.attach(gw.sock);
  gw.dns.attach(stack.udp.bind(53));
  lab.defer(() => gw.dns.close());
  return gw;
}

/** A local upstream resolver on 127.0.0.1 that knows up.example → 192.0.2.77. */
async function upstream(lab: Lab): Promise<{ port: number; kind: string }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  if (findTool("dnsmasq") !== undefined) {
    const p = lab.spawn([
      "dnsmasq",
      "-k",
      "-C",
      "/dev/null",
      "--user=root",
      "--pid-file=",
      `--port=${port}`,
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--no-resolv",
      "--no-hosts",
      "--address=/up.example/192.0.2.77",
      "--log-queries",
      "--log-facility=-",
    ], { name: "dnsmasq" });
    await p.waitForOutput(/started, version/, 10_000);
    return { port, kind: "dnsmasq" };
  }
  // A tiny responder: answers every A query with 192.0.2.77.
  const conn = Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" });
  lab.defer(() => conn.close());
  (async () => {
    for (;;) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await conn.receive();
      } catch {
        return;
      }
      const [q, from] = got;
      const end = 12 + q.subarray(12).indexOf(0) + 5;
      const r = new Uint8Array(end + 16);
      r.set(q.subarray(0, end));
      r.set([0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0], 2);
      r.set([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 77], end);
      await conn.send(r, from).catch(() => {});
    }
  })();
  return { port, kind: "deno responder" };
}

async function setMac(ns: Netns, mac: string): Promise<void> {
  await ns.ip("addr", "flush", "dev", "wt0");
  await ns.ip("link", "set", "wt0", "down");
  await ns.ip("link", "set", "wt0", "address", mac);
  await ns.linkUp("wt0");
}

peerTest(
  "gateway dhcp+dns: udhcpc gets address/router/DNS/MTU, reservation, same address after a crash, nslookup NAME.weft and an upstream name",
  { tun: true, tools: ["busybox", "ip"] },
  async (lab) => {
    const ns = await lab.netns("gw");
    const etc = `/etc/netns/${ns.name}`;
    await Deno.mkdir(etc, { recursive: true });
    lab.defer(() => Deno.remove(etc, { recursive: true }).catch(() => {}));
    await Deno.writeTextFile(`${etc}/resolv.conf`, "");
    const sw = await lab.weftSwitch(["--connect", `tap://wt0?netns=${ns.name}`]);
    await waitUntil(`wt0 in ${ns.name}`, async () => {
      return (await ns.exec(["ip", "link", "show", "wt0"])).success;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    const up = await upstream(lab);
    const gw = await gateway(lab, sw.url, up.port);
    const script = lab.path("udhcpc.sh");
    await Deno.writeTextFile(script, UDHCPC_SCRIPT, { mode: 0o755 });

    // 1. The reservation, twice.
    await setMac(ns, RESERVED_MAC);
    const t0 = performance.now();
    const r1 = await udhcpc(ns, script);
    const ms = performance.now() - t0;
    assertEquals(r1.ip, "10.77.0.50");
    assertEquals(
      [r1.subnet, r1.router, r1.dns, r1.domain, r1.mtu, r1.lease, r1.serverid],
      ["255.255.255.0", "10.77.0.1", "10.77.0.1", "weft", "1400", "600", "10.77.0.1"],
    );
    assertMatch(await ns.ip("-4", "-o", "addr", "show", "dev", "wt0"), /10\.77\.0\.50\/24/);
    assertEquals((await udhcpc(ns, script)).ip, "10.77.0.50");
    console.log(`  udhcpc lease in ${ms.toFixed(0)} ms`);

    // 2. A pool address with a host name; after a crash the restarted server gives it again.
    await setMac(ns, GUEST_MAC);
    const r2 = await udhcpc(ns, script, ["-x", "hostname:guest2"]);
    assertMatch(r2.ip, /^10\.77\.0\.1\d\d$/);
    await gw.crashAndRestart();
    assertEquals(
      gw.dhcp.leases().map((l) => format_addr(l.addr)).sort(),
      ["10.77.0.50", r2.ip].sort(),
    );
    await ns.ip("addr", "flush", "dev", "wt0");
    const r3 = await udhcpc(ns, script, ["-x", "hostname:guest2"]);
    assertEquals(r3.ip, r2.ip, "same address after the restart");

    // 3. DNS from the namespace: the leased name, NXDOMAIN in weft., and the upstream's name.
    const look = (name: string) =>
      ns.exec(["busybox", "nslookup", name, "10.77.0.1"], { timeoutMs: 10_000 });
    const a = await look("guest2.weft");
    assertMatch(
      a.stdout,
      new RegExp(`Address:\\s*${r2.ip.replace(/\./g, "\\.")}`),
      describeFailure(a),
    );
    const resv = await look("resv.weft");
    assertMatch(resv.stdout, /Address:\s*10\.77\.0\.50/, describeFailure(resv));
    const nx = await look("nobody.weft");
    assertMatch(nx.stdout + nx.stderr, /NXDOMAIN/, describeFailure(nx));
    const u = await look("up.example");
    assertMatch(u.stdout, /Address:\s*192\.0\.2\.77/, describeFailure(u));
    assert(gw.dns.stats.answered >= 1, JSON.stringify(gw.dns.stats));
    console.log(`  upstream: ${up.kind}; dns stats ${JSON.stringify(gw.dns.stats)}`);
    assertEquals(gw.dns.drops.internal_error, undefined);
    assertEquals(gw.dhcp.drops.internal_error, undefined);
  },
  { timeoutMs: 120_000 },
);

peerTest(
  "gateway dhcp: ISC dhclient gets address, router, DNS, domain, MTU",
  { tun: true, tools: ["dhclient", "ip"] },
  async (lab) => {
    const ns = await lab.netns("gwd");
    const sw = await lab.weftSwitch(["--connect", `tap://wt0?netns=${ns.name}`]);
    await waitUntil(`wt0 in ${ns.name}`, async () => {
      return (await ns.exec(["ip", "link", "show", "wt0"])).success;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    const gw = await gateway(lab, sw.url, 9); // DNS is not used here
    await setMac(ns, DHCLIENT_MAC);
    const script = lab.path("dhclient.sh");
    const out = lab.path("dhclient.out"), pidFile = lab.path("dhclient.pid");
    // dhclient runs its script with a clean environment: the output path is written into it.
    await Deno.writeTextFile(script, DHCLIENT_SCRIPT.replace("__OUT__", out), { mode: 0o755 });
    // -1: try once; -d: stay in the foreground (killed by pid once bound, below).
    ns.spawn([
      "dhclient",
      "-1",
      "-d",
      "-v",
      "-sf",
      script,
      "-lf",
      lab.path("dhclient.leases"),
      "-pf",
      pidFile,
      "wt0",
    ], { name: "dhclient" });
    const text = await waitUntil("dhclient's BOUND", async () => {
      try {
        return await Deno.readTextFile(out);
      } catch {
        return undefined;
      }
    }, { timeoutMs: 30_000, intervalMs: 100 });
    assertMatch(
      text,
      /ip=10\.77\.0\.1\d\d mask=255\.255\.255\.0 router=10\.77\.0\.1 dns=10\.77\.0\.1 domain=weft mtu=1400/,
    );
    assertEquals(gw.dhcp.leases().length, 1);
  },
  { timeoutMs: 90_000 },
);
