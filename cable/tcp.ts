/**
 * `tcp://HOST:PORT` and `tls://HOST:PORT?fp=sha256:HEX` — cables between hosts, speaking the weft
 * cable protocol (weft_wire.ts): a versioned hello with the node id and a token, then
 * length-prefixed frames with keepalives. Both kinds also listen (`weft switch --listen …`).
 *
 * Client options: `fp=sha256:HEX` (tls: the server's certificate pin, required), `token=TEXT` or
 * `token-file=PATH`, `keepalive=SECONDS` (default 1). Listener options: `token-file=PATH` (one
 * token per line; required for tls, optional for tcp — plain tcp is for loopback, tests and
 * trusted links and says so).
 *
 * Security (ARCHITECTURE §6): the client pins the server's self-signed certificate by its
 * fingerprint; the server admits a client only with a valid token. No frame passes before the
 * server's WELCOME. Handshakes are bounded in time (5 s) and size (4 KiB), and in number (64 at
 * once); every refusal is counted by reason and logged.
 *
 * TLS is `node:tls` on both sides: the client because pinning needs the peer certificate without
 * CA validation, which `Deno.connectTls` cannot do; the listener because of a socket leak in
 * `Deno.listenTls` (tls_listener.ts).
 */

import type { Endpoint } from "../core/endpoint.ts";
import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError, parseIntIn } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { fingerprintOf, loadOrCreateIdentity, parseFingerprint } from "./identity.ts";
import { countRefusal, type EndpointListener, type ListenContext } from "./listener.ts";
import type { ListenerKind } from "./listener.ts";
import { nodeSocketIo } from "./node_socket.ts";
import {
  type AcceptedConn,
  type ConnSource,
  listenNodeTls,
  type TlsSourceOptions,
} from "./tls_listener.ts";
import { ReconnectingEndpoint } from "./reconnect.ts";
import { qemuStream } from "./qemu.ts";
import type { EndpointKind, OpenContext } from "./registry.ts";
import { type ByteReader, type ByteWriter, StreamEndpoint } from "./stream.ts";
import type { EndpointUrl } from "./url.ts";
import {
  asHello,
  decodeBody,
  decodeHeader,
  encodeRecord,
  HELLO,
  RECORD_HEADER,
  REFUSE,
  sameSecret,
  WELCOME,
} from "./weft_wire.ts";
import { hostPort } from "../core/host_port.ts";

const HANDSHAKE_MS = 5000;
const MAX_PENDING_HANDSHAKES = 64;

/** A refusal by the peer or a failed pin: retrying the same way will not help. */
export class CableAuthError extends Error {
  override name = "CableAuthError";
}

interface Io extends ByteReader, ByteWriter {
  close(): void;
}

interface Target {
  tls: boolean;
  hostname: string;
  port: number;
}

/** `HOST:PORT`, `[V6]:PORT` → hostname and port. */
export function parseHostPort(url: EndpointUrl): Target {
  const m = /^(?:\[([^\]]+)\]|([^:/\[\]]+)):(\d+)\/?$/.exec(url.rest);
  if (!m) {
    throw new ConfigError(`Invalid endpoint URL "${url.text}": expected ${url.scheme}://HOST:PORT`);
  }
  return {
    tls: url.scheme === "tls",
    hostname: m[1] ?? m[2],
    port: parseIntIn("port", m[3], 0, 65535),
  };
}

function checkParams(url: EndpointUrl, allowed: string[]): void {
  for (const key of url.params.keys()) {
    if (!allowed.includes(key)) {
      throw new ConfigError(
        `Invalid endpoint URL "${url.text}": unknown option "${key}" (expected ${
          allowed.join(", ")
        })`,
      );
    }
  }
}

/** Tokens from a file: one per line, blank lines and `#` comments ignored. */
export async function readTokens(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(`Cannot read token file "${path}": ${(e as Error).message}`);
  }
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}

/** A client's token: `?token-file=PATH` (its first token) or `?token=TEXT`; none without. */
export async function clientToken(url: EndpointUrl): Promise<string | undefined> {
  const file = url.params.get("token-file");
  if (file !== null) {
    const [first] = await readTokens(file);
    if (first === undefined) throw new ConfigError(`Token file "${file}" holds no token`);
    return first;
  }
  return url.params.get("token") ?? undefined;
}

/**
 * A listener's tokens from `?token-file=PATH`: undefined without the option (anyone is
 * admitted), a ConfigError when the file holds none (nobody could be).
 */
export async function listenerTokens(url: EndpointUrl): Promise<string[] | undefined> {
  const file = url.params.get("token-file");
  if (file === null) return undefined;
  const tokens = await readTokens(file);
  if (tokens.length === 0) {
    throw new ConfigError(`Cannot listen on "${url.text}": token file "${file}" holds no token`);
  }
  return tokens;
}

