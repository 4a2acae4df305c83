/**
 * `ws://HOST:PORT/PATH[?queue=BYTES]`, `wss://HOST:PORT/PATH[?ca=FILE&queue=BYTES]` — a WebSocket
 * client. As a listener kind, `weft switch --listen ws://127.0.0.1:8080/weft` accepts WebSocket
 * clients on that path, each a new port; `wss://HOST:PORT/PATH?cert=FILE&key=FILE` does the same
 * over TLS with a PEM certificate chain and key.
 *
 * Framing: one Ethernet frame per binary message, nothing else — no length (a WebSocket message
 * carries its own, RFC 6455 §5.2), no handshake beyond the HTTP upgrade. That is what v86's
 * network relay and browser-side VM networking speak (docs/PROTOCOLS.md §9), so a browser page is
 * a host on the fabric. Text messages and binary messages shorter than an Ethernet header or
 * longer than the MTU are counted (`text`, `runt`, `oversize`) and dropped; the connection stays.
 *
 * Back-pressure: `WebSocket.send` never blocks and queues without bound, so the endpoint checks
 * `bufferedAmount` (bytes queued, not yet handed to the socket) before each send and drops the
 * frame, counted as `queueFull`, when it would pass the limit (default 4 MiB, `?queue=BYTES`): a
 * stalled browser costs drops, not memory. Deno copies the frame during `send`, so the borrowed
 * frame is free again when `send` returns. No await per frame in either direction: messages arrive
 * as events and go to the sink synchronously.
 *
 * Deno's server side sends a ping after 30 s of silence and closes a peer that does not answer
 * (`idleTimeout`), so a vanished browser frees its port. Closing the endpoint sends a close frame
 * (1000, RFC 6455 §7.4.1); the peer closing closes the endpoint.
 *
 * No authentication yet: anyone who reaches the listener gets a port. Like plain `tcp://`, bind
 * it to loopback (or behind an authenticating proxy) until node identities and tokens cover it.
 *
 * The TLS identity of a `wss://` listener is a `{ cert, key }` pair of PEM texts (`WsTls`): the
 * URL names files for now; node identities can pass theirs to `listenWs` directly. A `wss://`
 * client trusts the system roots, plus `?ca=FILE` (PEM) for a self-signed listener.
 */

import { EndpointBase } from "../core/endpoint_base.ts";
import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError, parseIntIn } from "../core/errors.ts";
import { countRefusal, type EndpointListener, type ListenContext } from "./listener.ts";
import type { ListenerKind } from "./listener.ts";
import type { EndpointKind } from "./registry.ts";
import type { EndpointUrl } from "./url.ts";
import { hostPort } from "../core/host_port.ts";

/** Bytes `bufferedAmount` may reach before frames are dropped: ~2,800 full 1,514-byte frames. */
export const DEFAULT_WS_QUEUE = 4 * 1024 * 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface WsOptions {
  /** Largest frame, Ethernet header included (default 65,535). */
  mtu?: number;
  /** Bytes that may wait in the send queue before frames are dropped (default 4 MiB). */
  maxQueued?: number;
  /** Why the connection failed, when it did (close codes other than normal, socket errors). */
  onError?: (message: string) => void;
  /** Called once after the endpoint closed. */
  onClose?: () => void;
}

/** An endpoint over an open WebSocket, client or server side: one frame per binary message. */
export class WsEndpoint extends EndpointBase {
  readonly socket: WebSocket;
  readonly maxQueued: number;
  readonly #opts: WsOptions;

  constructor(socket: WebSocket, url: string, opts: WsOptions = {}) {
    super(url, opts.mtu ?? MAX_FRAME);
    this.socket = socket;
    this.maxQueued = opts.maxQueued ?? DEFAULT_WS_QUEUE;
    this.#opts = opts;
    socket.binaryType = "arraybuffer";
    socket.onmessage = (ev) => this.#receive(ev.data);
    socket.onerror = (ev) => {
      if (!this.isClosed) this.#opts.onError?.((ev as ErrorEvent).message ?? "WebSocket error");
    };
    socket.onclose = (ev) => {
      // 1000 normal, 1001 going away, 1005 no code given: ordinary ends of a connection.
      if (!this.isClosed && ev.code !== 1000 && ev.code !== 1001 && ev.code !== 1005) {
        this.#opts.onError?.(`closed by the peer: ${ev.code} ${ev.reason}`.trim());
      }
      this.close();
    };
  }

