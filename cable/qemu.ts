/**
 * `qemu:///PATH` — client of a unix stream socket that speaks QEMU's stream framing: QEMU
 * `-netdev stream,server=on,addr.type=unix,addr.path=PATH`, passt (`passt -s PATH`), gvproxy's
 * `qemu` mode. `qemu:///PATH?listen` — the other role: bind PATH, wait for one client (QEMU
 * `-netdev stream,server=off,addr.type=unix,addr.path=PATH`), then stop listening. As a listener
 * kind, `weft switch --listen qemu:///PATH` plugs every client into a new port. Also `qemu://DIR`
 * (relative to the working directory) and `qemu:PATH`.
 *
 * Framing (docs/PROTOCOLS.md §3): each frame is preceded by its length as a 4-byte unsigned
 * big-endian integer, nothing else — QEMU `net/stream.c` sends `htonl(size)` then the frame, and
 * `net_fill_rstate()` (`net/net.c`) reassembles with the vnet-header field disabled; passt's
 * `tap.c` reads and writes the same `uint32_t vnet_len`. Limits, and what the peers do past them:
 * - longer than the maximum (65,535 = passt's `ETH_MAX_MTU`, weft's MAX_FRAME): the stream cannot
 *   be trusted any more — QEMU drops the connection ("oversized packet received, connection
 *   terminated", its buffer is NET_BUFSIZE = 4096 + 65536) and current passt resets it ("Bad
 *   frame size from guest"). So do we: counted as `badLength`, stream closed, reason logged.
 * - shorter than an Ethernet header (14): skipped and counted (`runt`; `empty` for 0), the stream
 *   stays in sync — the bytes were consumed, as older passt does (`goto next`).
 * - a header or frame split across reads is completed by the next read (cable/framing.ts).
 *
 * `qemuStream(conn, url)` wraps any connected `Deno.Conn` (unix or TCP), so `tcp://…?framing=qemu`
 * reuses it. QEMU disables Nagle on these sockets; so does `qemuStream` on TCP, because frames are
 * already batched once per event-loop turn and Nagle would only add delay to the last of a batch.
 */

import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError } from "../core/errors.ts";
import type { EndpointKind, OpenContext } from "./registry.ts";
import {
  countRefusal,
  type EndpointListener,
  type ListenContext,
  type ListenerKind,
} from "./listener.ts";
import { StreamEndpoint } from "./stream.ts";
import type { EndpointUrl } from "./url.ts";
import { absolutePath, closeQuietly } from "./vde_io.ts";

/** QEMU's stream framing: a 4-byte big-endian length before each frame. */
export const QEMU_HEADER_BYTES = 4;

export interface QemuStreamOptions {
  /**
   * Largest frame accepted in either direction, Ethernet header included (default 65,535, the
   * most passt accepts). A longer length on the wire closes the stream; a longer frame to send is
   * dropped and counted as `oversize`.
   */
  mtu?: number;
  /** Why the stream ended, when it was not a plain close/EOF (a bad length, a socket error). */
  onError?: (message: string) => void;
  /** Called once after the endpoint closed and the connection was closed. */
  onClose?: () => void;
}

/**
 * An endpoint speaking QEMU stream framing over a connected socket. The endpoint owns `conn`:
 * closing it closes the connection, and EOF or an error on the connection closes the endpoint.
 */
export function qemuStream(
  conn: Deno.Conn,
  url: string,
  opts: QemuStreamOptions = {},
): StreamEndpoint {
  if (typeof (conn as Partial<Deno.TcpConn>).setNoDelay === "function") {
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
    } catch {
      // Not a TCP socket after all, or already closed: the read loop will find out.
    }
  }
  return new StreamEndpoint(url, conn, conn, {
    headerBytes: QEMU_HEADER_BYTES,
    mtu: opts.mtu ?? MAX_FRAME,
    onError: opts.onError,
    onClose: () => {
      closeQuietly(conn);
      opts.onClose?.();
    },
  });
}

/** Options of `openQemu`. */
export interface OpenQemuOptions extends QemuStreamOptions {
  /** Bind the path and wait for one client instead of connecting to it. */
  listen?: boolean;
  /** The URL as the user wrote it, for messages (default `qemu://PATH`). */
  url?: string;
}

/**
 * Connect to the QEMU-framed unix stream socket at `path` (or, with `listen`, wait for one client
 * there). Rejects with a ConfigError naming the URL and the cause.
 */
export async function openQemu(path: string, opts: OpenQemuOptions = {}): Promise<StreamEndpoint> {
  const abs = absolutePath(path);
  const shown = opts.url ?? `qemu://${abs}`;
  const fail = (why: string) => new ConfigError(`Cannot open endpoint "${shown}": ${why}`);
  if (path === "") throw fail("the socket path is empty (qemu:///PATH)");
  if (!opts.listen) {
    let conn: Deno.UnixConn;
    try {
      conn = await Deno.connect({ transport: "unix", path: abs });
    } catch (e) {
      throw fail(connectFailure(abs, e));
    }
    return qemuStream(conn, shown, opts);
  }
  const listener = await bindUnixStream(abs, fail);
  let conn: Deno.Conn;
  try {
    conn = await listener.accept();
  } catch (e) {
    throw fail(`accepting a client on ${abs} failed (${errorText(e)})`);
  } finally {
    // One client, like QEMU's server=on: nobody else may attach to this path later. Closing a
    // unix listener removes its socket file, so a stale name is not left behind.
    closeListener(listener);
  }
  return qemuStream(conn, shown, opts);
}

