/**
 * Child processes for real-peer tests: run-to-completion commands with a deadline, and background
 * processes that are stopped by their own process group.
 *
 * Every child is spawned `detached`, which makes it the leader of a new session and process group.
 * Stopping signals the whole group (`kill(-pgid)`), so helpers a child forks (socat's EXEC
 * children, `sh -c` pipelines, the deno process behind a wrapper script) go with it — and nothing
 * else does: no process is ever looked up or killed by name. A daemon that leaves the group on
 * purpose (`vde_switch -d`) is stopped through its pid file instead (vde_switch.ts).
 *
 * Every wait here is bounded: `run` has a deadline, `stop` escalates from SIGTERM to SIGKILL after
 * a grace period, and `waitUntil` gives up after a time and a number of attempts.
 */

const decoder = new TextDecoder();

/** How much of a child's output is kept: the tail is what explains a failure. */
const KEEP_BYTES = 64 * 1024;

export interface RunOptions {
  /** Kill the process group and report `timedOut` after this long (default 30 s). */
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Bytes or text written to stdin, then stdin is closed. Without it stdin is /dev/null. */
  stdin?: Uint8Array | string;
}

export interface RunResult {
  /** The command line, for messages. */
  command: string;
  code: number;
  success: boolean;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/** Run a command to completion with a deadline; never throws for a non-zero exit. */
export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const t0 = performance.now();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: opts.cwd,
    env: opts.env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid, "SIGKILL");
  }, timeoutMs);
  try {
    if (opts.stdin !== undefined) {
      const data = typeof opts.stdin === "string"
        ? new TextEncoder().encode(opts.stdin)
        : opts.stdin;
      const w = child.stdin.getWriter();
      // A child that exits without reading its stdin makes the write fail: its exit status says
      // what happened, so the write error is not the interesting one.
      await w.write(data).catch(() => {});
      await w.close().catch(() => {});
    }
    const out = await child.output();
    return {
      command: argv.join(" "),
      code: out.code,
      success: out.success && !timedOut,
      signal: out.signal,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      timedOut,
      ms: performance.now() - t0,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Run a command and throw, with its output, unless it succeeds. Returns stdout. */
export async function runOk(argv: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (!r.success) throw new Error(describeFailure(r));
  return r.stdout;
}

/** One readable paragraph about a failed command. */
export function describeFailure(r: RunResult): string {
  const how = r.timedOut ? `timed out after ${Math.round(r.ms)} ms` : `exited ${r.code}`;
  return `\`${r.command}\` ${how}\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${
    tail(r.stderr)
  }`;
}

export interface SpawnOptions {
  /** A short label for messages and logs; defaults to the program name. */
  name?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** "piped" exposes `stdin` (a writer); the default is /dev/null. */
  stdin?: "piped" | "null";
  /**
   * "capture" keeps the tail of the output as text (the default), "raw" exposes the byte stream
   * as `stdout` for binary protocols, "null" discards it.
   */
  stdout?: "capture" | "raw" | "null";
}

/** A background process owned by a test, stopped by its process group. */
export class Background implements AsyncDisposable {
  readonly name: string;
  readonly command: string;
  readonly pid: number;
  /** Set when spawned with `stdin: "piped"`. */
  readonly stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** Set when spawned with `stdout: "raw"`. */
  readonly stdout: ReadableStream<Uint8Array> | undefined;
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #exit: Deno.CommandStatus | undefined;
  #out = "";
  #err = "";
  #errTotal = 0;
  #readers: Promise<void>[] = [];
  #changed: (() => void)[] = [];

  constructor(argv: string[], opts: SpawnOptions = {}) {
    this.name = opts.name ?? argv[0].split("/").pop()!;
    this.command = argv.join(" ");
    const stdoutMode = opts.stdout ?? "capture";
    this.#child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: opts.cwd,
      env: opts.env,
      stdin: opts.stdin ?? "null",
      stdout: stdoutMode === "null" ? "null" : "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
    this.pid = this.#child.pid;
    this.stdin = opts.stdin === "piped" ? this.#child.stdin.getWriter() : undefined;
    if (stdoutMode === "raw") this.stdout = this.#child.stdout;
    if (stdoutMode === "capture") {
      this.#readers.push(this.#collect(this.#child.stdout, (s) => this.#out = keep(this.#out + s)));
    }
    this.#readers.push(this.#collect(this.#child.stderr, (s) => {
      this.#errTotal += s.length;
      this.#err = keep(this.#err + s);
    }));
    this.status = this.#child.status.then((s) => {
      this.#exit = s;
      this.#notify();
      return s;
    });
  }

  /** The exit status once the process has exited, else undefined. */
  get exitStatus(): Deno.CommandStatus | undefined {
    return this.#exit;
  }

  /** The tail of the captured stdout. */
  get output(): string {
    return this.#out;
  }

  /** The tail of stderr. */
  get errors(): string {
    return this.#err;
  }

  /** A mark for `errorsSince`: how many characters of stderr have been read so far. */
  get errorMark(): number {
    return this.#errTotal;
  }

  /** The stderr text read after `mark` (as much of it as is still kept). */
  errorsSince(mark: number): string {
    const n = Math.min(this.#errTotal - mark, this.#err.length);
    return n <= 0 ? "" : this.#err.slice(this.#err.length - n);
  }

  /** Wait until stdout or stderr matches `re`; fail when the process exits or time runs out. */
  async waitForOutput(re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = performance.now() + timeoutMs;
    for (let i = 0; i < 100_000; i++) {
      const m = this.#out.match(re) ?? this.#err.match(re);
      if (m) return m;
      if (this.#exit) {
        throw new Error(`${this.name} exited (${this.#exit.code}) before printing ${re}\n${this}`);
      }
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.#nextChange(Math.min(left, 250));
    }
    throw new Error(`${this.name} did not print ${re} within ${timeoutMs} ms\n${this}`);
  }

  /** Wait for the exit, at most `timeoutMs`; undefined when still running. */
  async waitExit(timeoutMs: number): Promise<Deno.CommandStatus | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), timeoutMs));
    try {
      return await Promise.race([this.status, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Send a signal to the process only (not its group), e.g. SIGUSR2 for a counter dump. */
  signal(sig: Deno.Signal): void {
    if (!this.#exit) Deno.kill(this.pid, sig);
  }

  /**
   * Stop the process group: close stdin, SIGTERM, then SIGKILL after `graceMs`. Idempotent.
   * Resolves once the process has exited and its output is drained (bounded).
   */
  async stop(graceMs = 2_000): Promise<Deno.CommandStatus> {
    await this.stdin?.close().catch(() => {});
    if (!this.#exit) killGroup(this.pid, "SIGTERM");
    if (!(await this.waitExit(graceMs))) killGroup(this.pid, "SIGKILL");
    const status = await this.status;
    // Even after SIGKILL a stray grandchild that left the group could hold a pipe open; the
    // test must still end, so draining is bounded too.
    killGroup(this.pid, "SIGKILL");
    await this.#drain(2_000);
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  toString(): string {
    const state = this.#exit ? `exited ${this.#exit.code}` : `running, pid ${this.pid}`;
    return `[${this.name}: ${state}] ${this.command}\n--- stdout ---\n${
      tail(this.#out)
    }\n--- stderr ---\n${tail(this.#err)}`;
  }

  async #drain(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((r) => timer = setTimeout(r, timeoutMs));
    await Promise.race([Promise.all(this.#readers), late]);
    clearTimeout(timer);
    if (this.stdout && !this.stdout.locked) await this.stdout.cancel().catch(() => {});
  }

  async #collect(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of stream) {
        add(dec.decode(chunk, { stream: true }));
        this.#notify();
      }
    } catch {
      // The pipe broke with the process: what was read is kept.
    }
  }

  #notify(): void {
    const waiters = this.#changed;
    this.#changed = [];
    for (const w of waiters) w();
  }

  #nextChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#changed.push(done);
    });
  }
}

