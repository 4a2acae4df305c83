/**
 * `deno task bench stack`: user-space TCP/IP stacks serving HTTP, the Internet of Threads setting.
 * The baseline is LWIPv6 (the stack of the IoTh paper) running `bench/peers/lwhttp.c`, measured in
 * the same run as the kernel limit and (once `weft serve` exists) weft's own stack:
 *
 * - kernel veth: curl in one namespace ← a kernel HTTP server in another, joined by a veth (the
 *   limit; the server is `lwhttp serve -k`, the same application code as the LWIPv6 rows, or
 *   `python3 -m http.server` when lwhttp could not be built);
 * - kernel curl ← user-space server: the server's stack is plugged into a vde_switch directory
 *   (`lwhttp -v DIR`, later `weft serve` with `vde:///DIR`), and curl runs in a namespace whose
 *   TAP is owned by that same switch (`vde_switch -t tap0`, started inside the namespace). `-t` is
 *   the fastest kernel attachment vde2 has (≈ 100 MiB/s vs ≈ 43 via vde_plug2tap, docs/PEERS.md),
 *   so the attachment does not cap a ≈ 45 MiB/s stack;
 * - user-space ⇄ user-space: client and server stacks both on that switch (no kernel TCP at all).
 *
 * Figures: MiB/s of a GET of a random 10/20/40 MiB file over a fresh TCP connection (curl's
 * `time_total`, lwhttp's connect-to-last-byte time), and requests/s for a 1 KiB file
 * (SMALL_REQUESTS back to back: N / Σ per-request times). Medians of BENCH_RUNS. For the small
 * requests curl (one invocation, many URLs) reuses one keep-alive connection, while the
 * user-space clients (`lwhttp get`, `weft fetch`) open a fresh connection per request: handshake
 * and close included, 7 frames per request through the switch for weft (and a client port each:
 * weft picks them by RFC 6056 §3.3.3, so none meets its predecessor in the server's TIME-WAIT).
 *
 * Rows are added with `serverRow(env, name, start)` and `pairRow(env, name, start, fetch)`; a row
 * that cannot run is printed as skipped with the reason, never with made-up figures.
 */

import { Lab } from "../tests/_harness/lab.ts";
import type { Netns } from "../tests/_harness/netns.ts";
import {
  type Background,
  errorText,
  exists,
  killPid,
  run,
  sleep,
  waitUntil,
} from "../tests/_harness/process.ts";
import { sha256sum, writeRandomFile } from "../tests/_harness/http.ts";
import { weftCommand } from "../tests/_harness/weft.ts";
import { type Built, ensurePeerBinary } from "./peer_build.ts";
import { stackMemoryBench } from "./stack_memory.ts";
import { median, table } from "./stats.ts";

export const SIZES_MIB = [10, 20, 40] as const;
/** Body of the small-response test, bytes. */
export const SMALL_BYTES = 1024;
/** Requests per small-response measurement. */
export const SMALL_REQUESTS = 200;
export const PORT = 8080;
/** The switch's subnet; the kernel TAP is .1, user-space stacks get .2, .3, … (fresh per start). */
const NET = "10.78.0";
const PREFIX = 24;

/**
 * Build bench/peers/lwhttp.c (via build_lwhttp.sh, which installs gcc / liblwipv6-dev /
 * libvdeplug-dev with apt when missing) into `$XDG_CACHE_HOME/weft/lwhttp` (default
 * `~/.cache/weft/lwhttp`), unless a binary of the same source is already there.
 */
export function ensureLwhttp(): Promise<Built> {
  return ensurePeerBinary("lwhttp", "build_lwhttp.sh");
}

// ---------------------------------------------------------------------------------------------
// The environment every row runs in.

export interface StackEnv {
  lab: Lab;
  runs: number;
  /** Files served by every server: r10.bin, r20.bin, r40.bin, small.bin. */
  www: string;
  /** sha256 of each served file by name. */
  sha256: Record<string, string>;
  /** The vde_switch directory (a user-space stack attaches with `vde:///DIR` / `-v DIR`). */
  switchDir: string;
  /** Namespace of the switch's TAP (NET.1): where curl runs. */
  kernel: Netns;
  /** Namespace (loopback only) where the user-space stacks run: their only network is the switch. */
  peers: Netns;
  /** lwhttp binary, or why there is none. */
  lwhttp: Built;
  /** Hand out a fresh address on the switch's subnet (`a.b.c.d/len`). */
  nextIp(): string;
}

