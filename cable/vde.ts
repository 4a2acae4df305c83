/**
 * `vde:///DIR[?port=N]` — a VDE switch directory: a vde2 `vde_switch`, a vdeplug4 switch, or a
 * weft switch serving the same protocol. Also `vde://DIR` (relative to the working directory),
 * `vde:DIR`, and `vde:` alone for the default switch (`/var/run/vde.ctl`, then `/tmp/vde.ctl`,
 * as vdeplug4). `?port=N` asks for port N (0: the management port, REQ_NEW_PORT0).
 *
 * The protocol (docs/PROTOCOLS.md §1; vde-2 `src/vde_switch/datasock.c`, vdeplug4
 * `libvdeplug4/libvdeplug_vde.c`): the client binds a datagram socket in the switch directory,
 * sends a request naming it on the `<dir>/ctl` stream, and gets back the path of the switch's
 * data socket for its port, which it connects to. Frames then flow one per datagram
 * (cable/unix_dgram.ts) and the stream stays open: EOF on it, from either side, ends the port.
 *
 * This module has both sides: `openVde` (client) and `VdeServer` (a switch's ctl listener, so
 * that `vde_plug`, `vde_plug2tap` and QEMU `-netdev vde` attach to a weft switch).
 */

import type { Endpoint } from "../core/endpoint.ts";
import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError, ConflictError, parseIntIn } from "../core/errors.ts";
import type { EventBus } from "../core/events.ts";
import { type Logger, silentLogger } from "../core/log.ts";
import {
  bindUnix,
  chmodPath,
  closeFd,
  connectUnix,
  EADDRINUSE,
  errnoName,
  libc,
  SOCK_DGRAM,
  unixSocket,
  unlinkPath,
} from "./ffi/libc.ts";
import { registerKind } from "./registry.ts";
import type { EndpointKind } from "./registry.ts";
import { UnixDgramEndpoint } from "./unix_dgram.ts";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  REPLY_SIZE,
  REQUEST_MAX,
  REQUEST_V1_HEADER,
  REQUEST_V3_HEADER,
  SWITCH_MAGIC,
} from "./vde_ctl.ts";

/** vdeplug4's default switch directories, tried in order for an empty `vde:` URL. */
const DEFAULT_DIRS = ["/var/run/vde.ctl", "/tmp/vde.ctl"];
/** Longest switch directory path accepted: `<dir>/NNN.FD` must fit in sun_path (108 bytes). */
const MAX_DIR_BYTES = 90;
const DEFAULT_TIMEOUT_MS = 5000;

// ---------------------------------------------------------------------------------------------
// Client

export interface OpenVdeOptions {
  /** Ask for this port (0: the management port). Any free port otherwise. */
  port?: number;
  /** Description shown by the switch (`port/print`); ` user=… pid=…` is appended, as vdeplug4. */
  description?: string;
  /** Handshake deadline in milliseconds (default 5,000). */
  timeoutMs?: number;
  /** Largest frame (default 65,535; a vde2 vde_switch itself takes at most 1,518). */
  mtu?: number;
  /** The URL as the user wrote it, for messages; `vde://<dir>` otherwise. */
  url?: string;
}

let dataSocketCounter = 0;

/**
 * Attach to the VDE switch in `dir`. Resolves to the endpoint once the switch has answered;
 * rejects with a ConfigError that names the URL and the cause otherwise.
 */
