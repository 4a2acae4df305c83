/**
 * Two "hosts" (network namespaces joined by a veth, 10.201.0.1 and .2) with one "guest" namespace
 * each (10.77.1.1 and .2, fd77::1 and ::2), wired two ways for tests and benchmarks:
 * - `twoHosts`: a weft switch per host, joined by a TLS cable; guests on weft's own `tap://`.
 * - `twoVdeHosts`: the peer setup — a vde_switch per host, guests plugged by `vde_plug tap://`,
 *   the switches joined by `vde_plug` at both ends of a socat TCP pipe.
 */

import { assertEquals } from "@std/assert";
import type { Lab } from "./lab.ts";
import type { Netns } from "./netns.ts";
import { runWeft, type WeftSwitch } from "./weft.ts";
import { waitUntil } from "./process.ts";
import { writeExecScript } from "./process.ts";

/** The two hosts joined by a veth, A at 10.201.0.1, B at 10.201.0.2. */
async function hostPair(lab: Lab): Promise<{ hostA: Netns; hostB: Netns }> {
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
  return { hostA, hostB };
}

export interface Guest {
  ns: Netns;
  ipv4: string;
  ipv6: string;
}

export interface TwoHosts {
  hostA: Netns;
  hostB: Netns;
  swA: WeftSwitch;
  swB: WeftSwitch;
  guestA: Guest;
  guestB: Guest;
}

/** weft: host A's switch listens on TLS, host B's dials it; each holds its guest's TAP. */
export async function twoHosts(lab: Lab): Promise<TwoHosts> {
  const { hostA, hostB } = await hostPair(lab);

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

/**
 * The peer setup: vde_switch on each host, guests plugged by vdeplug4's `vde_plug tap://` run in
 * the guest namespace, and the switches joined by `vde_plug` on both ends of a socat TCP pipe
 * between the hosts (the classic `dpipe`/socat VDE cable).
 */
export async function twoVdeHosts(lab: Lab): Promise<{ guestA: Guest; guestB: Guest }> {
  const { hostA, hostB } = await hostPair(lab);
  const swA = await lab.vdeSwitch();
  const swB = await lab.vdeSwitch();
  const plugA = await writeExecScript(lab.path("plugA.sh"), ["vde_plug", swA.dir]);
  const plugB = await writeExecScript(lab.path("plugB.sh"), ["vde_plug", swB.dir]);
  const server = hostA.spawn(
    ["socat", "TCP-LISTEN:7500,bind=10.201.0.1,reuseaddr", `EXEC:${plugA}`],
    { name: "socat listen" },
  );
  await waitUntil("socat to listen", async () => {
    if (server.exitStatus) throw new Error(`socat exited:\n${server}`);
    return (await hostA.exec(["ss", "-ltn", "sport = :7500"])).stdout.includes("7500");
  }, { timeoutMs: 10_000 });
  hostB.spawn(["socat", "TCP:10.201.0.1:7500", `EXEC:${plugB}`], { name: "socat connect" });
  const a = await lab.host("ga", swA.dir, { ipv4: "10.77.1.1/24", ipv6: "fd77::1/64" });
  const b = await lab.host("gb", swB.dir, { ipv4: "10.77.1.2/24", ipv6: "fd77::2/64" });
  return {
    guestA: { ns: a.ns, ipv4: a.ipv4!, ipv6: a.ipv6! },
    guestB: { ns: b.ns, ipv4: b.ipv4!, ipv6: b.ipv6! },
  };
}