/** One measured (or skipped) line of the report. */
export interface Row {
  name: string;
  /** Median MiB/s per entry of SIZES_MIB. */
  mibs?: number[];
  /** Median requests/s for SMALL_BYTES responses. */
  reqs?: number;
  /** Why the row has no figures. */
  skipped?: string;
  /** Name of the row the ratio column compares with. */
  vs?: string;
}

/** What a client measured for one path. */
export interface Transfer {
  path: string;
  bytes: number;
  seconds: number;
}

/** Start an HTTP server serving `env.www` on PORT at `cidr`, attached to `env.switchDir`. */
export type StartServer = (env: StackEnv, cidr: string) => Promise<Background>;

/**
 * A user-space client on the switch at `cidr`: GET each path (fresh connection each) from
 * `server`:PORT and return what it measured, in order.
 */
export type Fetch = (
  env: StackEnv,
  cidr: string,
  server: string,
  paths: string[],
) => Promise<Transfer[]>;

const fileName = (mib: number) => `r${mib}.bin`;
const addrOf = (cidr: string) => cidr.split("/")[0];

// ---------------------------------------------------------------------------------------------
// Measuring with curl from the kernel side.

/** GET `url` with curl from `ns` into /dev/null; returns MiB/s by curl's own clock. */
async function curlOnce(ns: Netns, url: string, bytes: number): Promise<number> {
  const out = await ns.execOk([
    "curl",
    "-sS",
    "--fail",
    "--connect-timeout",
    "5",
    "--max-time",
    "120",
    "-o",
    "/dev/null",
    "-w",
    "%{size_download} %{time_total}",
    url,
  ], { timeoutMs: 130_000 });
  const [got, secs] = out.trim().split(" ").map(Number);
  if (got !== bytes) throw new Error(`curl ${url}: ${got} bytes, expected ${bytes}`);
  return got / 1048576 / secs;
}

/** Download `url` once to a file and compare its sha256 (not timed: integrity, and warm-up). */
async function curlVerify(env: StackEnv, ns: Netns, url: string, name: string): Promise<void> {
  const dest = env.lab.path(`verify-${name}`);
  try {
    await ns.execOk(["curl", "-sS", "--fail", "--max-time", "120", "-o", dest, url], {
      timeoutMs: 130_000,
    });
    const sum = await sha256sum(dest);
    if (sum !== env.sha256[name]) throw new Error(`${url}: body differs from ${name}`);
  } finally {
    await Deno.remove(dest).catch(() => {});
  }
}

/** SMALL_REQUESTS sequential GETs of small.bin in one curl; requests/s = N / Σ time_total. */
async function curlRequests(ns: Netns, base: string): Promise<number> {
  const argv = ["curl", "-sS", "--max-time", "120", "-w", "%{http_code} %{time_total}\n"];
  for (let i = 0; i < SMALL_REQUESTS; i++) argv.push("-o", "/dev/null", `${base}/small.bin`);
  const out = await ns.execOk(argv, { timeoutMs: 130_000 });
  const lines = out.trim().split("\n");
  if (lines.length !== SMALL_REQUESTS || lines.some((l) => !l.startsWith("200 "))) {
    throw new Error(`curl small requests: ${lines.length} replies, not all 200:\n${out}`);
  }
  return SMALL_REQUESTS / lines.reduce((s, l) => s + Number(l.split(" ")[1]), 0);
}

/** The curl measurements of one server at `base` (`http://ip:port`), medians of env.runs. */
async function curlFigures(env: StackEnv, ns: Netns, base: string) {
  for (const mib of SIZES_MIB) await curlVerify(env, ns, `${base}/${fileName(mib)}`, fileName(mib));
  const per: number[][] = SIZES_MIB.map(() => []);
  const reqs: number[] = [];
  for (let i = 0; i < env.runs; i++) {
    for (const [k, mib] of SIZES_MIB.entries()) {
      per[k].push(await curlOnce(ns, `${base}/${fileName(mib)}`, mib * 1048576));
    }
    reqs.push(await curlRequests(ns, base));
  }
  return { mibs: per.map(median), reqs: median(reqs) };
}

