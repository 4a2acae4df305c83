/**
 * weft's user-space stack with the Linux kernel as the peer (ARCHITECTURE §7). A weft switch
 * holds a TAP in a namespace (tests/_harness/stack_lan.ts); `weft serve`, `weft ping` and
 * `weft fetch` run stacks of their own on the switch. The kernel's ping, curl, python http.server,
 * busybox udhcpd and radvd judge the stack; vde2's wirefilter adds loss, delay and reordering
 * (this machine's kernel has no sch_netem, so `tc netem` is not available here).
 */

import { assertEquals, assertMatch } from "@std/assert";
import { peerTest } from "./_harness/lab.ts";
import { download, sha256sum, writeRandomFile } from "./_harness/http.ts";
import { runWeft } from "./_harness/weft.ts";
import { kernelLan, startServe, startUploadServer } from "./_harness/stack_lan.ts";

const TOOLS = ["ip", "ping", "curl", "python3"];

peerTest(
  "stack: the kernel pings weft serve (IPv4, IPv6) and weft ping reaches the kernel",
  { tools: TOOLS, tun: true },
  async (lab) => {
    const lan = await kernelLan(lab);
    const www = await lab.mkdir("www");
    await Deno.writeTextFile(`${www}/index.html`, "hello\n");
    await startServe(lab, lan, ["--ip", "10.88.0.2/24", "--ip6", "fd88::2/64", "--dir", www]);
    for (const addr of ["10.88.0.2", "fd88::2"]) {
      await lan.ns.waitReachable(addr, 15_000);
      const r = await lan.ns.ping(addr, { count: 5, interval: 0.05, wait: 1 });
      assertEquals([r.sent, r.received], [5, 5], r.output);
      const big = await lan.ns.ping(addr, { count: 2, interval: 0.05, wait: 1, size: 1400 });
      assertEquals(big.received, 2, big.output);
    }
    for (const target of [lan.kernel4, lan.kernel6]) {
      const r = await runWeft([
        "ping",
        "--switch",
        lan.sw.url,
        "--ip",
        "10.88.0.9/24",
        "--ip6",
        "fd88::9/64",
        "-c",
        "3",
        "-i",
        "0.2",
        target,
      ], { timeoutMs: 30_000 });
      assertEquals(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assertMatch(r.stdout, /3 packets transmitted, 3 received, 0% packet loss/);
    }
  },
);

peerTest(
  "stack: curl downloads 10/20/40 MiB from weft serve --dir, byte-exact (IPv4 and IPv6)",
  { tools: TOOLS, tun: true },
  async (lab) => {
    const lan = await kernelLan(lab);
    const www = await lab.mkdir("www");
    const sums: Record<number, string> = {};
    for (const mib of [10, 20, 40]) {
      await writeRandomFile(`${www}/r${mib}.bin`, mib * 1048576);
      sums[mib] = await sha256sum(`${www}/r${mib}.bin`);
    }
    await startServe(lab, lan, ["--ip", "10.88.0.2/24", "--ip6", "fd88::2/64", "--dir", www]);
    await lan.ns.waitReachable("10.88.0.2", 15_000);
    for (const mib of [10, 20, 40]) {
      const d = await download(lan.ns, `http://10.88.0.2/r${mib}.bin`, lab.path(`d${mib}`), 90);
      assertEquals(d.sha256, sums[mib], `${mib} MiB over IPv4`);
      console.log(`curl <- weft serve ${mib} MiB: ${d.mibPerSec.toFixed(1)} MiB/s`);
    }
    await lan.ns.waitReachable("fd88::2", 15_000);
    const d6 = await download(lan.ns, "http://[fd88::2]/r20.bin", lab.path("d6"), 90);
    assertEquals(d6.sha256, sums[20], "20 MiB over IPv6");
  },
  { timeoutMs: 240_000 },
);

peerTest(
  "stack: weft fetch downloads from and uploads to a kernel HTTP server, byte-exact",
  { tools: TOOLS, tun: true },
  async (lab) => {
    const lan = await kernelLan(lab);
    const srv = await lab.mkdir("srv");
    await writeRandomFile(`${srv}/src.bin`, 20 * 1048576);
    const src = await sha256sum(`${srv}/src.bin`);
    await startUploadServer(lan.ns, lan.kernel4, 8000, srv);
    const stackArgs = ["--switch", lan.sw.url, "--ip", "10.88.0.3/24"];
    const got = await runWeft(
      ["fetch", ...stackArgs, "-o", lab.path("got.bin"), "http://10.88.0.1:8000/src.bin"],
      { timeoutMs: 90_000 },
    );
    assertEquals(got.code, 0, got.stderr);
    assertEquals(await sha256sum(lab.path("got.bin")), src, "download");
    // Several URLs: the bodies follow one another in the output file, as on stdout.
    await Deno.writeTextFile(`${srv}/a.txt`, "first\n");
    await Deno.writeTextFile(`${srv}/b.txt`, "second\n");
    const both = await runWeft([
      "fetch",
      ...stackArgs,
      "-o",
      lab.path("both.txt"),
      "http://10.88.0.1:8000/a.txt",
      "http://10.88.0.1:8000/b.txt",
    ], { timeoutMs: 30_000 });
    assertEquals(both.code, 0, both.stderr);
    assertEquals(await Deno.readTextFile(lab.path("both.txt")), "first\nsecond\n");
    await writeRandomFile(lab.path("up.bin"), 20 * 1048576);
    const up = await runWeft(
      ["fetch", ...stackArgs, "-T", lab.path("up.bin"), "http://10.88.0.1:8000/up.bin"],
      { timeoutMs: 90_000 },
    );
    assertEquals(up.code, 0, up.stderr);
    assertMatch(up.stderr, /^201 /m);
    assertEquals(await sha256sum(`${srv}/up.bin`), await sha256sum(lab.path("up.bin")), "upload");
  },
  { timeoutMs: 200_000 },
);
