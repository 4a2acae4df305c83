/**
 * `weft gateway` with the Linux kernel as the guest behind it. A weft switch holds a TAP in a
 * guest namespace (10.0.2.15/24, default route via the gateway 10.0.2.2); the gateway runs in a
 * second namespace that plays "the host", so the host's loopback the gateway reaches (slirp's
 * 10.0.2.2 → 127.0.0.1) is that namespace's own, and nothing of the real host is touched.
 * curl, python's http.server, a python UDP echo server and ping judge it.
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { peerTest } from "./_harness/lab.ts";
import type { Lab } from "./_harness/lab.ts";
import type { Netns } from "./_harness/netns.ts";
import { download, sha256sum, writeRandomFile } from "./_harness/http.ts";
import { startUploadServer } from "./_harness/stack_lan.ts";
import { type Background, waitUntil } from "./_harness/process.ts";
import { runWeft, weftCommand } from "./_harness/weft.ts";
import { udhcpc, UDHCPC_SCRIPT } from "./_harness/udhcpc.ts";

const TOOLS = ["ip", "ping", "curl", "python3", "sha256sum"];
const MIB = 40;

interface GatewayLan {
  guest: Netns;
  host: Netns;
  gw: Background;
  /** Start another `weft gateway` with the same arguments (after the first one died). */
  restart(): Promise<Background>;
}

async function gatewayLan(
  lab: Lab,
  extra: string[] = [],
  opts: { staticGuest?: boolean } = {},
): Promise<GatewayLan> {
  const guest = await lab.netns("guest");
  const host = await lab.netns("host");
  const sw = await lab.weftSwitch(["--connect", `tap://wt0?netns=${guest.name}`]);
  await waitUntil(`wt0 in ${guest.name}`, async () => {
    return (await guest.exec(["ip", "link", "show", "wt0"])).success;
  }, { timeoutMs: 30_000, intervalMs: 50 });
  await guest.linkUp("wt0");
  if (opts.staticGuest !== false) {
    await guest.addAddress("wt0", "10.0.2.15/24");
    await guest.ip("route", "add", "default", "via", "10.0.2.2");
  }
  const start = async () => {
    const p = host.spawn(
      weftCommand(["gateway", "--switch", sw.url, "--cidr", "10.0.2.0/24", ...extra]),
      { name: "weft gateway" },
    );
    await p.waitForOutput(/^weft gateway: ready$/m, 45_000);
    return p;
  };
  return { guest, host, gw: await start(), restart: start };
}

