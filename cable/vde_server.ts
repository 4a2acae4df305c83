/**
 * The server side of `vde://`: serves the vde_switch ctl protocol in a directory (docs/PROTOCOLS.md
 * §1; vde-2 `src/vde_switch/datasock.c`), so that vdeplug4's `vde_plug`, vde2's `vde_plug2tap`
 * and QEMU `-netdev vde` attach to a weft switch. Each accepted client gets a datagram socket
 * bound to `<dir>/NNN.FD` and connected to the client's socket, wrapped as a UnixDgramEndpoint;
 * the client's ctl stream stays open for the life of the port.
 *
 * Frame sizes: vde2 clients take at most 1,518-byte frames and vdeplug4 ones 9,234, and a longer
 * datagram would reach them truncated — silently. So a client gets the classic 1,500-byte MTU
 * (frames up to 1,518 bytes with an 802.1Q tag) unless its description announces a larger one
 * with `mtu=N`, as weft's own client does.
 */

import type { Endpoint } from "../core/endpoint.ts";
import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError, ConflictError } from "../core/errors.ts";
import type { EventBus } from "../core/events.ts";
import { type Logger, silentLogger } from "../core/log.ts";
import { chmodPath, connectUnix, errnoName, libc, unlinkPath } from "./ffi/libc.ts";
import { UnixDgramEndpoint } from "./unix_dgram.ts";
import { bindDgram } from "./dgram_socket.ts";
import {
  announcedMtu,
  decodeRequest,
  encodeReply,
  frameLimit,
  REQUEST_MAX,
  REQUEST_V1_HEADER,
  REQUEST_V3_HEADER,
  SWITCH_MAGIC,
} from "./vde_ctl.ts";
import { absolutePath, closeQuietly, writeAll } from "./vde_io.ts";

/** Longest switch directory path accepted: `<dir>/NNN.FD` must fit in sun_path (108 bytes). */
const MAX_DIR_BYTES = 90;
const DEFAULT_TIMEOUT_MS = 5000;

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
  /** Data sockets bound so far: numbers their names. */
  #dataSockets = 0;

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

      // The port's data socket. vde_switch names it "%03d.%d" (port, its fd); clients only use
      // the name from the reply, so weft uses a counter that is unique for the directory.
      const path = `${this.dir}/data-${++this.#dataSockets}`;
      unlinkPath(path);
      let socket;
      try {
        socket = bindDgram(path);
      } catch (e) {
        return this.#refuse("bindFailed", `${path}: ${e instanceof Error ? e.message : e}`);
      }
      const err = connectUnix(socket.fd, req.path);
      if (err !== 0) {
        socket.conn.close();
        unlinkPath(path);
        return this.#refuse("connectFailed", `${req.path}: ${errnoName(err)}`);
      }
      chmodPath(path, 0o600);
      client.dataPath = path;
      const endpoint = new UnixDgramEndpoint(socket.fd, `vde://${this.dir}?client=${req.path}`, {
        conn: socket.conn,
        mtu: Math.min(this.#opts.mtu ?? MAX_FRAME, frameLimit(announcedMtu(req.description))),
        onClose: () => {
          closeQuietly(conn);
          unlinkPath(path);
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
      if (/^data-\d+$|^\d{3,}\.\d+$/.test(e.name)) unlinkPath(`${dir}/${e.name}`);
    }
  } catch {
    // Unreadable: the bind of each new port unlinks its own name first anyway.
  }
}
