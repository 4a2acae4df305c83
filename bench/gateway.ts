/**
 * `deno task bench gateway`: `weft gateway` against slirp4netns and pasta (passt), the NATs that
 * give a namespace or VM the host's network without root, on the same work in one run.
 *
 * Each system gets a fresh guest namespace (the kernel's TCP as the client) and a "host" namespace
 * whose loopback holds the servers, reached from the guest at the gateway address (weft and slirp:
 * 10.0.2.2 → 127.0.0.1; pasta: the host's default gateway, mapped to its loopback):
 * - weft: `weft gateway --switch tap://wt0?netns=…` in the host namespace owns the guest's TAP
 *   (as slirp4netns and pasta own theirs: no switch in between);
 * - slirp4netns: `slirp4netns --configure --mtu=N` in the host namespace, tap0 in the guest;
 * - pasta: `pasta --config-net -m N --netns …` in the host namespace (which gets a veth with a
 *   default route for pasta to copy, since a fresh namespace has none).
 *
 * Figures, medians of the runs: 40 MiB HTTP GET and PUT (curl ⇄ python http.server; MiB/s from
 * curl's own times), iperf3 3 s each way (Gbit/s) and new TCP connections per second (a python
 * client connecting, reading one byte, closing; 300 back to back), all at MTU 1500 and 65520.
 * A system that cannot run is printed as skipped with the reason, never with made-up figures.
 */

import { Lab } from "../tests/_harness/lab.ts";
import type { Netns } from "../tests/_harness/netns.ts";
import { type Background, errorText, waitUntil } from "../tests/_harness/process.ts";
import { findTool } from "../tests/_harness/requirements.ts";
import { writeRandomFile } from "../tests/_harness/http.ts";
import { startUploadServer } from "../tests/_harness/stack_lan.ts";
import { weftCommand } from "../tests/_harness/weft.ts";
import { median, table } from "./stats.ts";

const MIB = 40;
const CONNS = 300;
const IPERF_SECS = 3;

interface Env {
  lab: Lab;
  guest: Netns;
  host: Netns;
  /** The host's loopback as the guest reaches it. */
  gw: string;
  www: string;
}

type Setup = (lab: Lab, guest: Netns, host: Netns, mtu: number) => Promise<string>;

const weftSetup: Setup = async (lab, guest, host, mtu) => {
  // The gateway owns the guest's TAP itself, as slirp4netns and pasta do (no switch between).
  const gw = host.spawn(
    weftCommand([
      "gateway",
      "--switch",
      `tap://wt0?netns=${guest.name}&mtu=${mtu}`,
      "--cidr",
      "10.0.2.0/24",
      "--mtu",
      String(mtu),
    ]),
    { name: "weft gateway" },
  );
  lab.use(gw);
  await gw.waitForOutput(/^weft gateway: ready$/m, 45_000);
  await guest.linkUp("wt0");
  await guest.addAddress("wt0", "10.0.2.15/24");
  await guest.ip("route", "add", "default", "via", "10.0.2.2");
  return "10.0.2.2";
};

const slirpSetup: Setup = async (lab, guest, host, mtu) => {
  const p = host.spawn([
    "slirp4netns",
    "--configure",
    `--mtu=${mtu}`,
    "--netns-type=path",
    `/var/run/netns/${guest.name}`,
    "tap0",
  ], { name: "slirp4netns" });
  lab.use(p);
  await waitUntil("slirp4netns tap0 configured", async () => {
    const r = await guest.exec(["ip", "-4", "addr", "show", "tap0"]);
    return r.success && r.stdout.includes("10.0.2.100");
  }, { timeoutMs: 15_000, intervalMs: 50 });
  return "10.0.2.2";
};

