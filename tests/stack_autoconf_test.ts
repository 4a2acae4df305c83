/**
 * Address autoconfiguration of weft's stack against real servers in a namespace: busybox udhcpd
 * (DHCPv4 lease, renewal at T1, release on exit — judged from a tcpdump capture decoded by
 * tshark) and radvd (SLAAC from router advertisements, then the kernel pings the new address).
 */

import { assert, assertEquals } from "@std/assert";
import { peerTest } from "./_harness/lab.ts";
import { sleep } from "./_harness/process.ts";
import { kernelLan, startServe } from "./_harness/stack_lan.ts";

peerTest(
  "stack: DHCPv4 lease from busybox udhcpd, renewed at T1, released on exit",
  { tools: ["ip", "ping", "busybox", "tcpdump", "tshark"], tun: true },
  async (lab) => {
    const lan = await kernelLan(lab);
    const conf = lab.path("udhcpd.conf");
    await Deno.writeTextFile(
      conf,
      [
        "start 10.88.0.100",
        "end 10.88.0.150",
        "interface wt0",
        `lease_file ${lab.path("leases")}`,
        `pidfile ${lab.path("udhcpd.pid")}`,
        "min_lease 16",
        "opt lease 16",
        "opt router 10.88.0.1",
        "opt subnet 255.255.255.0",
        "opt dns 10.88.0.1",
        "",
      ].join("\n"),
    );
    const pcap = lab.path("dhcp.pcap");
    const dump = lan.ns.spawn(
      ["tcpdump", "-i", "wt0", "-n", "--immediate-mode", "-w", pcap, "udp port 67 or udp port 68"],
      { name: "tcpdump" },
    );
    await dump.waitForOutput(/listening on/, 10_000).catch(() => sleep(1000));
    lan.ns.spawn(["busybox", "udhcpd", "-f", conf], { name: "udhcpd" });
    await sleep(300);
    const serve = await startServe(lab, lan, ["--ip", "dhcp", "--echo", "7"]);
    const m = /tcp:\/\/(10\.88\.0\.\d+):7/.exec(serve.output);
    assert(m, serve.output);
    const leased = m[1];
    const n = Number(leased.split(".")[3]);
    assert(n >= 100 && n <= 150, `leased ${leased} outside the pool`);
    await lan.ns.waitReachable(leased, 10_000);
    // T1 = 8 s: wait past it, check the address still answers, then exit (releases the lease).
    await sleep(10_000);
    const r = await lan.ns.ping(leased, { count: 2, interval: 0.1, wait: 1 });
    assertEquals(r.received, 2, r.output);
    await serve.stop();
    await sleep(500);
    await dump.stop();
    const t = new Deno.Command("tshark", {
      args: ["-r", pcap, "-T", "fields", "-e", "dhcp.option.dhcp", "-e", "ip.dst"],
      stdout: "piped",
      stderr: "piped",
    });
    const out = new TextDecoder().decode((await t.output()).stdout).trim().split("\n");
    const types = out.map((l) => Number(l.split("\t")[0]));
    const seq = types.join(",");
    // DISCOVER(1) OFFER(2) REQUEST(3) ACK(5) … REQUEST(3) ACK(5) (renewal) … RELEASE(7).
    assert(/1,2,3,5/.test(seq), `no DORA in ${seq}`);
    assert(/3,5.*3,5/.test(seq), `no renewal in ${seq}`);
    assertEquals(types[types.length - 1], 7, `no release at the end of ${seq}`);
    const renewal = out.filter((l) => l.startsWith("3\t")).slice(1);
    assert(
      renewal.some((l) => l.endsWith("10.88.0.1")),
      `renewal not unicast to the server: ${out}`,
    );
  },
  { timeoutMs: 90_000 },
);

peerTest(
  "stack: SLAAC configures an address from radvd's router advertisements",
  { tools: ["ip", "ping", "radvd"], tun: true },
  async (lab) => {
    const lan = await kernelLan(lab);
    await lan.ns.execOk(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    // The router (the namespace's kernel) is on the advertised prefix too, so it can reach us.
    await lan.ns.addAddress("wt0", "fd99:1:2:3::1/64");
    const conf = lab.path("radvd.conf");
    await Deno.writeTextFile(
      conf,
      [
        "interface wt0 {",
        "  AdvSendAdvert on;",
        "  MinRtrAdvInterval 3;",
        "  MaxRtrAdvInterval 4;",
        "  prefix fd99:1:2:3::/64 { AdvOnLink on; AdvAutonomous on; };",
        "};",
        "",
      ].join("\n"),
    );
    lan.ns.spawn(
      ["radvd", "-n", "-C", conf, "-p", lab.path("radvd.pid"), "-m", "stderr"],
      { name: "radvd" },
    );
    const serve = await startServe(lab, lan, ["--ip6", "auto", "--echo", "7"]);
    const m = /tcp:\/\/\[(fd99:1:2:3:[0-9a-f:]+)\]:7/.exec(serve.output);
    assert(m, `no SLAAC address in:\n${serve.output}`);
    await lan.ns.waitReachable(m[1], 15_000);
    const r = await lan.ns.ping(m[1], { count: 3, interval: 0.1, wait: 1 });
    assertEquals(r.received, 3, r.output);
  },
  { timeoutMs: 60_000 },
);