  #receive(data: unknown): void {
    const c = this.counters;
    if (this.isClosed) return;
    if (!(data instanceof ArrayBuffer)) {
      c.drop("text");
      return;
    }
    this.deliverChecked(new Uint8Array(data));
  }

  send(frame: Uint8Array): boolean {
    const c = this.counters;
    const ws = this.socket;
    const why = ws.readyState !== WebSocket.OPEN ? "closed" : this.unfit(frame.length);
    if (why) return c.drop(why);
    if (ws.bufferedAmount + frame.length > this.maxQueued) return c.drop("queueFull");
    try {
      ws.send(frame); // copied by Deno before it returns
    } catch {
      return c.drop("closed");
    }
    c.countOut(frame.length);
    return true;
  }

  protected closeResources(): void {
    const ws = this.socket;
    try {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        ws.close(1000);
      }
    } catch {
      // already closing
    }
    this.#opts.onClose?.();
  }
}

// ---------------------------------------------------------------------------------------------
// Client

export interface OpenWsOptions extends WsOptions {
  /** Extra PEM CA certificates a `wss://` server may be signed by (a self-signed listener). */
  caCerts?: string[];
  /** Give up connecting after this many milliseconds (default 10,000). */
  timeoutMs?: number;
  /** The URL as the user wrote it, for messages. */
  shown?: string;
}

/** Connect to a WebSocket server; resolves once the connection is open. */
export function openWs(url: string, opts: OpenWsOptions = {}): Promise<WsEndpoint> {
  const shown = opts.shown ?? url;
  const fail = (why: string) => new ConfigError(`Cannot open endpoint "${shown}": ${why}`);
  let client: Deno.HttpClient | undefined;
  let ws: WebSocket;
  try {
    client = opts.caCerts ? Deno.createHttpClient({ caCerts: opts.caCerts }) : undefined;
    ws = client ? new WebSocket(url, { client }) : new WebSocket(url);
  } catch (e) {
    client?.close();
    return Promise.reject(fail(errorText(e)));
  }
  const closeClient = () => client?.close();
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.onopen = ws.onerror = ws.onclose = null;
      if (err === undefined) {
        resolve(new WsEndpoint(ws, shown, { ...opts, onClose: chain(closeClient, opts.onClose) }));
        return;
      }
      try {
        ws.close();
      } catch {
        // not open
      }
      closeClient();
      reject(err);
    };
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(
      () => settle(fail(`no WebSocket connection within ${timeoutMs} ms`)),
      timeoutMs,
    );
    ws.onopen = () => settle();
    ws.onerror = (ev) => settle(fail((ev as ErrorEvent).message || "connection failed"));
    ws.onclose = (ev) => settle(fail(`closed during the handshake (${ev.code} ${ev.reason})`));
  });
}

// ---------------------------------------------------------------------------------------------
// Listener

/** A `wss://` listener's TLS identity: PEM certificate chain and private key. */
export interface WsTls {
  cert: string;
  key: string;
}

export interface ListenWsOptions extends WsOptions {
  /** Serve `wss://` with this identity; plain `ws://` without. */
  tls?: WsTls;
  /** The URL as the user wrote it, for messages. */
  shown?: string;
}

/** Where a `ws://`/`wss://` URL points: host (no brackets), port, path. */
export interface WsAddress {
  secure: boolean;
  hostname: string;
  port: number;
  path: string;
  /** The query the client passes on to the server (our own options removed). */
  search: string;
}