/** Wait (bounded) until curl from `ns` gets small.bin from `base`. */
async function waitServing(ns: Netns, base: string, server: Background): Promise<void> {
  await waitUntil(`${base} to serve small.bin`, async () => {
    if (server.exitStatus) throw new Error(`server exited early\n${server}`);
    const r = await ns.exec(
      ["curl", "-sS", "--fail", "--max-time", "2", "-o", "/dev/null", `${base}/small.bin`],
      { timeoutMs: 5_000 },
    );
    return r.success;
  }, { timeoutMs: 30_000, intervalMs: 200 });
}

// ---------------------------------------------------------------------------------------------
// Row shapes.

async function guarded(name: string, vs: string | undefined, fn: () => Promise<Row>) {
  try {
    return await fn();
  } catch (e) {
    console.error(`bench stack: row "${name}" failed:\n${errorText(e)}`);
    return { name, vs, skipped: `failed: ${errorText(e).split("\n")[0]}` };
  }
}

/**
 * The frame of every server row: skipped with `opts.skip`'s reason, else a server started by
 * `start` at a fresh address, measured by `measure(ip)` once the kernel side sees it serving, and
 * stopped whatever happens; a failure becomes a skipped row that says why.
 */
function withServer(
  env: StackEnv,
  name: string,
  start: StartServer,
  opts: { skip?: string; vs?: string },
  measure: (ip: string) => Promise<Row>,
): Promise<Row> {
  if (opts.skip) return Promise.resolve({ name, skipped: opts.skip, vs: opts.vs });
  return guarded(name, opts.vs, async () => {
    const cidr = env.nextIp();
    const server = await start(env, cidr);
    try {
      const ip = addrOf(cidr);
      await waitServing(env.kernel, `http://${ip}:${PORT}`, server);
      return await measure(ip);
    } finally {
      await server.stop();
    }
  });
}

/**
 * Kernel curl (in `env.kernel`, on the switch's TAP) ← a server started by `start` on the switch
 * at a fresh address. `skip` (a reason) short-circuits the row.
 */
export function serverRow(
  env: StackEnv,
  name: string,
  start: StartServer,
  opts: { skip?: string; vs?: string } = {},
): Promise<Row> {
  return withServer(env, name, start, opts, async (ip) => ({
    name,
    vs: opts.vs,
    ...(await curlFigures(env, env.kernel, `http://${ip}:${PORT}`)),
  }));
}

/** A user-space client (`fetch`) ← a user-space server (`start`), both on the switch. */
export function pairRow(
  env: StackEnv,
  name: string,
  start: StartServer,
  fetch: Fetch,
  opts: { skip?: string; vs?: string } = {},
): Promise<Row> {
  return withServer(env, name, start, opts, async (ip) => {
    const paths = SIZES_MIB.map((m) => `/${fileName(m)}`);
    const per: number[][] = SIZES_MIB.map(() => []);
    const reqs: number[] = [];
    for (let i = 0; i < env.runs; i++) {
      // A fresh client stack per run, like a fresh curl process.
      const got = await fetch(env, env.nextIp(), ip, paths);
      for (const [k, mib] of SIZES_MIB.entries()) {
        const t = got[k];
        if (!t || t.bytes !== mib * 1048576) {
          throw new Error(`${name}: ${paths[k]} gave ${t?.bytes} bytes`);
        }
        per[k].push(t.bytes / 1048576 / t.seconds);
      }
      const small = await fetch(
        env,
        env.nextIp(),
        ip,
        Array.from({ length: SMALL_REQUESTS }, () => "/small.bin"),
      );
      if (small.length !== SMALL_REQUESTS || small.some((t) => t.bytes !== SMALL_BYTES)) {
        throw new Error(`${name}: small requests: ${small.length} complete replies`);
      }
      reqs.push(SMALL_REQUESTS / small.reduce((s, t) => s + t.seconds, 0));
    }
    return { name, vs: opts.vs, mibs: per.map(median), reqs: median(reqs) };
  });
}

// ---------------------------------------------------------------------------------------------
// LWIPv6 (lwhttp).

