/**
 * Running weft itself from tests, the way users run it: as a separate process through the CLI.
 *
 * `WEFT_BIN` selects an executable (CI runs the suite a second time against the compiled
 * `dist/weft`); otherwise the tests run the sources with the same deno that runs the tests.
 */

import {
  type Background,
  exists,
  run,
  type RunOptions,
  type RunResult,
  spawn,
  type SpawnOptions,
  waitUntil,
} from "./process.ts";

/** The repository root (this file is tests/_harness/weft.ts). */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

const API_BY_DEFAULT = new Set(["serve", "router", "gateway", "cable"]);

/** The argv that runs `weft ARGS…`: `$WEFT_BIN ARGS…` or `deno run -A --unstable-net main.ts ARGS…`. */
export function weftCommand(args: string[]): string[] {
  // These commands serve the API on 127.0.0.1:7780 by default: tests running in parallel would
  // fight over it (and write tokens to the default state directory). Tests of the API pass --api.
  if (
    API_BY_DEFAULT.has(args[0]) && !args.some((a) => a === "--api" || a.startsWith("--api="))
  ) {
    args = [args[0], "--api", "none", ...args.slice(1)];
  }
  const bin = Deno.env.get("WEFT_BIN");
  if (bin) return [bin, ...args];
  return [Deno.execPath(), "run", "-A", "--unstable-net", `${REPO_ROOT}/main.ts`, ...args];
}

/** Run `weft ARGS…` to completion (bounded). */
export function runWeft(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(weftCommand(args), { timeoutMs: 30_000, ...opts });
}

/** Start `weft ARGS…` in the background. */
export function spawnWeft(args: string[], opts: SpawnOptions = {}): Background {
  return spawn(weftCommand(args), { name: `weft ${args[0] ?? ""}`.trim(), ...opts });
}

/** `weft up FILE --state STATE` in the background, once its API answers and its node is up. */
export async function startWeftUp(file: string, state: string) {
  const up = spawnWeft(["up", file, "--state", state], { name: "weft up" });
  try {
    const url = await waitUntil("the api ready line", () => {
      if (up.exitStatus) throw new Error(`weft up exited:\n${up}`);
      return /api ready url=(\S+)/.exec(up.errors)?.[1];
    }, { timeoutMs: 30_000 });
    await waitUntil("node up", () => /node up/.test(up.errors), { timeoutMs: 10_000 });
    return { url, [Symbol.asyncDispose]: () => up[Symbol.asyncDispose]() };
  } catch (e) {
    await up.stop();
    throw e;
  }
}

/** A `weft switch` process serving the VDE ctl protocol in `dir`. */
export class WeftSwitch implements AsyncDisposable {
  readonly dir: string;
  readonly process: Background;

  private constructor(dir: string, process: Background) {
    this.dir = dir;
    this.process = process;
  }

  /**
   * Start `weft switch --sock DIR [extra…]` and wait (bounded, default 30 s: the first run may
   * type-check main.ts) until `DIR/ctl` exists. With `netns`, the switch runs inside that
   * network namespace (`ip netns exec` execs it, so the pid is the switch's own).
   */
  static async start(
    dir: string,
    extra: string[] = [],
    timeoutMs = 30_000,
    netns?: string,
  ): Promise<WeftSwitch> {
    // Many switches run at once in tests: no management API unless a test asks for one.
    const api = extra.some((a) => a === "--api" || a.startsWith("--api=")) ? [] : ["--api", "none"];
    const args = ["switch", "--sock", dir, ...api, ...extra];
    const p = netns
      ? spawn(["ip", "netns", "exec", netns, ...weftCommand(args)], {
        name: `weft switch@${netns}`,
      })
      : spawnWeft(args, { name: "weft switch" });
    const sw = new WeftSwitch(dir, p);
    try {
      await waitUntil(`weft switch to create ${dir}/ctl`, async () => {
        if (p.exitStatus) throw new Error(`weft switch exited early (${p.exitStatus.code})`);
        return await exists(`${dir}/ctl`);
      }, { timeoutMs, intervalMs: 50 });
    } catch (e) {
      await p.stop();
      throw new Error(`${e instanceof Error ? e.message : e}\n${p}`);
    }
    return sw;
  }

  get url(): string {
    return `vde://${this.dir}`;
  }

  get pid(): number {
    return this.process.pid;
  }

  /** Resident set size of the switch process in KiB (/proc/PID/status VmRSS). */
  async rssKiB(): Promise<number> {
    return await rssKiB(this.pid);
  }

  /**
   * Ask the running switch for its counters: SIGUSR2 makes it print a `counters {…}` line on
   * stderr; wait (bounded) for that new line and parse it.
   */
  async counters(timeoutMs = 5_000): Promise<SwitchCounters> {
    const mark = this.process.errorMark;
    this.process.signal("SIGUSR2");
    return await waitUntil("a counters report on SIGUSR2", () => {
      const fresh = parseCounterReports(this.process.errorsSince(mark));
      return fresh.length > 0 ? fresh[fresh.length - 1] : undefined;
    }, { timeoutMs });
  }

  async stop(): Promise<Deno.CommandStatus> {
    return await this.process.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** VmRSS of a process in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`No VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/** The JSON a `weft switch` prints as `counters {…}` on SIGUSR2 and at exit (switch_report.ts). */
export interface SwitchCounters {
  switch: string;
  fdb: { size: number; limit: number; refusals: number; aged: number };
  ctlRefused: Record<string, number>;
  ports: Array<Record<string, unknown> & { port: number }>;
}

/** Every `counters {…}` report in a switch's stderr, oldest first. */
export function parseCounterReports(stderr: string): SwitchCounters[] {
  const out: SwitchCounters[] = [];
  for (const m of stderr.matchAll(/^\S+ counters (\{.*\})\n/gm)) out.push(JSON.parse(m[1]));
  return out;
}