/** Parse `ws[s]://HOST[:PORT][/PATH][?QUERY]`; `own` are query options weft consumes. */
export function parseWsUrl(text: string, own: string[] = []): WsAddress {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new ConfigError(`Invalid WebSocket URL "${text}": expected ws://HOST:PORT/PATH`);
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new ConfigError(`Invalid WebSocket URL "${text}": the scheme must be ws or wss`);
  }
  if (u.hostname === "") throw new ConfigError(`Invalid WebSocket URL "${text}": no host`);
  if (u.username || u.password) {
    throw new ConfigError(`Invalid WebSocket URL "${text}": user info is not supported`);
  }
  const secure = u.protocol === "wss:";
  for (const k of own) u.searchParams.delete(k);
  return {
    secure,
    hostname: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: u.port === "" ? (secure ? 443 : 80) : Number(u.port),
    path: u.pathname === "" ? "/" : u.pathname,
    search: u.search,
  };
}

class WsListener implements EndpointListener {
  readonly refused: Record<string, number> = {};
  accepted = 0;
  readonly closed: Promise<void>;
  url = "";
  server!: Deno.HttpServer<Deno.NetAddr>;
  readonly #abort = new AbortController();
  #clients = 0;

  constructor(
    readonly address: WsAddress,
    readonly ctx: ListenContext,
    readonly opts: ListenWsOptions,
  ) {
    const { hostname, port } = address;
    this.server = Deno.serve({
      hostname,
      port,
      signal: this.#abort.signal,
      ...(opts.tls ? { cert: opts.tls.cert, key: opts.tls.key } : {}),
      // Deno.serve prints "Listening on …" on stdout unless told otherwise; stdout may be a
      // frame pipe (`weft plug`), and the log says where we listen anyway.
      onListen: () => {},
      onError: (e) => {
        ctx.logger.log("warn", "ws listener: request failed", { error: errorText(e) });
        return new Response("Internal Server Error", { status: 500 });
      },
    }, (req, info) => this.#handle(req, info));
    const addr = this.server.addr;
    this.url = `${address.secure ? "wss" : "ws"}://${
      hostPort(addr.hostname, addr.port)
    }${address.path}`;
    this.closed = this.server.finished;
  }

  #handle(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response {
    const path = new URL(req.url).pathname;
    if (path !== this.address.path) return new Response("Not Found\n", { status: 404 });
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      countRefusal(this.refused, "notWebSocket");
      return new Response("Upgrade Required: this is a weft WebSocket endpoint\n", {
        status: 426,
        headers: { upgrade: "websocket", connection: "Upgrade" },
      });
    }
    // Read before the upgrade: afterwards the request is closed and `remoteAddr` throws.
    const peer = info.remoteAddr;
    let upgrade: Deno.WebSocketUpgrade;
    try {
      upgrade = Deno.upgradeWebSocket(req);
    } catch (e) {
      countRefusal(this.refused, "badHandshake");
      return new Response(`Bad WebSocket handshake: ${errorText(e)}\n`, { status: 400 });
    }
    const { socket, response } = upgrade;
    const n = ++this.#clients;
    socket.onopen = () => {
      const ep = new WsEndpoint(socket, this.url, this.opts);
      try {
        this.ctx.accept(ep, `ws client ${n} from ${peer.hostname}:${peer.port}`);
        this.accepted++;
      } catch (e) {
        ep.close();
        countRefusal(this.refused, "attachRefused");
        this.ctx.logger.log("warn", "ws client refused", { url: this.url, error: errorText(e) });
      }
    };
    return response;
  }

  close(): void {
    this.#abort.abort();
  }
}

/**
 * Serve WebSocket clients on `ws[s]://HOST:PORT/PATH` (port 0: any free port, see `url`); each
 * client that completes the upgrade on PATH becomes an endpoint handed to `ctx.accept`.
 */