/** `lwhttp serve -v DIR -a CIDR` in the peers namespace (LWIPv6 stack on the switch). */
export function lwhttpServe(bin: string): StartServer {
  return async (env, cidr) => {
    const p = env.peers.spawn([
      bin,
      "serve",
      "-v",
      env.switchDir,
      "-a",
      cidr,
      "-p",
      String(PORT),
      "-d",
      env.www,
      "-T",
      "1800",
    ], { name: "lwhttp serve" });
    await p.waitForOutput(/lwhttp: serving/, 15_000);
    return p;
  };
}

/** `lwhttp get -v DIR -a CIDR` in the peers namespace; parses its `path bytes seconds` lines. */
export function lwhttpFetch(bin: string): Fetch {
  return async (env, cidr, server, paths) => {
    const out = await env.peers.execOk([
      bin,
      "get",
      "-v",
      env.switchDir,
      "-a",
      cidr,
      "-c",
      server,
      "-p",
      String(PORT),
      "-T",
      "300",
      ...paths,
    ], { timeoutMs: 310_000 });
    return parseTransfers(out);
  };
}

/** Lines `<path> <bytes> <seconds> <MiB/s>` (lwhttp's client output) into transfers. */
export function parseTransfers(out: string): Transfer[] {
  const got: Transfer[] = [];
  for (const line of out.split("\n")) {
    const m = /^(\S+) (\d+) ([\d.]+) [\d.]+$/.exec(line.trim());
    if (m) got.push({ path: m[1], bytes: Number(m[2]), seconds: Number(m[3]) });
  }
  return got;
}

/** `weft fetch` summary lines (stderr): `200 OK URL: N bytes received, M sent in S s (…)`. */
export function parseWeftFetch(out: string): Transfer[] {
  const got: Transfer[] = [];
  for (const line of out.split("\n")) {
    const m = /^\d{3} .*? (\S+): (\d+) bytes received, \d+ sent in ([\d.]+) s/.exec(line.trim());
    if (m) got.push({ path: new URL(m[1]).pathname, bytes: Number(m[2]), seconds: Number(m[3]) });
  }
  return got;
}

// ---------------------------------------------------------------------------------------------
// weft's stack: `weft serve` (server rows) and `weft fetch` (the client of the pair row). Both are
// detected by `weft CMD --help` exiting 0; until then the rows print why they are skipped.

/** Why `weft CMD` cannot be used (undefined when `weft CMD --help` exits 0). */
export async function weftLacks(command: string): Promise<string | undefined> {
  const r = await run(weftCommand([command, "--help"]), { timeoutMs: 120_000 });
  if (r.success) return undefined;
  const why = (r.stderr.trim() || r.stdout.trim()).split("\n")[0];
  return `\`weft ${command}\` not available yet (exit ${r.code}: ${why})`;
}

/** `weft serve`: a weft stack at CIDR on the VDE switch, serving `env.www` read-only on PORT. */
export const weftServe: StartServer = (env, cidr) => {
  const p = env.peers.spawn(
    weftCommand([
      "serve",
      "--switch",
      `vde://${env.switchDir}`,
      "--ip",
      cidr,
      "--port",
      String(PORT),
      "--dir",
      env.www,
    ]),
    { name: "weft serve" },
  );
  return Promise.resolve(p);
};

/**
 * `weft fetch`: a weft stack at CIDR on the switch GETting each path from SERVER (fresh connection
 * each), reporting what its stderr summary lines say (parseWeftFetch).
 */
export const weftFetch: Fetch = async (env, cidr, server, paths) => {
  const r = await env.peers.exec(
    weftCommand([
      "fetch",
      "--switch",
      `vde://${env.switchDir}`,
      "--ip",
      cidr,
      "-o",
      "/dev/null",
      ...paths.map((p) => `http://${server}:${PORT}${p}`),
    ]),
    { timeoutMs: 310_000 },
  );
  if (!r.success) throw new Error(`weft fetch failed (exit ${r.code}): ${r.stderr.trim()}`);
  return parseWeftFetch(r.stderr);
};

// ---------------------------------------------------------------------------------------------
// Kernel veth (the limit).