export async function openVde(dir: string, opts: OpenVdeOptions = {}): Promise<UnixDgramEndpoint> {
  const shown = opts.url ?? `vde://${dir}`;
  const fail = (why: string) => new ConfigError(`Cannot open endpoint "${shown}": ${why}`);
  const where = await findSwitchDir(dir, fail);
  const ctlPath = `${where}/ctl`;

  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: ctlPath });
  } catch (e) {
    throw fail(`no VDE switch at ${where} (${connectFailure(e)})`);
  }

  let fd = -1;
  let ownPath: string | undefined;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    closeQuietly(conn);
  }, timeoutMs);
  try {
    fd = unixSocket(SOCK_DGRAM);
    ownPath = bindClientSocket(fd, where);
    if (ownPath === undefined) {
      throw fail(`cannot bind a datagram socket in ${where} or /tmp`);
    }
    chmodPath(ownPath, 0o700);
    const request = encodeRequest({
      path: ownPath,
      port: opts.port,
      description: `${opts.description ?? "weft"} user=${userName()} pid=${Deno.pid}`,
    });
    const reply = new Uint8Array(REPLY_SIZE);
    let got = 0;
    try {
      await writeAll(conn, request);
      while (got < REPLY_SIZE) {
        const n = await conn.read(reply.subarray(got));
        if (n === null) break;
        got += n;
      }
    } catch (e) {
      if (!timedOut) throw fail(`VDE switch at ${where} failed during the handshake (${e})`);
    }
    if (timedOut) throw fail(`VDE switch at ${where} did not answer within ${timeoutMs} ms`);
    if (got < REPLY_SIZE) {
      throw fail(
        `VDE switch at ${where} refused the connection (closed after ${got} of ${REPLY_SIZE} ` +
          `reply bytes: port taken, or not allowed?)`,
      );
    }
    const decoded = decodeReply(reply);
    if (typeof decoded === "string") {
      throw fail(`VDE switch at ${where} sent a malformed reply (${decoded})`);
    }
    const err = connectUnix(fd, decoded.path);
    if (err !== 0) {
      throw fail(`cannot connect to the switch's data socket ${decoded.path}: ${errnoName(err)}`);
    }
    // Connected datagram sockets keep working without their names (vdeplug4 does the same).
    unlinkPath(ownPath);
    ownPath = undefined;
    const url = `vde://${where}${opts.port === undefined ? "" : `?port=${opts.port}`}`;
    const endpoint = new UnixDgramEndpoint(fd, url, {
      mtu: opts.mtu ?? MAX_FRAME,
      onClose: () => closeQuietly(conn),
    });
    fd = -1; // the endpoint owns it now
    watchEof(conn, endpoint);
    return endpoint;
  } catch (e) {
    closeQuietly(conn);
    closeFd(fd);
    if (ownPath !== undefined) unlinkPath(ownPath);
    // E.g. FFI not permitted: still one clear line naming the URL.
    throw e instanceof ConfigError ? e : fail(e instanceof Error ? e.message : String(e));
  } finally {
    clearTimeout(timer);
  }
}

/** The absolute switch directory: `dir` resolved, or the first default that has a `ctl`. */
async function findSwitchDir(dir: string, fail: (why: string) => Error): Promise<string> {
  if (dir === "") {
    for (const d of DEFAULT_DIRS) {
      if (await isSocket(`${d}/ctl`)) return d;
    }
    throw fail(`no VDE switch at the default places (${DEFAULT_DIRS.join(", ")})`);
  }
  const abs = absolutePath(dir);
  try {
    // The switch connects back to our socket path, so it must be absolute and canonical
    // (vdeplug4 uses realpath(3) for the same reason).
    const real = await Deno.realPath(abs);
    if (!(await Deno.stat(real)).isDirectory) {
      throw fail(`no VDE switch at ${abs} (not a directory)`);
    }
    return real;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw fail(`no VDE switch at ${abs} (${connectFailure(e)})`);
  }
}

/**
 * Bind `fd` to `<dir>/.PPPPP-NNNNN` (vdeplug4's name: pid and counter, 5 digits each), falling
 * back to `/tmp/vde.PPPPP-NNNNN`. Returns the path, or undefined when nothing worked.
 */
function bindClientSocket(fd: number, dir: string): string | undefined {
  const pid = String(Deno.pid).padStart(5, "0");
  for (const prefix of [`${dir}/.`, "/tmp/vde."]) {
    for (let tries = 0; tries < 100; tries++) {
      const n = String(dataSocketCounter++ % 100000).padStart(5, "0");
      const path = `${prefix}${pid}-${n}`;
      let err: number;
      try {
        err = bindUnix(fd, path);
      } catch {
        break; // the path does not fit in sun_path: next prefix
      }
      if (err === 0) return path;
      if (err !== EADDRINUSE) break;
    }
  }
  return undefined;
}