async function stopCleanly(gw: Background): Promise<void> {
  gw.signal("SIGUSR2");
  await gw.waitForOutput(/counters \{/, 10_000).catch(() => {});
  assertMatch(gw.errors, /counters \{.*"tcpNat"/);
  gw.signal("SIGTERM");
  const st = await gw.waitExit(10_000);
  assertEquals(st?.code, 0, `weft gateway did not stop cleanly on SIGTERM\n${gw.errors}`);
}

peerTest(
  "gateway: the guest downloads and uploads 40 MiB via 10.0.2.2 (host loopback), UDP echo, ping",
  { tools: TOOLS, tun: true },
  async (lab) => {
    const lan = await gatewayLan(lab);
    const www = await lab.mkdir("www");
    await writeRandomFile(`${www}/r.bin`, MIB * 1048576);
    const sum = await sha256sum(`${www}/r.bin`);

    const ping = await lan.guest.ping("10.0.2.2", { count: 3, interval: 0.1, wait: 2 });
    assertEquals([ping.sent, ping.received], [3, 3], ping.output);

    const http = lan.host.spawn(
      ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", www, "8080"],
      { name: "http.server" },
    );
    await http.waitForOutput(/Serving HTTP on/, 15_000);
    const d = await download(lan.guest, "http://10.0.2.2:8080/r.bin", lab.path("down.bin"), 120);
    assertEquals(d.sha256, sum, "40 MiB download through the gateway");
    console.log(`curl <- host loopback via weft gateway: ${d.mibPerSec.toFixed(1)} MiB/s`);

    const up = await lab.mkdir("up");
    await startUploadServer(lan.host, "127.0.0.1", 8081, up);
    const t0 = performance.now();
    const put = await lan.guest.exec([
      "curl",
      "-sS",
      "--fail",
      "--max-time",
      "120",
      "-T",
      `${www}/r.bin`,
      "http://10.0.2.2:8081/up.bin",
    ], { timeoutMs: 130_000 });
    assert(put.success, put.stderr);
    const upMs = performance.now() - t0;
    assertEquals(await sha256sum(`${up}/up.bin`), sum, "40 MiB upload through the gateway");
    console.log(
      `curl -T -> host loopback via weft gateway: ${(MIB / (upMs / 1000)).toFixed(1)} MiB/s`,
    );

    const echo = lan.host.spawn([
      "python3",
      "-u",
      "-c",
      [
        "import socket",
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        "s.bind(('127.0.0.1', 7007))",
        "print('ready', flush=True)",
        "while True:",
        "    d, a = s.recvfrom(65535)",
        "    s.sendto(d, a)",
      ].join("\n"),
    ], { name: "udp echo" });
    await echo.waitForOutput(/ready/, 10_000);
    const client = await lan.guest.exec([
      "python3",
      "-c",
      [
        "import socket",
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        "s.settimeout(2)",
        "for i in range(5):",
        "    m = b'hello %d ' % i + b'x' * 1000",
        "    s.sendto(m, ('10.0.2.2', 7007))",
        "    d, a = s.recvfrom(65535)",
        "    assert d == m and a == ('10.0.2.2', 7007), (d[:20], a)",
        "print('udp ok')",
      ].join("\n"),
    ], { timeoutMs: 20_000 });
    assertMatch(client.stdout, /udp ok/, client.stderr);

    // Echo requests to addresses the gateway cannot reach are not answered (no fake replies).
    const far = await lan.guest.ping("192.0.2.1", { count: 1, wait: 1 });
    assertEquals(far.received, 0, far.output);
    await stopCleanly(lan.gw);
  },
  { timeoutMs: 300_000 },
);

peerTest(
  "gateway: --forward tcp:127.0.0.1:PORT:10.0.2.15:80 lets curl on the host reach the guest",
  { tools: TOOLS, tun: true },
  async (lab) => {
    const lan = await gatewayLan(lab, ["--forward", "tcp:127.0.0.1:18080:10.0.2.15:80"]);
    assertMatch(lan.gw.output, /forward fwd1 tcp:127\.0\.0\.1:18080:10\.0\.2\.15:80/);
    const www = await lab.mkdir("www");
    await writeRandomFile(`${www}/g.bin`, 4 * 1048576);
    const sum = await sha256sum(`${www}/g.bin`);
    const http = lan.guest.spawn(
      ["python3", "-u", "-m", "http.server", "--bind", "10.0.2.15", "--directory", www, "80"],
      { name: "guest http.server" },
    );
    await http.waitForOutput(/Serving HTTP on/, 15_000);
    const d = await download(lan.host, "http://127.0.0.1:18080/g.bin", lab.path("g.bin"), 60);
    assertEquals(d.sha256, sum, "4 MiB from the guest through the forward");
    await stopCleanly(lan.gw);
  },
  { timeoutMs: 120_000 },
);

Deno.test("gateway: bad ranges and --forward specs exit 2 with one clear line", async () => {
  const base = ["gateway", "--switch", "vde:///nonexistent/sw", "--cidr", "10.0.2.0/24"];
  const cases: Array<[string[], RegExp]> = [
    [
      ["--dhcp", "10.0.2.1-10.0.2.50"],
      /DHCP range "10\.0\.2\.1-10\.0\.2\.50".*overlaps.*10\.0\.2\.2/,
    ],
    [["--dhcp", "10.0.2.15-10.0.3.5"], /DHCP range end "10\.0\.3\.5".*inside 10\.0\.2\.0\/24/],
    [["--forward", "tcp:127.0.0.1:8080:10.0.2.15"], /forward "tcp:127\.0\.0\.1:8080:10\.0\.2\.15"/],
    [
      ["--forward", "tcp:127.0.0.1:8080:192.168.1.5:80"],
      /guest address "192\.168\.1\.5" is not inside/,
    ],
    [["--forward", "sctp:127.0.0.1:8080:10.0.2.15:80"], /forward "sctp:/],
  ];
  for (const [args, re] of cases) {
    const r = await runWeft([...base, ...args], { timeoutMs: 30_000 });
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    assertMatch(lines[0], re);
  }
});

peerTest(
  "gateway: --dhcp --dns: udhcpc gets address, router, DNS and MTU; the lease survives kill -9; NAME.weft resolves",
  { tools: [...TOOLS, "busybox"], tun: true },
  async (lab) => {
    const leases = lab.path("leases.json");
    const lan = await gatewayLan(
      lab,
      ["--dhcp", "10.0.2.20-10.0.2.40", "--dns", "--lease-file", leases, "--mtu", "1400"],
      { staticGuest: false },
    );
    const script = lab.path("udhcpc.sh");
    await Deno.writeTextFile(script, UDHCPC_SCRIPT, { mode: 0o755 });
    const first = await udhcpc(lan.guest, script, ["-x", "hostname:guest1"]);
    const n = Number(first.ip.split(".")[3]);
    assert(
      first.ip.startsWith("10.0.2.") && n >= 20 && n <= 40,
      `lease ${first.ip} outside the pool`,
    );
    assertEquals(first.router, "10.0.2.2");
    assertEquals(first.dns, "10.0.2.2");
    assertEquals(first.mtu, "1400");
    // The guest's name is in the gateway's zone, answered by the gateway's DNS forwarder.
    const ns = await lan.guest.exec(["busybox", "nslookup", "guest1.weft", "10.0.2.2"], {
      timeoutMs: 15_000,
    });
    assertMatch(
      ns.stdout,
      new RegExp(`Address:?\\s+${first.ip.replaceAll(".", "\\.")}`),
      ns.stdout + ns.stderr,
    );
    // kill -9: nothing gets a chance to write; the committed lease must be in the file already.
    lan.gw.signal("SIGKILL");
    await lan.gw.waitExit(10_000);
    await lan.restart();
    await lan.guest.ip("addr", "flush", "dev", "wt0");
    const again = await udhcpc(lan.guest, script, ["-x", "hostname:guest1"]);
    assertEquals(again.ip, first.ip, "the same address after kill -9 and restart");
  },
  { timeoutMs: 120_000 },
);