async function vethRow(env: StackEnv): Promise<Row> {
  const bin = "path" in env.lwhttp ? env.lwhttp.path : undefined;
  const name = `kernel veth: curl ← ${bin ? "lwhttp -k" : "python3 http.server"} (limit)`;
  return await guarded(name, undefined, async () => {
    const a = await env.lab.netns("vetha");
    const b = await env.lab.netns("vethb");
    await a.ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", b.name);
    await a.addAddress("veth0", "10.79.0.1/24");
    await b.addAddress("veth0", "10.79.0.2/24");
    // A veth end is LOWER_UP only once its peer is up: raise both, then wait.
    await a.ip("link", "set", "veth0", "up");
    await b.linkUp("veth0");
    await a.linkUp("veth0");
    const server = bin
      ? b.spawn([bin, "serve", "-k", "-p", String(PORT), "-d", env.www, "-T", "1800"], {
        name: "lwhttp serve -k",
      })
      : b.spawn(
        ["python3", "-u", "-m", "http.server", "--bind", "10.79.0.2", "-d", env.www, `${PORT}`],
        { name: "http.server" },
      );
    try {
      const base = `http://10.79.0.2:${PORT}`;
      await waitServing(a, base, server);
      return { name, ...(await curlFigures(env, a, base)) };
    } finally {
      await server.stop();
      await a.dispose();
      await b.dispose();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// vde_switch owning the curl namespace's TAP.

/**
 * `vde_switch -d -t tap0` started inside `ns` (so the TAP it creates lives there), stopped at
 * lab teardown by the pid in its pid file — after checking the pid still is this switch.
 */
async function switchWithTap(lab: Lab, ns: Netns): Promise<string> {
  const dir = lab.path("sw");
  const pidFile = `${dir}.pid`;
  const isOurs = async (pid: number) => {
    const cmd = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
    return cmd.includes("vde_switch") && cmd.split("\0").includes(dir) && !/\) Z /.test(stat);
  };
  lab.defer(async () => {
    const pid = Number((await Deno.readTextFile(pidFile).catch(() => "")).trim());
    if (!pid) return;
    for (const sig of ["SIGTERM", "SIGKILL"] as const) {
      if (!(await isOurs(pid))) return;
      killPid(pid, sig);
      for (let i = 0; i < 40 && (await isOurs(pid)); i++) await sleep(50);
    }
  });
  await ns.execOk(
    ["vde_switch", "-d", "-s", dir, "-M", `${dir}.mgmt`, "-p", pidFile, "-t", "tap0"],
    { timeoutMs: 10_000 },
  );
  await waitUntil(`${dir}/ctl`, () => exists(`${dir}/ctl`), { timeoutMs: 5_000 });
  await waitUntil("tap0", async () => (await ns.exec(["ip", "link", "show", "tap0"])).success, {
    timeoutMs: 5_000,
  });
  await ns.addAddress("tap0", `${NET}.1/${PREFIX}`);
  await ns.linkUp("tap0");
  return dir;
}

// ---------------------------------------------------------------------------------------------
// The report.

/** The markdown table of `rows`; a row with `vs` gets its ratio to that row at the largest size. */
export function formatRows(rows: Row[]): string {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const last = SIZES_MIB.length - 1;
  return table(
    [
      "path",
      ...SIZES_MIB.map((m) => `${m} MiB, MiB/s`),
      `req/s (${SMALL_BYTES} B)`,
      `ratio at ${SIZES_MIB[last]} MiB`,
    ],
    rows.map((r) => {
      if (!r.mibs) return [r.name, ...SIZES_MIB.map(() => "–"), "–", `skipped: ${r.skipped}`];
      const base = r.vs ? byName.get(r.vs) : undefined;
      const ratio = base?.mibs ? `${(r.mibs[last] / base.mibs[last]).toFixed(2)}× ${r.vs}` : "";
      return [
        r.name,
        ...r.mibs.map((x) => x.toFixed(1)),
        r.reqs === undefined ? "–" : r.reqs.toFixed(0),
        ratio,
      ];
    }),
  );
}

const LW_SERVER = "kernel curl ← LWIPv6 server (lwhttp)";
const LW_PAIR = "LWIPv6 ⇄ LWIPv6 (lwhttp get ← lwhttp serve)";

/**
 * The fabric the stacks and the kernel's TAP share. Both are measured: vde_switch is the paper's
 * (and LWIPv6's native) setup; the weft switch holds the TAP itself (`tap://` by FFI, batched) and
 * serves the same VDE directory protocol, so LWIPv6 attaches to it unchanged. Each table compares
 * stacks on one fabric, so the fabric's own cost is common to both sides of every ratio.
 */
type Fabric = "vde_switch" | "weft switch";

export async function stackBench(runs: number): Promise<string> {
  await using lab = await Lab.create("bench-stack");
  const www = await lab.mkdir("www");
  const sha256: Record<string, string> = {};
  for (
    const [name, bytes] of [
      ...SIZES_MIB.map((m) => [fileName(m), m * 1048576] as const),
      ["small.bin", SMALL_BYTES] as const,
    ]
  ) {
    await writeRandomFile(`${www}/${name}`, bytes);
    sha256[name] = await sha256sum(`${www}/${name}`);
  }
  const lwhttp = await ensureLwhttp();
  const noServe = await weftLacks("serve");
  const noFetch = noServe ?? await weftLacks("fetch");
  const tables: string[] = [];
  let veth: Row | undefined;
  for (const fabric of ["weft switch", "vde_switch"] as Fabric[]) {
    const kernel = await lab.netns(fabric === "vde_switch" ? "curlv" : "curlw");
    const peers = await lab.netns(fabric === "vde_switch" ? "stacksv" : "stacksw");
    const switchDir = fabric === "vde_switch"
      ? await switchWithTap(lab, kernel)
      : await weftSwitchWithTap(lab, kernel);
    let host = 1;
    const env: StackEnv = {
      lab,
      runs,
      www,
      sha256,
      switchDir,
      kernel,
      peers,
      lwhttp,
      nextIp: () => {
        if (++host > 254) throw new Error(`out of addresses in ${NET}.0/${PREFIX}`);
        return `${NET}.${host}/${PREFIX}`;
      },
    };
    const lwSkip = "skip" in env.lwhttp ? env.lwhttp.skip : undefined;
    const lw = "path" in env.lwhttp ? env.lwhttp.path : "";
    const rows: Row[] = [];
    veth ??= await vethRow(env);
    rows.push(veth);
    rows.push(await serverRow(env, LW_SERVER, lwhttpServe(lw), { skip: lwSkip }));
    rows.push(
      await serverRow(env, "kernel curl ← weft serve", weftServe, {
        skip: noServe,
        vs: LW_SERVER,
      }),
    );
    rows.push(await pairRow(env, LW_PAIR, lwhttpServe(lw), lwhttpFetch(lw), { skip: lwSkip }));
    rows.push(
      await pairRow(env, "weft ⇄ weft (weft fetch ← weft serve)", weftServe, weftFetch, {
        skip: noFetch,
        vs: LW_PAIR,
      }),
    );
    const how = fabric === "vde_switch"
      ? "curl in a namespace whose TAP is owned by a vde_switch (`vde_switch -t`)"
      : "curl in a namespace whose TAP is held by a weft switch (`--connect tap://…?netns=…`)";
    tables.push(
      `### User-space stacks serving HTTP on a ${fabric} (median of ${runs}; fresh TCP ` +
        `connection per GET)\n\nKernel side: ${how}; user-space stacks attach to the same ` +
        `switch directory. req/s: ${SMALL_REQUESTS} GETs in a row; curl reuses one keep-alive ` +
        `connection for them, the user-space clients open one per GET.\n\n` + formatRows(rows),
    );
  }
  tables.push(stackMemoryBench());
  return tables.join("\n\n");
}

/** A weft switch holding `ns`'s TAP (tap0 at NET.1), serving a VDE directory for the stacks. */
async function weftSwitchWithTap(lab: Lab, ns: Netns): Promise<string> {
  const sw = await lab.weftSwitch(["--connect", `tap://tap0?netns=${ns.name}`]);
  await waitUntil("tap0", async () => (await ns.exec(["ip", "link", "show", "tap0"])).success, {
    timeoutMs: 30_000,
  });
  await ns.addAddress("tap0", `${NET}.1/${PREFIX}`);
  await ns.linkUp("tap0");
  return sw.dir;
}
