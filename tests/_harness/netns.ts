/**
 * Network namespaces as test hosts: each one is a small Linux machine with its own kernel TCP/IP
 * stack, and a TAP inside it plugged into a switch (weft's or vde_switch) is that host's NIC. The
 * kernel is the strictest peer we have: its ARP, NDP, ICMP and TCP must all accept what the
 * switch delivers.
 *
 * Names are unique per test run (`wft-LABEL-PID-RAND`), so parallel tests never share a namespace,
 * and the same addresses can be reused in every test. Disposal stops what the test started inside
 * the namespace and deletes it, also when the test failed.
 */

import {
  type Background,
  describeFailure,
  killPid,
  run,
  runOk,
  type RunOptions,
  type RunResult,
  spawn,
  type SpawnOptions,
  waitUntil,
} from "./process.ts";

/** How a TAP in a namespace is connected to a VDE switch directory. */
export type TapPlug =
  /** vdeplug4: `vde_plug vde://DIR[PORT] tap://TAP` (libvdeplug_tap creates the TAP). */
  | "vde_plug"
  /** vde2: `vde_plug2tap -s DIR [-p PORT] TAP` (opens /dev/net/tun itself). */
  | "vde_plug2tap";

export interface PlugTapOptions {
  /** TAP name inside the namespace (≤ 15 bytes); default `tap0`. */
  tap?: string;
  via?: TapPlug;
  /** Ask the switch for this port number. */
  port?: number;
}

export interface PingOptions {
  count?: number;
  /** Seconds between echo requests (≥ 0.002 as root). */
  interval?: number;
  /** Per-reply timeout, seconds. */
  wait?: number;
  /** `-w`: stop after `count` replies or this many seconds (see `ping`). */
  deadline?: number;
  /** Echo payload size in bytes (`-s`). */
  size?: number;
  /** Source interface or address (`-I`). */
  from?: string;
}

export interface PingResult {
  sent: number;
  received: number;
  /** Mean round-trip time in ms, when any reply came back. */
  avgMs: number | undefined;
  output: string;
}

/** Build a namespace name that no parallel test uses. */
export function uniqueName(label: string): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 8) || "ns";
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36).slice(0, 5);
  return `wft-${clean}-${Deno.pid.toString(36)}-${rand}`;
}

export class Netns implements AsyncDisposable {
  readonly name: string;
  readonly #procs: Background[] = [];
  readonly #onSpawn: ((p: Background) => void) | undefined;
  #deleted = false;

  private constructor(name: string, onSpawn?: (p: Background) => void) {
    this.name = name;
    this.#onSpawn = onSpawn;
  }

  /**
   * Create a namespace with loopback up. `onSpawn` sees every process started inside it (the lab
   * uses it to print their output when a test fails).
   */
  static async create(label = "ns", onSpawn?: (p: Background) => void): Promise<Netns> {
    const name = uniqueName(label);
    await runOk(["ip", "netns", "add", name], { timeoutMs: 10_000 });
    const ns = new Netns(name, onSpawn);
    try {
      await runOk(["ip", "-n", name, "link", "set", "lo", "up"], { timeoutMs: 10_000 });
    } catch (e) {
      await ns.dispose();
      throw e;
    }
    return ns;
  }

  /** Run a command inside the namespace (`ip netns exec`, which keeps the pid). */
  exec(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(["ip", "netns", "exec", this.name, ...argv], opts);
  }

  /** Run inside the namespace and throw with the output unless it succeeds; returns stdout. */
  execOk(argv: string[], opts: RunOptions = {}): Promise<string> {
    return runOk(["ip", "netns", "exec", this.name, ...argv], opts);
  }

  /**
   * Start a background process inside the namespace. The namespace stops it when disposed (and
   * the test's lab usually stops it earlier, in reverse order of creation).
   */
  spawn(argv: string[], opts: SpawnOptions = {}): Background {
    const p = spawn(["ip", "netns", "exec", this.name, ...argv], {
      name: `${this.name}:${opts.name ?? argv[0]}`,
      ...opts,
    });
    this.#procs.push(p);
    this.#onSpawn?.(p);
    return p;
  }

  /** `ip -n NS ARGS…`. */
  ip(...args: string[]): Promise<string> {
    return runOk(["ip", "-n", this.name, ...args], { timeoutMs: 10_000 });
  }

  /**
   * Plug a TAP inside this namespace into the VDE switch at `switchDir` with a real VDE tool, wait
   * until the TAP exists, and bring it up. Returns the plug process.
   */
  async plugTap(switchDir: string, opts: PlugTapOptions = {}): Promise<Background> {
    const tap = opts.tap ?? "tap0";
    const via = opts.via ?? "vde_plug";
    const argv = via === "vde_plug"
      ? [
        "vde_plug",
        `vde://${switchDir}${opts.port === undefined ? "" : `[${opts.port}]`}`,
        `tap://${tap}`,
      ]
      : [
        "vde_plug2tap",
        "-s",
        switchDir,
        ...(opts.port === undefined ? [] : ["-p", String(opts.port)]),
        tap,
      ];
    const plug = this.spawn(argv, { name: via });
    await waitUntil(`${tap} to appear in ${this.name} (${via})`, async () => {
      if (plug.exitStatus) throw new Error(`${plug}`);
      return (await this.exec(["ip", "link", "show", tap], { timeoutMs: 5_000 })).success;
    }, { timeoutMs: 10_000, intervalMs: 50 }).catch((e) => {
      throw new Error(`${e instanceof Error ? e.message : e}\n${plug}`);
    });
    await this.linkUp(tap);
    return plug;
  }