/**
 * Bind a unix stream socket at `path`. A socket file left by a process that died (connect is
 * refused) is replaced; one that a live process still accepts on, or a file that is not a
 * socket, is an error.
 */
export async function bindUnixStream(
  path: string,
  fail: (why: string) => Error,
): Promise<Deno.UnixListener> {
  const st = await Deno.lstat(path).catch(() => undefined);
  if (st !== undefined) {
    if (!st.isSocket) throw fail(`${path} exists and is not a socket`);
    let live = false;
    try {
      (await Deno.connect({ transport: "unix", path })).close();
      live = true;
    } catch {
      // Refused: whoever bound it is gone.
    }
    if (live) throw fail(`${path} is in use (another process accepts connections on it)`);
    await Deno.remove(path).catch(() => {});
  }
  try {
    return Deno.listen({ transport: "unix", path });
  } catch (e) {
    throw fail(`cannot listen on ${path} (${errorText(e)})`);
  }
}

/** Accepts QEMU-framed clients on a unix socket; each one becomes an endpoint (a switch port). */
class QemuListener implements EndpointListener {
  readonly refused: Record<string, number> = {};
  accepted = 0;
  readonly closed: Promise<void>;
  #closing = false;

  constructor(
    readonly url: string,
    readonly path: string,
    readonly listener: Deno.UnixListener,
    readonly ctx: ListenContext,
    readonly opts: QemuStreamOptions,
  ) {
    this.closed = this.#acceptLoop();
  }

  async #acceptLoop(): Promise<void> {
    let n = 0;
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.listener.accept();
      } catch (e) {
        if (!this.#closing) {
          this.ctx.logger.log("error", "qemu listener stopped", {
            url: this.url,
            error: errorText(e),
          });
        }
        break;
      }
      const ep = qemuStream(conn, this.url, this.opts);
      try {
        this.ctx.accept(ep, `qemu client ${++n} on ${this.path}`);
        this.accepted++;
      } catch (e) {
        ep.close();
        countRefusal(this.refused, "attachRefused");
        this.ctx.logger.log("warn", "qemu client refused", { url: this.url, error: errorText(e) });
      }
    }
    closeListener(this.listener);
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    closeListener(this.listener); // removes the socket file too
  }
}

/** Listen on `path` for QEMU-framed clients (`weft switch --listen qemu:///PATH`). */
export async function listenQemu(
  path: string,
  ctx: ListenContext,
  opts: QemuStreamOptions & { url?: string } = {},
): Promise<EndpointListener> {
  const abs = absolutePath(path);
  const url = opts.url ?? `qemu://${abs}`;
  const fail = (why: string) => new ConfigError(`Cannot listen on "${url}": ${why}`);
  if (path === "") throw fail("the socket path is empty (qemu:///PATH)");
  const listener = await bindUnixStream(abs, fail);
  return new QemuListener(`qemu://${abs}`, abs, listener, ctx, opts);
}

// ---------------------------------------------------------------------------------------------
// Helpers and registration

function connectFailure(path: string, e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return `no socket at ${path}`;
  if (e instanceof Deno.errors.ConnectionRefused) {
    return `nothing accepts connections on ${path} (a stale socket: is QEMU/passt running?)`;
  }
  if (e instanceof Deno.errors.PermissionDenied) return `permission denied on ${path}`;
  return `cannot connect to ${path} (${errorText(e)})`;
}

function closeListener(l: Deno.Listener): void {
  try {
    l.close();
  } catch {
    // already closed
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Rejects query options this kind does not know, naming the ones it does. */
function checkParams(url: EndpointUrl, known: string[], what: string): void {
  for (const key of url.params.keys()) {
    if (!known.includes(key)) {
      throw new ConfigError(
        `${what} "${url.text}": unknown option "${key}" (qemu takes ${known.join(", ")})`,
      );
    }
  }
}

function logError(ctx: OpenContext, url: string): (error: string) => void {
  return (error) => ctx.logger.log("warn", "qemu cable", { url, error });
}

/** The `qemu` endpoint kind for `openEndpoint`. */
export const qemuKind: EndpointKind = {
  scheme: "qemu",
  syntax:
    "qemu:///PATH[?listen] — QEMU -netdev stream, passt, gvproxy: 4-byte length (?listen: server)",
  open(url, ctx) {
    checkParams(url, ["listen"], "Cannot open endpoint");
    return openQemu(url.rest, {
      listen: url.params.has("listen"),
      url: url.text,
      onError: logError(ctx, url.text),
    });
  },
};

/** The `qemu` listener kind for `listenEndpoints` (`weft switch --listen qemu:///PATH`). */
export const qemuListenerKind: ListenerKind = {
  scheme: "qemu",
  syntax: "qemu:///PATH — accept QEMU -netdev stream (server=off) clients, each a new port",
  listen(url, ctx) {
    // `?listen` is implied here; accepted so the same URL works for --connect and --listen.
    checkParams(url, ["listen"], "Cannot listen on");
    return listenQemu(url.rest, ctx, { url: url.text, onError: logError(ctx, url.text) });
  },
};