/** Whether `given` is one of `tokens`, each compared in constant time (`sameSecret`). */
export function tokenAdmitted(tokens: readonly string[], given: string | undefined): boolean {
  return given !== undefined && tokens.some((t) => sameSecret(t, given));
}

/** A URL as it may be shown and logged: a `?token=` value replaced by `…`. */
export function redactToken(text: string): string {
  return text.replace(/([?&]token=)[^&]*/, "$1…");
}

// ---------------------------------------------------------------------------------------------
// Client

async function connectIo(t: Target, pin: string | undefined): Promise<Io> {
  if (!t.tls) {
    const conn = await Deno.connect({ hostname: t.hostname, port: t.port });
    conn.setNoDelay(true);
    return { read: (p) => conn.read(p), write: (p) => conn.write(p), close: () => conn.close() };
  }
  const tls = await import("node:tls");
  const socket = tls.connect({
    host: t.hostname,
    port: t.port,
    rejectUnauthorized: false, // we pin the certificate instead of trusting a CA
    checkServerIdentity: () => undefined,
  });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  const der = socket.getPeerCertificate(true)?.raw as Uint8Array | undefined;
  const got = der ? await fingerprintOf(new Uint8Array(der)) : "none";
  if (got !== pin) {
    socket.destroy();
    throw new CableAuthError(`server certificate ${got} does not match the pinned ${pin}`);
  }
  return nodeSocketIo(socket);
}

async function readExactly(io: ByteReader, n: number): Promise<Uint8Array | undefined> {
  const buf = new Uint8Array(n);
  for (let got = 0; got < n;) {
    const r = await io.read(buf.subarray(got));
    if (r === null) return undefined;
    got += r;
  }
  return buf;
}

async function writeAll(io: ByteWriter, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await io.write(bytes.subarray(off));
}

/** Reject after `ms` unless `p` settles first; `onTimeout` releases what `p` waits on. */
function deadline<T>(p: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout();
        reject(new Deno.errors.TimedOut(`${what} took longer than ${ms} ms`));
      }, ms);
    }),
  ]);
}

interface DialOptions {
  target: Target;
  pin?: string;
  token?: string;
  node: string;
  keepaliveMs: number;
  url: string;
  logger: Logger;
}

/** One connection attempt: transport, hello, welcome; the frame endpoint on success. */
export async function dialCable(o: DialOptions): Promise<StreamEndpoint> {
  let io: Io | undefined;
  const attempt = async () => {
    io = await connectIo(o.target, o.pin);
    await writeAll(io, encodeRecord(HELLO, { node: o.node, token: o.token, mtu: MAX_FRAME }));
    const header = await readExactly(io, RECORD_HEADER);
    if (!header) throw new Deno.errors.ConnectionReset("the server closed during the handshake");
    const h = decodeHeader(header);
    if (typeof h === "string") throw new CableAuthError(`not a weft cable server (${h})`);
    const body = decodeBody((await readExactly(io, h.length)) ?? new Uint8Array());
    if (h.type === REFUSE) {
      throw new CableAuthError(`the server refused: ${String(body?.error ?? "no reason given")}`);
    }
    if (h.type !== WELCOME || body === undefined) {
      throw new CableAuthError(`not a weft cable server (record type ${h.type})`);
    }
    return io;
  };
  const conn = await deadline(attempt(), HANDSHAKE_MS, "connecting", () => io?.close());
  return new StreamEndpoint(o.url, conn, conn, {
    headerBytes: 2,
    mtu: MAX_FRAME,
    keepaliveMs: o.keepaliveMs,
    onClose: () => conn.close(),
    onError: (error) => o.logger.log("warn", "cable", { url: o.url, error }),
  });
}

/**
 * `tcp://HOST:PORT?framing=qemu`: QEMU's stream framing (4-byte length, PROTOCOLS §3) without the
 * weft hello — QEMU `-netdev stream,server=on,addr.type=inet`, passt or gvproxy over TCP. It
 * reconnects like a weft cable, since those peers restart.
 */
async function openQemuTcp(url: EndpointUrl, ctx: OpenContext): Promise<Endpoint> {
  const target = parseHostPort(url);
  checkParams(url, ["framing"]);
  const dial = async () => {
    const conn = await deadline(
      Deno.connect({ hostname: target.hostname, port: target.port }),
      HANDSHAKE_MS,
      "connecting",
      () => {},
    );
    return qemuStream(conn, url.text, {
      onError: (error) => ctx.logger.log("warn", "cable", { url: url.text, error }),
    });
  };
  let first: Endpoint | undefined;
  try {
    first = await dial();
  } catch (e) {
    ctx.logger.log("warn", "cable down, retrying", { url: url.text, error: (e as Error).message });
  }
  return new ReconnectingEndpoint(url.text, MAX_FRAME, dial, { first, logger: ctx.logger });
}