const pastaSetup: Setup = async (lab, guest, host, mtu) => {
  // pasta copies the host's default-route interface; a fresh namespace has none, so give it one.
  const peer = await lab.netns("pastax");
  await host.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", peer.name);
  await peer.ip("link", "set", "v1", "up");
  await host.linkUp("v0");
  await host.addAddress("v0", "10.99.0.1/24");
  await host.ip("route", "add", "default", "via", "10.99.0.254");
  const p = host.spawn([
    "pasta",
    "-q",
    "-f",
    "-4",
    "--runas", // as root pasta otherwise switches to nobody, who cannot enter the namespace
    "0",
    "--config-net",
    "-m",
    String(mtu),
    "--netns-only",
    "--netns",
    `/var/run/netns/${guest.name}`,
  ], { name: "pasta" });
  lab.use(p);
  await waitUntil("pasta's default route in the guest", async () => {
    const r = await guest.exec(["ip", "-4", "route", "show", "default"]);
    return r.success && r.stdout.includes("10.99.0.254");
  }, { timeoutMs: 15_000, intervalMs: 50 });
  return "10.99.0.254";
};

async function curlTime(ns: Netns, args: string[]): Promise<number> {
  const out = await ns.execOk([
    "curl",
    "-sS",
    "--fail",
    "--max-time",
    "120",
    "-o",
    "/dev/null",
    "-w",
    "%{time_total}",
    ...args,
  ], { timeoutMs: 130_000 });
  return Number(out.trim());
}

async function iperf(env: Env, reverse: boolean): Promise<number> {
  const out = await env.guest.execOk([
    "iperf3",
    "-c",
    env.gw,
    "-p",
    "5201",
    "-t",
    String(IPERF_SECS),
    "-J",
    ...(reverse ? ["-R"] : []),
  ], { timeoutMs: (IPERF_SECS + 20) * 1000 });
  const j = JSON.parse(out);
  return j.end.sum_received.bits_per_second / 1e9;
}

async function connRate(env: Env): Promise<number> {
  const out = await env.guest.execOk([
    "python3",
    "-c",
    [
      "import socket, time, sys",
      `n = ${CONNS}`,
      "t = time.perf_counter()",
      "for i in range(n):",
      `    s = socket.create_connection(('${env.gw}', 7070), timeout=5)`,
      "    assert s.recv(1) == b'x'",
      "    s.close()",
      "print(n / (time.perf_counter() - t))",
    ].join("\n"),
  ], { timeoutMs: 120_000 });
  return Number(out.trim());
}

async function startServers(env: Env): Promise<Background[]> {
  const h = env.host;
  const http = h.spawn(
    ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", env.www, "8080"],
    { name: "http.server" },
  );
  await http.waitForOutput(/Serving HTTP on/, 15_000);
  const up = await startUploadServer(h, "127.0.0.1", 8081, await env.lab.mkdir("up"));
  const ip = h.spawn(["iperf3", "-s", "--forceflush", "-B", "127.0.0.1", "-p", "5201"], {
    name: "iperf3 -s",
  });
  await ip.waitForOutput(/Server listening/, 10_000);
  const acc = h.spawn([
    "python3",
    "-u",
    "-c",
    [
      "import socket",
      "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
      "s.bind(('127.0.0.1', 7070)); s.listen(512); print('ready', flush=True)",
      "while True:",
      "    c, _ = s.accept(); c.sendall(b'x'); c.close()",
    ].join("\n"),
  ], { name: "accept server" });
  await acc.waitForOutput(/ready/, 10_000);
  return [http, up, ip, acc];
}

interface Figures {
  down: number;
  up: number;
  iperfUp: number;
  iperfDown: number;
  conns: number;
}