  /** Bring a link up and wait (bounded) until the kernel reports it running (LOWER_UP). */
  async linkUp(dev: string): Promise<void> {
    await this.ip("link", "set", dev, "up");
    await waitUntil(`${dev} LOWER_UP in ${this.name}`, async () => {
      const out = await this.ip("-o", "link", "show", dev);
      return /[<,]LOWER_UP[,>]/.test(out) && /[<,]UP[,>]/.test(out);
    }, { timeoutMs: 10_000 });
  }

  /**
   * Add an address in CIDR form. IPv6 addresses get `nodad`, so they are usable at once instead of
   * after duplicate address detection (~1 s and a source of flakiness).
   */
  async addAddress(dev: string, cidr: string): Promise<void> {
    const v6 = cidr.includes(":");
    await this.ip(...(v6 ? ["-6"] : []), "addr", "add", cidr, "dev", dev, ...(v6 ? ["nodad"] : []));
  }

  /**
   * Create an 802.1Q subinterface `PARENT.VID` (or `name`), bring it up and return its name. Needs
   * a kernel with CONFIG_VLAN_8021Q; where it is missing, send tagged frames with `sendRaw`.
   */
  async addVlan(parent: string, vid: number, name = `${parent}.${vid}`): Promise<string> {
    await this.ip("link", "add", "link", parent, "name", name, "type", "vlan", "id", String(vid));
    await this.linkUp(name);
    return name;
  }

  /**
   * Transmit exact frames on `dev` through an AF_PACKET raw socket (python3), e.g. 802.1Q-tagged
   * frames on a kernel without VLAN support (CONFIG_VLAN_8021Q is off on some CI kernels, so
   * `addVlan` is not always available). The kernel passes raw frames to the TAP unchanged.
   */
  async sendRaw(dev: string, frames: Uint8Array[]): Promise<void> {
    const script = [
      "import socket, sys",
      "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)",
      "s.bind((sys.argv[1], 0))",
      "for h in sys.argv[2:]: s.send(bytes.fromhex(h))",
    ].join("\n");
    const hexes = frames.map((f) => Array.from(f, (b) => b.toString(16).padStart(2, "0")).join(""));
    await this.execOk(["python3", "-c", script, dev, ...hexes], { timeoutMs: 10_000 });
  }

  /** The MAC address of a link, lower case `aa:bb:…`. */
  async mac(dev: string): Promise<string> {
    const out = await this.ip("-o", "link", "show", dev);
    const m = /link\/ether ([0-9a-f:]{17})/.exec(out);
    if (!m) throw new Error(`No MAC address for ${dev} in ${this.name}: ${out}`);
    return m[1];
  }

  /**
   * Ping from this namespace. Without `deadline`, exactly `count` echoes are sent and ping waits
   * `wait` seconds for the last reply, so `sent - received` is the loss. With `deadline` (`-w`),
   * ping keeps sending until `count` replies arrived or the deadline passed — a reachability probe.
   * Either way the run is bounded (and a process timeout sits on top).
   */
  async ping(addr: string, opts: PingOptions = {}): Promise<PingResult> {
    const count = opts.count ?? 3;
    const interval = opts.interval ?? 0.2;
    const wait = opts.wait ?? 1;
    const argv = [
      "ping",
      "-n",
      "-q",
      "-c",
      String(count),
      "-i",
      String(interval),
      "-W",
      String(wait),
      ...(opts.deadline === undefined ? [] : ["-w", String(opts.deadline)]),
      ...(opts.size === undefined ? [] : ["-s", String(opts.size)]),
      ...(opts.from === undefined ? [] : ["-I", opts.from]),
      addr,
    ];
    const bound = opts.deadline ?? count * interval + wait;
    const r = await this.exec(argv, { timeoutMs: Math.ceil(bound + 5) * 1000 });
    const stats = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(r.stdout);
    const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
    return {
      sent: stats ? Number(stats[1]) : 0,
      received: stats ? Number(stats[2]) : 0,
      avgMs: rtt ? Number(rtt[1]) : undefined,
      output: `${this.name}$ ${argv.join(" ")}\n${r.stdout}${r.stderr}`,
    };
  }

  /**
   * Wait until `addr` answers at least one echo (ARP/NDP resolved, path up): single pings, at most
   * `timeoutMs`. Returns the output of the last attempt for diagnostics.
   */
  async waitReachable(addr: string, timeoutMs = 10_000): Promise<void> {
    let last = "";
    await waitUntil(`${addr} to answer ping from ${this.name}`, async () => {
      const r = await this.ping(addr, { count: 1, wait: 1, deadline: 2 });
      last = r.output;
      return r.received > 0;
    }, { timeoutMs, intervalMs: 100 }).catch((e) => {
      throw new Error(`${e instanceof Error ? e.message : e}\n${last}`);
    });
  }

  /** Pids of processes still inside the namespace (`ip netns pids`). */
  async pids(): Promise<number[]> {
    const r = await run(["ip", "netns", "pids", this.name], { timeoutMs: 5_000 });
    return r.stdout.split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number);
  }

  /**
   * Stop the processes started here, then any straggler still inside this namespace (it can only
   * be one of ours: the name is unique to this test), then delete the namespace. Idempotent.
   */
  async dispose(): Promise<void> {
    if (this.#deleted) return;
    this.#deleted = true;
    for (const p of this.#procs.reverse()) await p.stop();
    for (let i = 0; i < 3; i++) {
      const left = await this.pids();
      if (left.length === 0) break;
      for (const pid of left) killPid(pid, "SIGKILL");
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await run(["ip", "netns", "del", this.name], { timeoutMs: 10_000 });
    if (!r.success && !/No such file/.test(r.stderr)) throw new Error(describeFailure(r));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
