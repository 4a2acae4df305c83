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
 * This module is the client side; vde_server.ts is the switch side.
 */

import type { Endpoint } from "../core/endpoint.ts";
import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError, parseIntIn } from "../core/errors.ts";
import { chmodPath, connectUnix, errnoName, unlinkPath } from "./ffi/libc.ts";
import type { EndpointKind } from "./registry.ts";
import { UnixDgramEndpoint } from "./unix_dgram.ts";
import { bindDgram, type BoundDgram } from "./dgram_socket.ts";
import { absolutePath, closeQuietly, isSocket, writeAll } from "./vde_io.ts";
import { decodeReply, encodeRequest, frameLimit, REPLY_SIZE, VDE_DEFAULT_MTU } from "./vde_ctl.ts";

/** vdeplug4's default switch directories, tried in order for an empty `vde:` URL. */
const DEFAULT_DIRS = ["/var/run/vde.ctl", "/tmp/vde.ctl"];
const DEFAULT_TIMEOUT_MS = 5000;

export interface OpenVdeOptions {
  /** Ask for this port (0: the management port). Any free port otherwise. */
  port?: number;
  /** Description shown by the switch (`port/print`); ` user=… pid=…` is appended, as vdeplug4. */
  description?: string;
  /** Handshake deadline in milliseconds (default 5,000). */
  timeoutMs?: number;
  /**
   * Largest frame payload, header and tag excluded (default 1,500: a vde2 vde_switch carries at
   * most 1,518-byte frames). Announced to the switch as `mtu=N` in the description, so a weft
   * switch sends this client frames up to that size and no larger.
   */
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
  const mtu = opts.mtu ?? VDE_DEFAULT_MTU;

  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: ctlPath });
  } catch (e) {
    throw fail(`no VDE switch at ${where} (${connectFailure(e)})`);
  }

  let socket: BoundDgram | undefined;
  let ownPath: string | undefined;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    closeQuietly(conn);
  }, timeoutMs);
  try {
    socket = bindClientSocket(where);
    if (socket === undefined) {
      throw fail(`cannot bind a datagram socket in ${where} or /tmp`);
    }
    ownPath = socket.path;
    chmodPath(ownPath, 0o700);
    const request = encodeRequest({
      path: ownPath,
      port: opts.port,
      description: `${opts.description ?? "weft"} mtu=${mtu} user=${userName()} pid=${Deno.pid}`,
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
    const err = connectUnix(socket.fd, decoded.path);
    if (err !== 0) {
      throw fail(`cannot connect to the switch's data socket ${decoded.path}: ${errnoName(err)}`);
    }
    // Connected datagram sockets keep working without their names (vdeplug4 does the same).
    unlinkPath(ownPath);
    ownPath = undefined;
    const url = `vde://${where}${opts.port === undefined ? "" : `?port=${opts.port}`}`;
    const endpoint = new UnixDgramEndpoint(socket.fd, url, {
      conn: socket.conn,
      mtu: frameLimit(mtu),
      onClose: () => closeQuietly(conn),
    });
    socket = undefined; // the endpoint owns it now
    watchEof(conn, endpoint);
    return endpoint;
  } catch (e) {
    closeQuietly(conn);
    socket?.conn.close();
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
 * Bind a datagram socket at `<dir>/.PPPPP-NNNNN` (vdeplug4's name: pid and counter, 5 digits
 * each), falling back to `/tmp/vde.PPPPP-NNNNN`. Undefined when nothing worked.
 */
function bindClientSocket(dir: string): BoundDgram | undefined {
  const pid = String(Deno.pid).padStart(5, "0");
  for (const prefix of [`${dir}/.`, "/tmp/vde."]) {
    for (let tries = 0; tries < 100; tries++) {
      const n = String(dataSocketCounter++ % 100000).padStart(5, "0");
      try {
        return bindDgram(`${prefix}${pid}-${n}`);
      } catch (e) {
        if (!(e instanceof Deno.errors.AddrInUse)) break; // not writable, too long: next prefix
      }
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
// Helpers and registration

function connectFailure(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such directory or ctl socket";
  if (e instanceof Deno.errors.ConnectionRefused) {
    return "its ctl socket refuses connections: the switch is not running";
  }
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  return e instanceof Error ? e.message : String(e);
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
  syntax:
    "vde:///DIR[?port=N&mtu=BYTES] — a VDE switch directory (vde_switch, vdeplug4, weft serving VDE)",
  open(url) {
    for (const key of url.params.keys()) {
      if (key !== "port" && key !== "description" && key !== "mtu") {
        throw new ConfigError(
          `Cannot open endpoint "${url.text}": unknown option "${key}" (vde takes port, mtu, ` +
            `description)`,
        );
      }
    }
    const portText = url.params.get("port");
    const mtuText = url.params.get("mtu");
    return openVde(url.rest, {
      port: portText === null ? undefined : parseIntIn("VDE port", portText, 0, 0xffffff),
      mtu: mtuText === null ? undefined : parseIntIn("VDE mtu", mtuText, 68, MAX_FRAME - 14),
      description: url.params.get("description") ?? undefined,
      url: url.text,
    });
  },
};
