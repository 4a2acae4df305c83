/**
 * weft's TCP over a bad link, with real peers on both sides of it: the kernel (a namespace on a
 * vde_switch through vde_plug's TAP) and a weft stack (on a weft switch), joined by vde2's
 * wirefilter with 2 % loss in each direction, 20 ± 3 ms delay and reordering (-N: no FIFO). This
 * machine's kernel has no sch_netem, so wirefilter stands in for `tc netem` — it impairs both
 * directions, which a netem qdisc on one TAP would not. 20 MiB move byte-exact both ways, and a
 * capture on the kernel's TAP shows the stack using SACK blocks and window scaling.
 */

import { assert, assertEquals, assertGreater } from "@std/assert";
import { peerTest } from "./_harness/lab.ts";
import { download, sha256sum, writeRandomFile } from "./_harness/http.ts";
import { sleep } from "./_harness/process.ts";
import { runWeft } from "./_harness/weft.ts";
import { startUploadServer } from "./_harness/stack_lan.ts";

async function tsharkCount(pcap: string, filter: string): Promise<number> {
  const out = await new Deno.Command("tshark", {
    args: ["-r", pcap, "-Y", filter, "-T", "fields", "-e", "frame.number"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  return text === "" ? 0 : text.split("\n").length;
}

peerTest(
  "stack: 2 % loss, 17–23 ms delay, reordering (wirefilter): 20 MiB both ways, SACK + window scaling on the wire",
  {
    tools: [
      "ip",
      "ping",
      "curl",
      "python3",
      "vde_switch",
      "vde_plug",
      "wirefilter",
      "tcpdump",
      "tshark",
    ],
    tun: true,
  },
  async (lab) => {
    const vde = await lab.vdeSwitch();
    const kernel = await lab.host("k", vde.dir, { ipv4: "10.88.0.1/24" });
    const sw = await lab.weftSwitch();
    lab.spawn(
      ["wirefilter", "-v", `${vde.dir}:${sw.dir}`, "-l", "2", "-d", "20+3", "-N"],
      // wirefilter reads management commands on stdin and stops at its end: keep it open.
      { name: "wirefilter", stdin: "piped" },
    );
    const pcap = lab.path("tcp.pcap");
    const dump = kernel.ns.spawn(
      ["tcpdump", "-i", kernel.tap, "-n", "-s", "120", "--immediate-mode", "-w", pcap, "tcp"],
      { name: "tcpdump" },
    );
    await dump.waitForOutput(/listening on/, 10_000).catch(() => sleep(1000));

    const www = await lab.mkdir("www");
    await writeRandomFile(`${www}/r.bin`, 20 * 1048576);
    const sum = await sha256sum(`${www}/r.bin`);
    const serve = lab.spawnWeft(
      ["serve", "--switch", sw.url, "--ip", "10.88.0.2/24", "--dir", www],
      { name: "weft serve" },
    );
    await serve.waitForOutput(/^weft serve: ready$/m, 45_000);
    await kernel.ns.waitReachable("10.88.0.2", 20_000);
    const d = await download(kernel.ns, "http://10.88.0.2/r.bin", lab.path("d.bin"), 150);
    assertEquals(d.sha256, sum, "kernel curl <- weft serve over the lossy link");
    console.log(`lossy link, curl <- weft serve: ${d.mibPerSec.toFixed(2)} MiB/s`);

    const srv = await lab.mkdir("srv");
    await writeRandomFile(`${srv}/src.bin`, 20 * 1048576);
    await startUploadServer(kernel.ns, "10.88.0.1", 8000, srv);
    const t0 = performance.now();
    const got = await runWeft(
      [
        "fetch",
        "--switch",
        sw.url,
        "--ip",
        "10.88.0.3/24",
        "-o",
        lab.path("got.bin"),
        "http://10.88.0.1:8000/src.bin",
      ],
      { timeoutMs: 150_000 },
    );
    assertEquals(got.code, 0, got.stderr);
    assertEquals(
      await sha256sum(lab.path("got.bin")),
      await sha256sum(`${srv}/src.bin`),
      "weft fetch <- kernel",
    );
    console.log(
      `lossy link, weft fetch <- kernel: ${got.stderr.trim()} (${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s)`,
    );
    await sleep(300);
    await dump.stop();

    // The stack's SYN / SYN-ACK carry window scaling and SACK-permitted; its ACKs carry SACK blocks
    // while the kernel's data has holes; the kernel's SACKs show loss on weft's data, which weft repaired.
    assertGreater(
      await tsharkCount(pcap, "ip.src==10.88.0.2 && tcp.flags.syn==1 && tcp.options.wscale.shift"),
      0,
      "window scale from weft serve",
    );
    assertGreater(
      await tsharkCount(pcap, "ip.src==10.88.0.3 && tcp.flags.syn==1 && tcp.options.sack_perm"),
      0,
      "SACK-permitted from weft fetch",
    );
    const weftSacks = await tsharkCount(pcap, "ip.src==10.88.0.3 && tcp.options.sack_le");
    assertGreater(weftSacks, 0, "SACK blocks sent by weft's receiver");
    const kernelSacks = await tsharkCount(pcap, "ip.dst==10.88.0.2 && tcp.options.sack_le");
    assertGreater(kernelSacks, 0, "the link lost weft's data (the kernel SACKed)");
    const retrans = await tsharkCount(pcap, "ip.src==10.88.0.2 && tcp.analysis.retransmission");
    assert(retrans > 0, "weft retransmitted");
    console.log(`SACK-carrying ACKs from weft: ${weftSacks}; weft retransmissions: ${retrans}`);
  },
  { timeoutMs: 400_000 },
);