async function measure(name: string, setup: Setup, mtu: number, runs: number): Promise<Figures> {
  await using lab = await Lab.create(`bench gateway ${name}`);
  const guest = await lab.netns("bguest");
  const host = await lab.netns("bhost");
  const gw = await setup(lab, guest, host, mtu);
  const www = await lab.mkdir("www");
  await writeRandomFile(`${www}/r.bin`, MIB * 1048576);
  const env: Env = { lab, guest, host, gw, www };
  for (const p of await startServers(env)) lab.use(p);
  const f: Record<keyof Figures, number[]> = {
    down: [],
    up: [],
    iperfUp: [],
    iperfDown: [],
    conns: [],
  };
  // One failed measurement (a peer's bug, a timeout) is reported, not allowed to hide the rest.
  const one = async (k: keyof Figures, fn: () => Promise<number>) => {
    try {
      f[k].push(await fn());
    } catch (e) {
      errors.push(`${name} MTU ${mtu} ${k}: ${errorText(e).split("\n")[0].slice(0, 160)}`);
    }
  };
  for (let i = 0; i < runs; i++) {
    await one("down", async () => MIB / await curlTime(guest, [`http://${gw}:8080/r.bin`]));
    await one(
      "up",
      async () => MIB / await curlTime(guest, ["-T", `${www}/r.bin`, `http://${gw}:8081/u.bin`]),
    );
    await one("iperfUp", () => iperf(env, false));
    await one("iperfDown", () => iperf(env, true));
    await one("conns", () => connRate(env));
  }
  const m = (xs: number[]) => (xs.length ? median(xs) : NaN);
  return {
    down: m(f.down),
    up: m(f.up),
    iperfUp: m(f.iperfUp),
    iperfDown: m(f.iperfDown),
    conns: m(f.conns),
  };
}

const errors: string[] = [];

export async function gatewayBench(runs: number): Promise<string> {
  const systems: Array<[string, Setup, string]> = [
    ["weft gateway", weftSetup, "ip"],
    ["slirp4netns", slirpSetup, "slirp4netns"],
    ["pasta", pastaSetup, "pasta"],
  ];
  const rows: (string | number)[][] = [];
  const base: Record<number, Figures | undefined> = {};
  for (const mtu of [1500, 65520]) {
    for (const [name, setup, tool] of systems) {
      const missing = [tool, "iperf3", "curl", "python3"].filter((t) => !findTool(t));
      if (Deno.uid() !== 0 || missing.length > 0) {
        rows.push([
          name,
          mtu,
          `skipped: ${Deno.uid() !== 0 ? "needs root" : `missing ${missing}`}`,
        ]);
        continue;
      }
      try {
        const r = await measure(name, setup, mtu, runs);
        if (name === "weft gateway") base[mtu] = r;
        const w = base[mtu];
        const vs = (x: number, y: number | undefined) =>
          name === "weft gateway" || y === undefined || !(x > 0) || !(y > 0)
            ? ""
            : ` (weft ×${(y / x).toFixed(2)})`;
        const n = (x: number, d: number) => (Number.isNaN(x) ? "failed" : x.toFixed(d));
        rows.push([
          name,
          mtu,
          `${n(r.down, 1)}${vs(r.down, w?.down)}`,
          `${n(r.up, 1)}${vs(r.up, w?.up)}`,
          `${n(r.iperfDown, 2)}${vs(r.iperfDown, w?.iperfDown)}`,
          `${n(r.iperfUp, 2)}${vs(r.iperfUp, w?.iperfUp)}`,
          `${n(r.conns, 0)}${vs(r.conns, w?.conns)}`,
        ]);
      } catch (e) {
        rows.push([name, mtu, `failed: ${errorText(e).split("\n")[0]}`]);
      }
    }
  }
  return `### NAT gateways: guest namespace → host loopback (median of ${runs})\n\n` +
    table([
      "system",
      "MTU",
      `GET ${MIB} MiB, MiB/s`,
      `PUT ${MIB} MiB, MiB/s`,
      "iperf3 host→guest, Gbit/s",
      "iperf3 guest→host, Gbit/s",
      "new TCP conns/s",
    ], rows) + (errors.length ? `\n\nFailures:\n${errors.map((e) => `- ${e}`).join("\n")}` : "");
}

if (import.meta.main) {
  console.log(await gatewayBench(Number(Deno.env.get("BENCH_RUNS") ?? 3)));
}
