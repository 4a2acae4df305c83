/**
 * Real-peer acceptance of `qemu://` (QEMU stream framing, docs/PROTOCOLS.md §3) with passt, which
 * serves exactly what QEMU's `-netdev stream` client expects on a unix socket: a 4-byte
 * big-endian length before each frame. A weft switch connects to passt's socket as QEMU would, a
 * namespace's kernel on that switch (TAP through vde_plug) gets its address from passt's DHCP
 * server with busybox udhcpc, and downloads a file with curl from an HTTP server on the host's
 * loopback — through passt's L2-to-socket translation, so every frame of the transfer crossed
 * the 4-byte framing both ways.
 *
 * passt runs inside a namespace of its own (a "host" with one veth and a default route), not in
 * the machine's root namespace: passt takes its addresses and routes from the host's
 * default-route interface, which differs between machines (CI may have none), and its outbound
 * sockets stay inside the test's namespace. "The host's loopback" is that namespace's 127.0.0.1.
 */

import { assertEquals, assertMatch } from "@std/assert";
import { peerTest } from "./_harness/lab.ts";
import { download, serveRandomFile } from "./_harness/http.ts";
import { describeFailure, exists, waitUntil } from "./_harness/process.ts";

/** passt drops to this uid/gid when started as root (`nobody` on Debian); we say so explicitly. */
const NOBODY = 65534;

/** The "host" passt runs in: its addresses become the guest's through DHCP. */
const HOST_ADDR = "198.51.100.2/24";
const GATEWAY = "198.51.100.1";

peerTest(
  "passt: a weft switch on passt's socket (qemu://): udhcpc gets a lease, curl fetches 4 MiB from the host's loopback",
  { tun: true, tools: ["passt", "busybox", "udhcpc", "vde_plug", "curl", "python3", "ip"] },
  async (lab) => {
    // The host: a veth with an address and a default route, both ends inside the namespace, so
    // passt finds a template interface (the gateway is never reached: passt answers for it).
    const host = await lab.netns("host");
    await host.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1");
    await host.ip("addr", "add", HOST_ADDR, "dev", "v0");
    await host.ip("link", "set", "v1", "up");
    await host.ip("link", "set", "v0", "up");
    await host.ip("route", "add", "default", "via", GATEWAY);

    // passt started as root drops to nobody before it binds its socket (and, in the 2023
    // Debian version, does not report a failed bind): the socket's directory must be nobody's.
    const sockDir = await Deno.makeTempDir({ prefix: "wft-passt-" });
    lab.defer(() => Deno.remove(sockDir, { recursive: true }).catch(() => {}));
    await Deno.chown(sockDir, NOBODY, NOBODY);
    const sock = `${sockDir}/passt.sock`;
    const passt = host.spawn([
      "passt",
      "--foreground",
      "--stderr",
      "--runas",
      `${NOBODY}:${NOBODY}`,
      "--socket",
      sock,
      "--ipv4-only",
      "--dns",
      "none",
      // DHCP option 26: the VDE path to the guest's TAP carries 1,514-byte frames; passt would
      // otherwise leave the TAP at 65,520 and send TCP segments the vde_plug port must drop.
      "--mtu",
      "1500",
    ], { name: "passt" });
    await passt.waitForOutput(/UNIX domain socket bound at/, 10_000);
    await waitUntil(`passt's socket ${sock}`, () => exists(sock), { timeoutMs: 5_000 });

    // The HTTP server on the host's loopback; passt maps the gateway address to it.
    const served = await serveRandomFile(host, {
      bind: "127.0.0.1",
      port: 8080,
      mib: 4,
      dir: await lab.mkdir("www"),
    });

    const sw = await lab.weftSwitch(["--connect", `qemu://${sock}`]);
    await sw.process.waitForOutput(/port up port=\d+ endpoint=qemu:\/\//, 10_000);

    // The guest: a kernel behind a TAP on the switch. udhcpc's script rewrites resolv.conf;
    // `ip netns exec` bind-mounts /etc/netns/NS/resolv.conf over it, so the host's is untouched.
    const guest = await lab.netns("guest");
    const etc = `/etc/netns/${guest.name}`;
    await Deno.mkdir(etc, { recursive: true });
    lab.defer(() => Deno.remove(etc, { recursive: true }).catch(() => {}));
    await Deno.writeTextFile(`${etc}/resolv.conf`, "");
    await guest.plugTap(sw.dir, { tap: "tap0" });
    const dhcp = await guest.exec([
      "busybox",
      "udhcpc",
      "-i",
      "tap0",
      "-f", // foreground
      "-q", // quit once bound
      "-n", // exit if no lease
      "-t",
      "5",
      "-T",
      "2",
      "-s",
      "/etc/udhcpc/default.script", // Debian's udhcpc package
    ], { timeoutMs: 30_000 });
    // busybox reports on stderr.
    assertMatch(dhcp.stderr, /lease of 198\.51\.100\.2 obtained/, describeFailure(dhcp));
    assertMatch(await guest.ip("-4", "-o", "addr", "show", "dev", "tap0"), /198\.51\.100\.2\/24/);
    assertMatch(await guest.ip("-4", "route"), /default via 198\.51\.100\.1 dev tap0/);
    assertMatch(await guest.ip("-o", "link", "show", "tap0"), /mtu 1500 /);

    const got = await download(guest, `http://${GATEWAY}:8080/random.bin`, lab.path("dl.bin"));
    assertEquals(got.bytes, served.bytes, "downloaded size");
    assertEquals(got.sha256, served.sha256, "sha256 of the downloaded file");
    console.log(`  passt ⇄ qemu:// ⇄ weft switch ⇄ vde_plug: ${got.mibPerSec.toFixed(1)} MiB/s`);

    // Nothing on the passt port was malformed, truncated or dropped.
    const counters = await sw.counters();
    const port = counters.ports.find((p) => String(p.endpoint).startsWith("qemu://"));
    assertEquals(port?.drops, {}, JSON.stringify(counters));
  },
);