export function listenWs(
  url: string,
  ctx: ListenContext,
  opts: ListenWsOptions = {},
): Promise<EndpointListener> {
  const shown = opts.shown ?? url;
  const address = parseWsUrl(url, WS_LISTEN_OPTIONS);
  if (address.secure && !opts.tls) {
    throw new ConfigError(`Cannot listen on "${shown}": wss needs ?cert=FILE&key=FILE (PEM)`);
  }
  if (!address.secure && opts.tls) {
    throw new ConfigError(`Cannot listen on "${shown}": a certificate needs wss://, not ws://`);
  }
  try {
    return Promise.resolve(new WsListener(address, ctx, opts));
  } catch (e) {
    throw new ConfigError(`Cannot listen on "${shown}": ${errorText(e)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers and registration

const WS_OPEN_OPTIONS = ["queue", "ca"];
const WS_LISTEN_OPTIONS = ["queue", "cert", "key"];

function chain(...fns: (undefined | (() => void))[]): () => void {
  return () => {
    for (const f of fns) f?.();
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function readPem(what: string, file: string, shown: string): string {
  try {
    return Deno.readTextFileSync(file);
  } catch (e) {
    throw new ConfigError(
      `Cannot use "${shown}": cannot read the ${what} ${file} (${errorText(e)})`,
    );
  }
}

function queueOption(url: EndpointUrl): number | undefined {
  const q = url.params.get("queue");
  return q === null ? undefined : parseIntIn("ws queue", q, 65536, 1 << 30);
}

function wsKind(scheme: "ws" | "wss"): EndpointKind {
  return {
    scheme,
    syntax: scheme === "ws"
      ? "ws://HOST:PORT/PATH[?queue=BYTES] — WebSocket client, one frame per binary message"
      : "wss://HOST:PORT/PATH[?ca=FILE&queue=BYTES] — WebSocket over TLS, one frame per message",
    open(url, ctx) {
      const ca = url.params.get("ca");
      if (ca !== null && scheme === "ws") {
        throw new ConfigError(`Cannot open endpoint "${url.text}": ?ca= needs wss://`);
      }
      const target = parseWsUrl(url.text, WS_OPEN_OPTIONS);
      return openWs(
        `${scheme}://${hostPort(target.hostname, target.port)}${target.path}${target.search}`,
        {
          shown: url.text,
          maxQueued: queueOption(url),
          caCerts: ca === null ? undefined : [readPem("CA certificate", ca, url.text)],
          onError: (error) => ctx.logger.log("warn", "ws cable", { url: url.text, error }),
        },
      );
    },
  };
}

function wsListenerKind(scheme: "ws" | "wss"): ListenerKind {
  return {
    scheme,
    syntax: scheme === "ws"
      ? "ws://HOST:PORT/PATH — accept WebSocket clients on PATH, each a new port"
      : "wss://HOST:PORT/PATH?cert=FILE&key=FILE — the same over TLS (PEM certificate and key)",
    listen(url, ctx) {
      for (const key of url.params.keys()) {
        if (!WS_LISTEN_OPTIONS.includes(key)) {
          throw new ConfigError(
            `Cannot listen on "${url.text}": unknown option "${key}" (${scheme} takes ` +
              `${scheme === "ws" ? "queue" : "cert, key, queue"})`,
          );
        }
      }
      const cert = url.params.get("cert");
      const key = url.params.get("key");
      if ((cert === null) !== (key === null)) {
        throw new ConfigError(`Cannot listen on "${url.text}": give both ?cert=FILE and ?key=FILE`);
      }
      const tls = cert !== null && key !== null
        ? { cert: readPem("certificate", cert, url.text), key: readPem("key", key, url.text) }
        : undefined;
      return listenWs(url.text, ctx, {
        tls,
        shown: url.text,
        maxQueued: queueOption(url),
        onError: (error) => ctx.logger.log("warn", "ws cable", { url: url.text, error }),
      });
    },
  };
}

/** Client kinds for `openEndpoint`. */
export const wsKinds: EndpointKind[] = [wsKind("ws"), wsKind("wss")];
/** Listener kinds for `listenEndpoints` (`weft switch --listen ws://…`). */
export const wsListenerKinds: ListenerKind[] = [wsListenerKind("ws"), wsListenerKind("wss")];