/** Read the ctl stream until EOF (the switch says nothing after its reply), then close. */
function watchEof(conn: Deno.UnixConn, endpoint: Endpoint): void {
  (async () => {
    const buf = new Uint8Array(256);
    try {
      while ((await conn.read(buf)) !== null) {
        // Anything after the handshake is ignored, as by vde_switch.
      }
    } catch {
      // Closed by us (endpoint.close()) or reset by the peer: both end the port.
    }
    endpoint.close();
  })();
}

// ---------------------------------------------------------------------------------------------
// Server

export interface VdeServerOptions {
  /**
   * Plug the new endpoint into something (a switch) and return its port number; throw to refuse
   * the client (the error message is logged). `requestedPort` is undefined for "any port", 0 for
   * the management port (REQ_NEW_PORT0).
   */
  attach(endpoint: Endpoint, requestedPort: number | undefined, description: string): number;
  logger?: Logger;
  events?: EventBus;
  /** How long a client may take to send its request (default 5,000 ms). */
  requestTimeoutMs?: number;
  /** Largest frame on the data sockets (default 65,535). */
  mtu?: number;
}

interface Client {
  conn: Deno.UnixConn;
  endpoint: UnixDgramEndpoint | undefined;
  /** The port's data socket file, once bound. */
  dataPath?: string;
}

/**
 * Serves the vde_switch ctl protocol in a directory, so vdeplug4 and vde2 clients attach to a
 * weft switch. `VdeServer.listen(dir, { attach })`; `close()` detaches every client and removes
 * the sockets.
 */
export class VdeServer {
  /** The absolute switch directory. */
  readonly dir: string;
  readonly ctlPath: string;
  /** Clients turned away, by reason (`badMagic`, `timeout`, `attachRefused`…). */
  readonly refused: Record<string, number> = {};
  /** Clients attached since the start. */
  attached = 0;
  /**
   * Resolves when the server is closed, every client task has ended and the directory (when the
   * server created it) is removed.
   */
  readonly closed: Promise<void>;

  readonly #listener: Deno.UnixListener;
  readonly #opts: VdeServerOptions;
  readonly #log: Logger;
  readonly #createdDir: boolean;
  readonly #clients = new Set<Client>();
  readonly #tasks = new Set<Promise<void>>();
  #closing = false;

  private constructor(
    dir: string,
    listener: Deno.UnixListener,
    createdDir: boolean,
    opts: VdeServerOptions,
  ) {
    this.dir = dir;
    this.ctlPath = `${dir}/ctl`;
    this.#listener = listener;
    this.#createdDir = createdDir;
    this.#opts = opts;
    this.#log = opts.logger ?? silentLogger;
    this.closed = this.#acceptLoop();
  }

  /**
   * Serve in `dir`, creating it (mode 0700) when missing. Refuses (ConflictError) when another
   * live switch serves it; removes a stale `ctl` left by one that died.
   */
  static async listen(dir: string, opts: VdeServerOptions): Promise<VdeServer> {
    const abs = absolutePath(dir);
    const log = opts.logger ?? silentLogger;
    try {
      libc(); // fail now, not at the first client, when FFI is not permitted
    } catch (e) {
      throw new ConfigError(`Cannot serve VDE at ${abs}: ${(e as Error).message}`);
    }
    if (new TextEncoder().encode(abs).length > MAX_DIR_BYTES) {
      throw new ConfigError(
        `Cannot serve VDE at ${abs}: the path is longer than ${MAX_DIR_BYTES} bytes (unix ` +
          `socket paths inside it must fit in 108)`,
      );
    }
    let createdDir = false;
    const st = await Deno.stat(abs).catch(() => undefined);
    if (st === undefined) {
      await Deno.mkdir(abs, { recursive: true, mode: 0o700 });
      await Deno.chmod(abs, 0o700); // mkdir's mode is filtered by the umask
      createdDir = true;
    } else if (!st.isDirectory) {
      throw new ConfigError(`Cannot serve VDE at ${abs}: it exists and is not a directory`);
    }
    const ctlPath = `${abs}/ctl`;
    const ctl = await Deno.lstat(ctlPath).catch(() => undefined);
    if (ctl !== undefined) {
      if (!ctl.isSocket) {
        throw new ConfigError(`Cannot serve VDE at ${abs}: ${ctlPath} exists and is not a socket`);
      }
      let live = false;
      try {
        (await Deno.connect({ transport: "unix", path: ctlPath })).close();
        live = true;
      } catch {
        // Refused: the switch that made it is gone.
      }
      if (live) {
        throw new ConflictError(
          `Cannot serve VDE at ${abs}: another switch is serving it (${ctlPath} accepts ` +
            `connections)`,
        );
      }
      await Deno.remove(ctlPath);
      removeStaleDataSockets(abs);
      log.log("info", "vde: removed a stale ctl socket", { path: ctlPath });
    }
    const listener = Deno.listen({ transport: "unix", path: ctlPath });
    await Deno.chmod(ctlPath, 0o600);
    log.log("info", "vde: serving", { dir: abs });
    return new VdeServer(abs, listener, createdDir, opts);
  }

