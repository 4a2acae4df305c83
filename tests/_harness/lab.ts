/**
 * The lab: one real-peer test's resources — temporary directory, namespaces, switches, background
 * processes — created through it and torn down in reverse order when the test ends, pass or fail.
 *
 * `peerTest` registers such a test: it checks the requirements up front (an unmet one makes the
 * test *ignored with the reason in its name*), bounds the test's run time, and appends the output
 * of every background process to the error when the test fails, because a failed ping says
 * nothing about *why* without the switch's and the plugs' stderr.
 *
 * ```ts
 * peerTest("two hosts ping", { tools: ["vde_plug", "ping"] }, async (lab) => {
 *   const sw = await lab.weftSwitch();
 *   const a = await lab.host("a", sw.dir, { ipv4: "10.0.0.1/24" });
 *   const b = await lab.host("b", sw.dir, { ipv4: "10.0.0.2/24" });
 *   await a.ns.waitReachable(b.ipv4!);
 * });
 * ```
 */

import { gate, type Requirements } from "./requirements.ts";
import { Netns, type TapPlug } from "./netns.ts";
import { type Background, errorText, spawn, type SpawnOptions } from "./process.ts";
import { VdeSwitch } from "./vde_switch.ts";
import { spawnWeft, WeftSwitch } from "./weft.ts";

export interface HostOptions {
  via?: TapPlug;
  /** Switch port to ask for. */
  port?: number;
  tap?: string;
  /** IPv4 address with prefix, e.g. `10.0.0.1/24`. */
  ipv4?: string;
  /** IPv6 address with prefix, e.g. `fd00::1/64` (added with nodad). */
  ipv6?: string;
}

/** A namespace whose TAP is plugged into a switch. */
export interface Host {
  ns: Netns;
  tap: string;
  /** The vde_plug / vde_plug2tap process. */
  plug: Background;
  /** Addresses without prefix length. */
  ipv4?: string;
  ipv6?: string;
}

export class Lab implements AsyncDisposable {
  readonly name: string;
  /** The test's temporary directory (removed at the end). */
  readonly dir: string;
  readonly #stack = new AsyncDisposableStack();
  readonly #procs: Background[] = [];
  #switches = 0;

  private constructor(name: string, dir: string) {
    this.name = name;
    this.dir = dir;
  }

  static async create(name: string): Promise<Lab> {
    const dir = await Deno.makeTempDir({ prefix: "wft-" });
    const lab = new Lab(name, dir);
    lab.#stack.defer(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
    return lab;
  }

  /** Run `fn` at teardown (before everything created earlier is torn down). */
  defer(fn: () => Promise<void> | void): void {
    this.#stack.defer(fn);
  }

  /** Register something disposable for teardown and return it. */
  use<T extends AsyncDisposable | Disposable | null | undefined>(thing: T): T {
    return this.#stack.use(thing);
  }

  /** A path inside the lab's directory. */
  path(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** A fresh sub-directory of the lab's directory. */
  async mkdir(name: string): Promise<string> {
    const p = this.path(name);
    await Deno.mkdir(p, { recursive: true });
    return p;
  }

  /** A new namespace with loopback up, deleted at teardown. */
  async netns(label: string): Promise<Netns> {
    return this.use(await Netns.create(label, (p) => this.#procs.push(p)));
  }

  /**
   * A host: a namespace with a TAP plugged into the switch at `switchDir` by the real VDE tool
   * `via`, up, with the given addresses.
   */
  async host(label: string, switchDir: string, opts: HostOptions = {}): Promise<Host> {
    const ns = await this.netns(label);
    const tap = opts.tap ?? "tap0";
    const plug = await ns.plugTap(switchDir, { tap, via: opts.via, port: opts.port });
    if (opts.ipv4) await ns.addAddress(tap, opts.ipv4);
    if (opts.ipv6) await ns.addAddress(tap, opts.ipv6);
    return {
      ns,
      tap,
      plug,
      ipv4: opts.ipv4?.split("/")[0],
      ipv6: opts.ipv6?.split("/")[0],
    };
  }

  /** A real vde2 vde_switch daemon in a fresh directory of the lab. */
  async vdeSwitch(extra: string[] = []): Promise<VdeSwitch> {
    return this.use(await VdeSwitch.start(this.path(`vde${++this.#switches}`), extra));
  }

  /**
   * A `weft switch --sock DIR extra…` in a fresh directory of the lab; inside namespace `netns`
   * when given (a "host" of a multi-host test).
   */
  async weftSwitch(extra: string[] = [], netns?: Netns): Promise<WeftSwitch> {
    const dir = this.path(`weft${++this.#switches}`);
    const sw = this.use(await WeftSwitch.start(dir, extra, 30_000, netns?.name));
    this.#procs.push(sw.process);
    return sw;
  }

  /** Start a background process on the host side, stopped at teardown. */
  spawn(argv: string[], opts: SpawnOptions = {}): Background {
    const p = this.use(spawn(argv, opts));
    this.#procs.push(p);
    return p;
  }

  /** Start `weft ARGS…` in the background, stopped at teardown. */
  spawnWeft(args: string[], opts: SpawnOptions = {}): Background {
    const p = this.use(spawnWeft(args, opts));
    this.#procs.push(p);
    return p;
  }

  /** State and output tail of every background process, for failure messages. */
  diagnostics(): string {
    return this.#procs.map((p) => p.toString()).join("\n\n");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stack.disposeAsync();
  }
}

export interface PeerTestOptions {
  /** Upper bound for the whole test including setup and teardown of the body (default 60 s). */
  timeoutMs?: number;
}

/**
 * Register a real-peer test. Requirements default to root + the listed tools; when one is
 * missing the test is registered as ignored, with the reason in its name.
 */
export function peerTest(
  name: string,
  req: Requirements,
  fn: (lab: Lab) => Promise<void>,
  opts: PeerTestOptions = {},
): void {
  const g = gate(req);
  Deno.test({
    name: g.name(name),
    ignore: g.ignore,
    async fn() {
      await runInLab(name, fn, opts.timeoutMs ?? 60_000);
    },
  });
}

async function runInLab(name: string, fn: (lab: Lab) => Promise<void>, timeoutMs: number) {
  const lab = await Lab.create(name);
  let failure: unknown;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = fn(lab);
  try {
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), timeoutMs));
    if (await Promise.race([body, late]) === "late") {
      failure = new Error(`"${name}" did not finish within ${timeoutMs} ms`);
    }
  } catch (e) {
    failure = e;
  } finally {
    clearTimeout(timer);
  }
  const diagnostics = failure === undefined ? "" : lab.diagnostics();
  let teardown: unknown;
  try {
    await lab[Symbol.asyncDispose]();
  } catch (e) {
    teardown = e;
  }
  if (failure !== undefined) {
    // After a timeout the body may still be awaiting something the teardown just killed: let it
    // settle (bounded) so it does not outlive the test.
    let t2: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([body.catch(() => {}), new Promise((r) => t2 = setTimeout(r, 5_000))]);
    clearTimeout(t2);
    const msg = `${errorText(failure)}\n\n=== background processes ===\n${diagnostics}`;
    throw new Error(msg, { cause: failure });
  }
  if (teardown !== undefined) throw new Error(`Teardown failed: ${errorText(teardown)}`);
}