function framingOf(url: EndpointUrl): "weft" | "qemu" {
  const f = url.params.get("framing") ?? "weft";
  if (f !== "weft" && f !== "qemu") {
    throw new ConfigError(
      `Invalid endpoint URL "${url.text}": framing is weft or qemu, not "${f}"`,
    );
  }
  if (f === "qemu" && url.scheme === "tls") {
    throw new ConfigError(`Invalid endpoint URL "${url.text}": framing=qemu is for tcp:// only`);
  }
  return f;
}

async function openCable(url: EndpointUrl, ctx: OpenContext): Promise<Endpoint> {
  if (framingOf(url) === "qemu") return await openQemuTcp(url, ctx);
  const target = parseHostPort(url);
  checkParams(url, ["fp", "token", "token-file", "keepalive", "framing"]);
  let pin: string | undefined;
  if (target.tls) {
    const fp = url.params.get("fp");
    pin = fp === null ? undefined : parseFingerprint(fp);
    if (pin === undefined) {
      throw new ConfigError(
        `Cannot open endpoint "${url.text}": tls needs the server's pin, ?fp=sha256:HEX ` +
          `(64 hex digits; \`weft id\` on the server prints it)`,
      );
    }
  }
  const keepaliveText = url.params.get("keepalive");
  const keepaliveMs = keepaliveText === null
    ? 1000
    : parseIntIn("keepalive (seconds)", keepaliveText, 1, 3600) * 1000;
  const token = await clientToken(url);
  const node = ctx.stateDir ? (await loadOrCreateIdentity(ctx.stateDir)).nodeId : "anonymous";
  const shown = redactToken(url.text);
  const dial = () =>
    dialCable({ target, pin, token, node, keepaliveMs, url: shown, logger: ctx.logger });
  // The first attempt decides what is a usage error: a refused token or a wrong pin will not
  // fix itself. A network failure will: the cable is returned down and keeps trying.
  let first: StreamEndpoint | undefined;
  try {
    first = await dial();
  } catch (e) {
    if (e instanceof CableAuthError) {
      throw new ConfigError(`Cannot open endpoint "${shown}": ${e.message}`);
    }
    ctx.logger.log("warn", "cable down, retrying", { url: shown, error: (e as Error).message });
  }
  return new ReconnectingEndpoint(shown, MAX_FRAME, dial, {
    first,
    logger: ctx.logger,
    isFatal: (e) => e instanceof CableAuthError,
  });
}

// ---------------------------------------------------------------------------------------------
// Listener

class CableListener implements EndpointListener {
  readonly refused: Record<string, number> = {};
  accepted = 0;
  readonly closed: Promise<void>;
  #pending = 0;

  constructor(
    readonly url: string,
    readonly listener: ConnSource,
    readonly tokens: string[] | undefined,
    readonly node: string,
    readonly ctx: ListenContext,
  ) {
    this.closed = this.#acceptLoop();
  }

  #closing = false;

  /** Count and log a refusal that happened below weft's protocol (TLS handshake). */
  refuseTls(reason: string, detail: string, peer: string): void {
    countRefusal(this.refused, reason);
    this.ctx.logger.log("warn", "cable refused", { url: this.url, peer, reason, detail });
    this.ctx.onRefused?.(reason, peer);
  }

  close(): void {
    this.#closing = true;
    try {
      this.listener.close();
    } catch {
      // already closed
    }
  }

  async #acceptLoop(): Promise<void> {
    try {
      for await (const conn of this.listener) {
        if (this.#closing) break;
        if (this.#pending >= MAX_PENDING_HANDSHAKES) {
          this.#refuse(conn, "busy");
          continue;
        }
        this.#pending++;
        this.#handshake(conn).finally(() => this.#pending--);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) {
        this.ctx.logger.log("error", "cable listener stopped", { url: this.url, error: String(e) });
      }
    }
  }

