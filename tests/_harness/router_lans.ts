/**
 * Two LANs joined by `weft router`: each LAN is a weft switch holding a TAP (`wt0`) inside a fresh
 * namespace (the kernel is the host there, like stack_lan.ts's kernelLan), on its own subnets —
 * LAN n has 10.8n.0.0/24 and fd8n::/64, the router .1 / ::1, the kernel .2 / ::2 with default
 * routes via the router. Built for tests/router_peers_test.ts and bench/router.ts.
 */

import type { Lab } from "./lab.ts";
import type { Netns } from "./netns.ts";
import type { Background } from "./process.ts";
import { waitUntil } from "./process.ts";
import type { WeftSwitch } from "./weft.ts";

export interface SubnetLan {
  ns: Netns;
  sw: WeftSwitch;
  /** Router and kernel addresses, without prefix. */
  router4: string;
  router6: string;
  kernel4: string;
  kernel6: string;
  /** `NAME=vde://DIR,10.8n.0.1/24,fd8n::1/64` for `weft router --iface`. */
  ifaceArg: string;
}

/**
 * LAN number `n` (1..9). `acceptRa`: the kernel takes router advertisements (accept_ra=2, set
 * before the link comes up, so its Router Solicitation goes out too) and forms SLAAC addresses.
 */
export async function subnetLan(
  lab: Lab,
  n: number,
  opts: { acceptRa?: boolean } = {},
): Promise<SubnetLan> {
  const ns = await lab.netns(`r${n}`);
  const sw = await lab.weftSwitch(["--connect", `tap://wt0?netns=${ns.name}`]);
  await waitUntil(`wt0 in ${ns.name}`, async () => {
    return (await ns.exec(["ip", "link", "show", "wt0"])).success;
  }, { timeoutMs: 30_000, intervalMs: 50 });
  if (opts.acceptRa) {
    await ns.execOk(["sysctl", "-q", "-w", "net.ipv6.conf.wt0.accept_ra=2"]);
    await ns.execOk(["sysctl", "-q", "-w", "net.ipv6.conf.wt0.autoconf=1"]);
  }
  await ns.linkUp("wt0");
  const k4 = `10.8${n}.0.2`, k6 = `fd8${n}::2`, r4 = `10.8${n}.0.1`, r6 = `fd8${n}::1`;
  await ns.addAddress("wt0", `${k4}/24`);
  await ns.addAddress("wt0", `${k6}/64`);
  await ns.ip("route", "add", "default", "via", r4);
  await ns.ip("-6", "route", "add", "default", "via", r6);
  return {
    ns,
    sw,
    router4: r4,
    router6: r6,
    kernel4: k4,
    kernel6: k6,
    ifaceArg: `lan${n}=${sw.url},${r4}/24,${r6}/64`,
  };
}

/** Start `weft router --iface … ARGS…` over the LANs and wait until it is ready. */
export async function startRouter(
  lab: Lab,
  lans: SubnetLan[],
  args: string[] = [],
): Promise<Background> {
  const p = lab.spawnWeft([
    "router",
    ...lans.flatMap((l) => ["--iface", l.ifaceArg]),
    ...args,
  ], { name: "weft router" });
  await p.waitForOutput(/^weft router: ready$/m, 45_000);
  return p;
}