  /** Clients currently attached. */
  get clients(): number {
    let n = 0;
    for (const c of this.#clients) if (c.endpoint !== undefined && !c.endpoint.isClosed) n++;
    return n;
  }

  /** Stop listening, close every client's endpoint, remove the socket files. Idempotent. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    try {
      this.#listener.close(); // Deno removes the socket file of a unix listener it closes
    } catch {
      // already closed
    }
    unlinkPath(this.ctlPath);
    for (const c of [...this.#clients]) {
      if (c.endpoint !== undefined) c.endpoint.close();
      else closeQuietly(c.conn);
    }
  }

  async #acceptLoop(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#closing) {
          closeQuietly(conn);
          continue;
        }
        const task = this.#serve(conn).catch((e) => {
          this.#log.log("error", "vde: client task failed", { dir: this.dir, error: String(e) });
        });
        this.#tasks.add(task);
        task.finally(() => this.#tasks.delete(task));
      }
    } catch (e) {
      if (!this.#closing) {
        this.#log.log("error", "vde: accept failed", { dir: this.dir, error: String(e) });
      }
    }
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
    if (this.#closing && this.#createdDir) {
      await Deno.remove(this.dir).catch(() => {
        // Not empty (someone else's files) or already gone: leave it.
      });
    }
  }

  async #serve(conn: Deno.UnixConn): Promise<void> {
    const client: Client = { conn, endpoint: undefined };
    this.#clients.add(client);
    try {
      const request = await this.#readRequest(conn);
      if (this.#closing) return; // shutting down: not the client's fault
      if (typeof request === "string") return this.#refuse(request);
      const req = decodeRequest(request);
      if (typeof req === "string") return this.#refuse(req);
      const st = await Deno.lstat(req.path).catch(() => undefined);
      if (!st?.isSocket) return this.#refuse("noClientSocket", req.path);
      if (this.#closing) return;

      const fd = unixSocket(SOCK_DGRAM);
      const err = connectUnix(fd, req.path);
      if (err !== 0) {
        closeFd(fd);
        return this.#refuse("connectFailed", `${req.path}: ${errnoName(err)}`);
      }
      const endpoint = new UnixDgramEndpoint(fd, `vde://${this.dir}?client=${req.path}`, {
        mtu: this.#opts.mtu ?? MAX_FRAME,
        onClose: () => {
          closeQuietly(conn);
          if (client.dataPath !== undefined) unlinkPath(client.dataPath);
        },
      });
      let port: number;
      try {
        port = this.#opts.attach(endpoint, req.port, req.description);
      } catch (e) {
        endpoint.close();
        return this.#refuse("attachRefused", (e as Error).message ?? String(e));
      }
      client.endpoint = endpoint;
      // vde_switch's name for a port's data socket: "%s/%03d.%d", directory, port, fd.
      const path = `${this.dir}/${String(port).padStart(3, "0")}.${fd}`;
      unlinkPath(path);
      let bindErr: string | undefined;
      try {
        const e = bindUnix(fd, path);
        if (e !== 0) bindErr = errnoName(e);
      } catch (e) {
        bindErr = String(e);
      }
      if (bindErr !== undefined) {
        endpoint.close();
        return this.#refuse("bindFailed", `${path}: ${bindErr}`);
      }
      client.dataPath = path;
      chmodPath(path, 0o600);
      try {
        await writeAll(conn, encodeReply(path));
      } catch (e) {
        endpoint.close();
        return this.#refuse("replyFailed", String(e));
      }
      this.attached++;
      this.#log.log("info", "vde: client attached", {
        dir: this.dir,
        port,
        description: req.description,
      });
      this.#opts.events?.emit({
        type: "vde.attached",
        dir: this.dir,
        port,
        description: req.description,
      });
      // The port lives as long as the ctl stream: EOF (or our own close) ends it.
      const buf = new Uint8Array(REQUEST_MAX);
      try {
        while ((await conn.read(buf)) !== null) {
          // Ignored after the handshake, as by vde_switch.
        }
      } catch {
        // Closed by endpoint.close() or reset by the client.
      }
      endpoint.close();
    } finally {
      this.#clients.delete(client);
      if (client.endpoint === undefined) closeQuietly(conn);
    }
  }

  /**
   * The request bytes: read until a whole fixed header is in (like vde_switch's single read of
   * up to 256 bytes, but tolerant of a request split across writes). A reason string on EOF,
   * timeout or error.
   */
  async #readRequest(conn: Deno.UnixConn): Promise<Uint8Array | string> {
    const buf = new Uint8Array(REQUEST_MAX);
    let got = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      closeQuietly(conn);
    }, this.#opts.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS);
    try {
      while (got < buf.length) {
        const n = await conn.read(buf.subarray(got));
        if (n === null) break;
        got += n;
        if (got >= requestHeaderSize(buf, got)) break;
      }
    } catch {
      return timedOut ? "timeout" : "readFailed";
    } finally {
      clearTimeout(timer);
    }
    if (timedOut) return "timeout";
    return buf.subarray(0, got);
  }

  #refuse(reason: string, detail?: string): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + 1;
    this.#log.log("warn", "vde: refused a client", {
      dir: this.dir,
      reason,
      ...(detail === undefined ? {} : { detail }),
    });
    this.#opts.events?.emit({ type: "vde.refused", dir: this.dir, reason });
  }
}