  #refuse(conn: AcceptedConn, reason: string, detail?: string): void {
    countRefusal(this.refused, reason);
    const peer = conn.remoteAddr as Deno.NetAddr;
    this.ctx.logger.log("warn", "cable refused", {
      url: this.url,
      peer: `${peer.hostname}:${peer.port}`,
      reason,
      ...(detail ? { detail } : {}),
    });
    this.ctx.onRefused?.(reason, `${peer.hostname}:${peer.port}`);
    try {
      conn.close();
    } catch {
      // already closed
    }
  }

  async #handshake(conn: AcceptedConn): Promise<void> {
    let result: string | { hello: ReturnType<typeof asHello> };
    try {
      result = await deadline(this.#readHello(conn), HANDSHAKE_MS, "hello", () => conn.close());
    } catch (e) {
      return this.#refuse(
        conn,
        e instanceof Deno.errors.TimedOut ? "timeout" : "badTransport",
        (e as Error).message,
      );
    }
    if (typeof result === "string") return this.#refuse(conn, result);
    const hello = result.hello!;
    if (this.tokens && !tokenAdmitted(this.tokens, hello.token ?? "")) {
      await writeAll(conn, encodeRecord(REFUSE, { error: "authentication failed" })).catch(
        () => {},
      );
      return this.#refuse(conn, hello.token === undefined ? "noToken" : "badToken", hello.node);
    }
    try {
      await writeAll(conn, encodeRecord(WELCOME, { node: this.node, mtu: MAX_FRAME }));
    } catch (e) {
      return this.#refuse(conn, "badTransport", (e as Error).message);
    }
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    const peer = conn.remoteAddr as Deno.NetAddr;
    const endpoint = new StreamEndpoint(`${this.url}#${peer.hostname}:${peer.port}`, conn, conn, {
      headerBytes: 2,
      mtu: MAX_FRAME,
      keepaliveMs: 1000,
      onClose: () => {
        try {
          conn.close();
        } catch {
          // already closed
        }
      },
      onError: (error) => this.ctx.logger.log("warn", "cable", { url: endpoint.url, error }),
    });
    try {
      this.ctx.accept(endpoint, `cable from ${hello.node} ${peer.hostname}:${peer.port}`);
      this.accepted++;
    } catch (e) {
      endpoint.close();
      countRefusal(this.refused, "attachRefused");
      this.ctx.logger.log("warn", "cable refused", { url: this.url, error: (e as Error).message });
    }
  }

  /** The client's hello, or a refusal reason. */
  async #readHello(conn: AcceptedConn): Promise<string | { hello: ReturnType<typeof asHello> }> {
    const header = await readExactly(conn, RECORD_HEADER);
    if (!header) return "closedEarly";
    const h = decodeHeader(header);
    if (typeof h === "string") return h;
    if (h.type !== HELLO) return "badHello";
    const body = await readExactly(conn, h.length);
    const hello = asHello(body && decodeBody(body));
    return hello ? { hello } : "badHello";
  }
}

async function listenCables(url: EndpointUrl, ctx: ListenContext): Promise<EndpointListener> {
  const target = parseHostPort(url);
  checkParams(url, ["token-file"]);
  const tokens = await listenerTokens(url);
  if (target.tls && tokens === undefined) {
    throw new ConfigError(
      `Cannot listen on "${url.text}": tls needs ?token-file=PATH (or --token-file): ` +
        `clients are admitted by token`,
    );
  }
  let node = "anonymous";
  let listener: ConnSource;
  let onTlsError: TlsSourceOptions["onTlsError"] = () => {};
  try {
    if (target.tls) {
      if (!ctx.stateDir) {
        throw new ConfigError(`Cannot listen on "${url.text}": no state directory`);
      }
      const id = await loadOrCreateIdentity(ctx.stateDir);
      node = id.nodeId;
      listener = await listenNodeTls({
        hostname: target.hostname,
        port: target.port,
        cert: id.certPem,
        key: id.keyPem,
        handshakeTimeoutMs: HANDSHAKE_MS,
        onTlsError: (reason, detail, peer) => onTlsError(reason, detail, peer),
      });
    } else {
      if (ctx.stateDir) node = (await loadOrCreateIdentity(ctx.stateDir)).nodeId;
      listener = Deno.listen({ hostname: target.hostname, port: target.port });
    }
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`Cannot listen on "${url.text}": ${(e as Error).message}`);
  }
  const addr = listener.addr as Deno.NetAddr;
  const cl = new CableListener(
    `${url.scheme}://${hostPort(addr.hostname, addr.port)}`,
    listener,
    tokens,
    node,
    ctx,
  );
  onTlsError = (reason, detail, peer) => cl.refuseTls(reason, detail, peer);
  return cl;
}

export const tcpKind: EndpointKind = {
  scheme: "tcp",
  syntax:
    "tcp://HOST:PORT[?token=T|framing=qemu] — weft cable over plain TCP; framing=qemu: QEMU/passt",
  open: openCable,
};

export const tlsKind: EndpointKind = {
  scheme: "tls",
  syntax: "tls://HOST:PORT?fp=sha256:HEX[&token-file=F] — weft cable over TLS, server pinned",
  open: openCable,
};

export const tcpListener: ListenerKind = {
  scheme: "tcp",
  syntax: "tcp://ADDR:PORT[?token-file=F] — accept weft cables over plain TCP",
  listen: listenCables,
};

export const tlsListener: ListenerKind = {
  scheme: "tls",
  syntax: "tls://ADDR:PORT?token-file=F — accept weft cables over TLS with this node's identity",
  listen: listenCables,
};