/** Start a background process. Stop it with `stop()` or `await using`. */
export function spawn(argv: string[], opts: SpawnOptions = {}): Background {
  return new Background(argv, opts);
}

/** Signal a process group; a group that is already gone is not an error. */
export function killGroup(pgid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(-pgid, sig);
  } catch {
    // ESRCH: the group has exited.
  }
}

/** Signal one process by pid; a process that is already gone is not an error. */
export function killPid(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // ESRCH
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Poll `check` until it returns a value other than undefined/false, at most `timeoutMs` (default
 * 10 s) and a bounded number of attempts. `what` names the condition in the error.
 */
export async function waitUntil<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = performance.now() + timeoutMs;
  const attempts = Math.ceil(timeoutMs / intervalMs) + 1;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (performance.now() >= deadline) break;
    await sleep(intervalMs);
  }
  const why = lastError === undefined ? "" : ` (last error: ${errorText(lastError)})`;
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Whether a path exists (any kind of file). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

function keep(s: string): string {
  return s.length > KEEP_BYTES ? s.slice(s.length - KEEP_BYTES) : s;
}

function tail(s: string, max = 4_000): string {
  const t = s.trimEnd();
  return t.length > max ? "…" + t.slice(t.length - max) : t;
}

/** Quote one word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Write an executable `#!/bin/sh` script that execs `argv` (plus its own arguments). For tools
 * that take a command as one string with their own parsing rules (socat's EXEC splits on spaces
 * and treats `:` and `,` specially): give them the script's path instead of the command line.
 */
export async function writeExecScript(path: string, argv: string[]): Promise<string> {
  await Deno.writeTextFile(path, `#!/bin/sh\nexec ${argv.map(shellQuote).join(" ")} "$@"\n`, {
    mode: 0o755,
  });
  return path;
}
