/**
 * A real vde2 `vde_switch`, the reference peer for weft's VDE compatibility.
 *
 * It runs as a daemon (`-d`), because in the foreground it exits when its stdin reaches EOF
 * (TESTING.md); a daemon leaves our process group, so it is stopped by the pid from its pid file —
 * after checking that this pid still is that very switch.
 */

import { exists, killPid, runOk, sleep, waitUntil } from "./process.ts";

export class VdeSwitch implements AsyncDisposable {
  /** The switch directory (the VNL is `vde://` + dir). */
  readonly dir: string;
  /** The management console socket (`-M`). */
  readonly mgmt: string;
  readonly pidFile: string;
  readonly pid: number;
  #stopped = false;

  private constructor(dir: string, pid: number) {
    this.dir = dir;
    this.mgmt = `${dir}.mgmt`;
    this.pidFile = `${dir}.pid`;
    this.pid = pid;
  }

  /**
   * Start `vde_switch -d -s DIR -M DIR.mgmt -p DIR.pid [extra…]` and wait until `DIR/ctl`
   * accepts clients. DIR must not exist yet (the switch creates it).
   */
  static async start(dir: string, extra: string[] = []): Promise<VdeSwitch> {
    const pidFile = `${dir}.pid`;
    await runOk(["vde_switch", "-d", "-s", dir, "-M", `${dir}.mgmt`, "-p", pidFile, ...extra], {
      timeoutMs: 10_000,
    });
    const pid = await waitUntil(`${pidFile} to hold a pid`, async () => {
      const text = await Deno.readTextFile(pidFile).catch(() => "");
      return /^\d+\s*$/.test(text) ? Number(text.trim()) : undefined;
    }, { timeoutMs: 5_000 });
    const sw = new VdeSwitch(dir, pid);
    try {
      await waitUntil(`${dir}/ctl`, () => exists(`${dir}/ctl`), { timeoutMs: 5_000 });
    } catch (e) {
      await sw.stop();
      throw e;
    }
    return sw;
  }

  /** The URL weft uses for this switch. */
  get url(): string {
    return `vde://${this.dir}`;
  }

  /**
   * Run one console command (e.g. `port/print`) on the management socket and return the output
   * between the `0000 DATA END WITH '.'` line and the `.` line (or the whole reply when the
   * command prints no data). Throws unless the result line is `1000 Success`.
   */
  async console(command: string): Promise<string> {
    const out = await runOk(["socat", "-t", "1", "-", `UNIX-CONNECT:${this.mgmt}`], {
      stdin: `${command}\n`,
      timeoutMs: 10_000,
    });
    if (!/(?:^|\$ )1000 Success/m.test(out)) {
      throw new Error(`vde_switch "${command}" failed:\n${out}`);
    }
    const data = /0000 DATA END WITH '\.'\n([\s\S]*?)\n\.\n/.exec(out);
    return data ? data[1] : out;
  }

  /** Stop the daemon by its pid (SIGTERM, then SIGKILL), bounded; it removes its own sockets. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (!(await this.#isOurs())) return;
    killPid(this.pid, "SIGTERM");
    for (let i = 0; i < 40 && (await this.#isOurs()); i++) await sleep(50);
    if (await this.#isOurs()) killPid(this.pid, "SIGKILL");
    for (let i = 0; i < 40 && (await this.#isOurs()); i++) await sleep(50);
    // After a SIGKILL the switch cannot clean up: remove what it leaves behind.
    for (const p of [this.mgmt, this.pidFile]) await Deno.remove(p).catch(() => {});
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Whether the pid is still this switch (not a recycled pid of someone else's process). */
  async #isOurs(): Promise<boolean> {
    const cmdline = await Deno.readTextFile(`/proc/${this.pid}/cmdline`).catch(() => "");
    if (cmdline === "") return false;
    const stat = await Deno.readTextFile(`/proc/${this.pid}/stat`).catch(() => "");
    if (/^\d+ \(.*\) Z /.test(stat)) return false; // a zombie is gone for our purposes
    return cmdline.split("\0").includes(this.dir) && cmdline.includes("vde_switch");
  }
}