/** How many bytes make the fixed part of the request that starts `buf` (8 until known). */
function requestHeaderSize(buf: Uint8Array, got: number): number {
  if (got < 8) return 8;
  const dv = new DataView(buf.buffer, buf.byteOffset, got);
  if (dv.getUint32(0, true) !== SWITCH_MAGIC) return 8; // decodeRequest says why
  const version = dv.getUint32(4, true);
  if (version === 3) return REQUEST_V3_HEADER;
  if (version === 0 || version === 1) return REQUEST_V1_HEADER;
  return 8;
}

/** `NNN.FD` data sockets left by a switch that died (only called once its ctl proved stale). */
function removeStaleDataSockets(dir: string): void {
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (/^\d{3,}\.\d+$/.test(e.name)) unlinkPath(`${dir}/${e.name}`);
    }
  } catch {
    // Unreadable: the bind of each new port unlinks its own name first anyway.
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers and registration

function absolutePath(p: string): string {
  const joined = p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
  const out: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

async function isSocket(path: string): Promise<boolean> {
  return (await Deno.lstat(path).catch(() => undefined))?.isSocket === true;
}

function connectFailure(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such directory or ctl socket";
  if (e instanceof Deno.errors.ConnectionRefused) {
    return "its ctl socket refuses connections: the switch is not running";
  }
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  return e instanceof Error ? e.message : String(e);
}

async function writeAll(conn: Deno.UnixConn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

function userName(): string {
  try {
    return Deno.env.get("USER") ?? String(Deno.uid());
  } catch {
    return "?";
  }
}

/** The `vde` endpoint kind for `openEndpoint`. */
export const vdeKind: EndpointKind = {
  scheme: "vde",
  syntax: "vde:///DIR[?port=N] — a VDE switch directory (vde_switch, vdeplug4, weft serving VDE)",
  open(url) {
    for (const key of url.params.keys()) {
      if (key !== "port" && key !== "description") {
        throw new ConfigError(
          `Cannot open endpoint "${url.text}": unknown option "${key}" (vde takes port, ` +
            `description)`,
        );
      }
    }
    const portText = url.params.get("port");
    const port = portText === null ? undefined : parseIntIn("VDE port", portText, 0, 0xffffff);
    return openVde(url.rest, {
      port,
      description: url.params.get("description") ?? undefined,
      url: url.text,
    });
  },
};

registerKind(vdeKind);
