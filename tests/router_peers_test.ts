/**
 * `weft router` against the Linux kernel: two LANs (a weft switch + a TAP in its own namespace
 * each, tests/_harness/router_lans.ts), joined by the router. The kernels ping each other across
 * it (v4 and v6), curl moves 20 MiB byte-exact, `ping -t 1` gets Time Exceeded from the router's
 * address, an unrouted network gets Destination Net Unreachable / no route, and the router's RAs
 * give the kernel on LAN 2 a SLAAC address and a default route via the router's link-local address.
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { peerTest } from "./_harness/lab.ts";
import { waitUntil } from "./_harness/process.ts";
import { download, serveRandomFile } from "./_harness/http.ts";
import { startRouter, subnetLan } from "./_harness/router_lans.ts";

const TOOLS = ["ip", "ping", "curl", "python3", "sysctl", "sha256sum"];

peerTest(
  "router: kernels on two LANs ping, curl 20 MiB, get ICMP errors and SLAAC through weft router",
  { tools: TOOLS },
  async (lab) => {
    const lan1 = await subnetLan(lab, 1);
    const lan2 = await subnetLan(lab, 2, { acceptRa: true });
    const router = await startRouter(lab, [lan1, lan2], ["--ra", "lan2", "--ra-interval", "4"]);

    // Reachability both ways, v4 and v6 (ARP/NDP on both sides resolve on the way).
    await lan1.ns.waitReachable(lan2.kernel4, 15_000);
    await lan1.ns.waitReachable(lan2.kernel6, 15_000);
    await lan2.ns.waitReachable(lan1.kernel4, 15_000);
    const p4 = await lan1.ns.ping(lan2.kernel4, { count: 5, interval: 0.05 });
    assertEquals(p4.received, 5, p4.output);
    const p6 = await lan1.ns.ping(lan2.kernel6, { count: 5, interval: 0.05 });
    assertEquals(p6.received, 5, p6.output);
    // The router's address on the far side answers too.
    const pr = await lan1.ns.ping(lan2.router4, { count: 2, interval: 0.1 });
    assertEquals(pr.received, 2, pr.output);

    // TTL 1: the router answers with Time Exceeded from its address on the sender's LAN.
    const t4 = await lan1.ns.exec(["ping", "-n", "-c", "1", "-W", "2", "-t", "1", lan2.kernel4]);
    assertMatch(t4.stdout, new RegExp(`From ${lan1.router4}.*Time to live exceeded`), t4.stdout);
    const t6 = await lan1.ns.exec([
      "ping",
      "-6",
      "-n",
      "-c",
      "1",
      "-W",
      "2",
      "-t",
      "1",
      lan2.kernel6,
    ]);
    assertMatch(t6.stdout, new RegExp(`From ${lan1.router6}.*Time exceeded`, "i"), t6.stdout);

    // No route: Destination Net Unreachable (RFC 1812 §5.2.7.1) / no route (RFC 4443 §3.1).
    const u4 = await lan1.ns.exec(["ping", "-n", "-c", "1", "-W", "2", "10.99.0.1"]);
    assertMatch(
      u4.stdout,
      new RegExp(`From ${lan1.router4}.*Destination Net Unreachable`),
      u4.stdout,
    );
    const u6 = await lan1.ns.exec(["ping", "-6", "-n", "-c", "1", "-W", "2", "fd99::1"]);
    assertMatch(u6.stdout, new RegExp(`From ${lan1.router6}.*no route`, "i"), u6.stdout);

    // 20 MiB across the router, byte-exact.
    const www = await lab.mkdir("www");
    const served = await serveRandomFile(lan2.ns, { bind: lan2.kernel4, mib: 20, dir: www });
    const d = await download(lan1.ns, served.url, lab.path("got.bin"), 60);
    assertEquals(d.sha256, served.sha256, "20 MiB through weft router");
    console.log(`curl 20 MiB through weft router: ${d.mibPerSec.toFixed(1)} MiB/s`);

    // RA on lan2: the kernel forms a SLAAC address in fd82::/64 and a default route via the
    // router's link-local address (proto ra).
    let addrs = "";
    await waitUntil("a SLAAC address on lan2's kernel", async () => {
      addrs = await lan2.ns.ip("-6", "addr", "show", "dev", "wt0");
      return /inet6 fd82::[0-9a-f:]+\/64 scope global dynamic/.test(addrs);
    }, { timeoutMs: 20_000, intervalMs: 200 });
    const routes = await lan2.ns.ip("-6", "route", "show");
    assertMatch(routes, /default via fe80::[0-9a-f:]+ dev wt0 proto ra/, routes);
    const slaac = /inet6 (fd82::[0-9a-f:]+)\/64 scope global dynamic/.exec(addrs)![1];
    const ps = await lan1.ns.ping(slaac, { count: 3, interval: 0.1 });
    assertEquals(ps.received, 3, ps.output);

    // Counters on SIGUSR2.
    router.signal("SIGUSR2");
    await router.waitForOutput(/counters .*"forwarded4":[1-9]/, 5_000);
    assert(true);
  },
  { timeoutMs: 150_000 },
);
