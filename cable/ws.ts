/**
 * `ws://HOST:PORT/PATH[?token=T|token-file=F&queue=BYTES]`, `wss://HOST:PORT/PATH[?ca=FILE&…]`
 * — a WebSocket client. As a listener kind, `weft switch --listen ws://127.0.0.1:8080/weft`
 * accepts WebSocket clients on that path, each a new port; `wss://HOST:PORT/PATH?cert=FILE&key=FILE`
 * does the same over TLS with a PEM certificate chain and key; both take `?token-file=PATH`.
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
 * Authentication: a listener with `?token-file=PATH` (one token per line, the file tcp:// and
 * tls:// read) admits an upgrade request only with one of those tokens, and refuses it before
 * the upgrade with HTTP 401 otherwise, counted as `noToken` or `badToken`. A browser cannot set
 * headers on a WebSocket but can offer subprotocols (the way Kubernetes carries bearer tokens,
 * `base64url.bearer.authorization.k8s.io.TOKEN`), so the token travels as the subprotocol
 * `weft.token.B64` where B64 is the token's UTF-8 bytes in base64url without padding (RFC 4648
 * §5): a token from a file may hold any character, a subprotocol only RFC 7230 token characters
 * (RFC 6455 §4.1), and the encoding makes every token fit. Other clients may send
 * `Authorization: Bearer TOKEN` (RFC 6750) instead. The server's answer may only name one of the
 * offered subprotocols (RFC 6455 §4.2.2 step 5, §4.1), and a browser fails the connection when
 * it names none (WHATWG Fetch, "establish a WebSocket connection"; seen in Chromium), so the
 * listener picks `weft` when it is offered — clients should offer `["weft", "weft.token.B64"]`,
 * and then the token is never sent back — else the token subprotocol itself. weft's own client
 * takes `?token=TEXT` or `?token-file=PATH`, sends them that way, and reports a 401 as a clear
 * error at open. Tokens are never logged.
 *
 * Without `token-file` anyone who reaches the listener gets a port (v86 relays and pages that
 * cannot authenticate): like plain `tcp://`, bind it to loopback then, or put it behind an
 * authenticating proxy. Every refusal (`notWebSocket`, `noToken`, `badToken`, `badHandshake`,
 * `attachRefused`) is counted, logged and told to `ctx.onRefused` with the peer's address.
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
import { clientToken, listenerTokens, redactToken, tokenAdmitted } from "./tcp.ts";

/** Bytes `bufferedAmount` may reach before frames are dropped: ~2,800 full 1,514-byte frames. */
export const DEFAULT_WS_QUEUE = 4 * 1024 * 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The subprotocol a listener answers with when a client offers it (so no token is echoed). */
export const WS_PROTOCOL = "weft";
/** Prefix of the subprotocol that carries a token: `weft.token.` + base64url(UTF-8 token). */
export const WS_TOKEN_PREFIX = "weft.token.";

/** The subprotocol carrying `token`: only RFC 7230 token characters, whatever the token holds. */
export function wsTokenProtocol(token: string): string {
  const b64 = new TextEncoder().encode(token).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
  return WS_TOKEN_PREFIX + b64;
}

/** The token a `weft.token.…` subprotocol carries; undefined when it is not valid base64url UTF-8. */
export function tokenOfProtocol(protocol: string): string | undefined {
  if (!protocol.startsWith(WS_TOKEN_PREFIX)) return undefined;
  try {
    const bytes = Uint8Array.fromBase64(protocol.slice(WS_TOKEN_PREFIX.length), {
      alphabet: "base64url",
      lastChunkHandling: "loose",
    });
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

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
  /** The URL as the user wrote it, for messages (with no token in it). */
  shown?: string;
  /** Offer this token to the server, as the subprotocol `weft.token.…` next to `weft`. */
  token?: string;
}

/** Connect to a WebSocket server; resolves once the connection is open. */
export function openWs(url: string, opts: OpenWsOptions = {}): Promise<WsEndpoint> {
  const shown = opts.shown ?? url;
  const fail = (why: string) => new ConfigError(`Cannot open endpoint "${shown}": ${why}`);
  let client: Deno.HttpClient | undefined;
  let ws: WebSocket;
  try {
    client = opts.caCerts ? Deno.createHttpClient({ caCerts: opts.caCerts }) : undefined;
    ws = new WebSocket(url, {
      ...(client ? { client } : {}),
      ...(opts.token !== undefined
        ? { protocols: [WS_PROTOCOL, wsTokenProtocol(opts.token)] }
        : {}),
    });
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
    ws.onerror = (ev) => settle(fail(openError((ev as ErrorEvent).message, opts.token)));
    ws.onclose = (ev) => settle(fail(`closed during the handshake (${ev.code} ${ev.reason})`));
  });
}

/**
 * Why opening failed, from the WebSocket error text: Deno gives no response to look at, only
 * "Invalid status code: 401" over HTTP/1.1. Over TLS it negotiates HTTP/2 with a Deno server and
 * WebSockets ride an extended CONNECT (RFC 8441), where any refusal reads "stream error
 * received": the status is lost, so the message names what it may be.
 */
function openError(message: string | undefined, token: string | undefined): string {
  const hint = token === undefined ? ": add ?token=TEXT or ?token-file=PATH if it needs one" : "";
  if (!message) return "connection failed";
  if (/stream error received/.test(message)) {
    return `the server refused the WebSocket (over HTTP/2 Deno does not say why: a wrong path, ` +
      `or a ${token === undefined ? "missing" : "wrong"} token)${hint}`;
  }
  if (!/status code:? 401\b/.test(message)) return message;
  return token === undefined
    ? "the server requires a token (HTTP 401): add ?token=TEXT or ?token-file=PATH"
    : "the server refused the token (HTTP 401)";
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
  /** Admit only clients with one of these tokens (subprotocol or bearer); anyone without. */
  tokens?: string[];
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

  /** Count, log and report a refusal; never with the token. */
  #refuse(reason: string, peer: string, error?: string): void {
    countRefusal(this.refused, reason);
    this.ctx.logger.log("warn", "ws client refused", {
      url: this.url,
      peer,
      reason,
      ...(error ? { error } : {}),
    });
    this.ctx.onRefused?.(reason, peer);
  }

  #handle(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response {
    const path = new URL(req.url).pathname;
    if (path !== this.address.path) return new Response("Not Found\n", { status: 404 });
    // Read before the upgrade: afterwards the request is closed and `remoteAddr` throws.
    const peer = hostPort(info.remoteAddr.hostname, info.remoteAddr.port);
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      this.#refuse("notWebSocket", peer);
      return new Response("Upgrade Required: this is a weft WebSocket endpoint\n", {
        status: 426,
        headers: { upgrade: "websocket", connection: "Upgrade" },
      });
    }
    const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",")
      .map((p) => p.trim()).filter((p) => p !== "");
    const tokenProtocols = offered.filter((p) => p.startsWith(WS_TOKEN_PREFIX));
    const tokens = this.opts.tokens;
    if (tokens) {
      // Either carrier admits: a proxy may add an Authorization header of its own.
      const bearer = /^Bearer +(\S+) *$/i.exec(req.headers.get("authorization") ?? "")?.[1];
      const given = [bearer, ...tokenProtocols.map(tokenOfProtocol)];
      if (!given.some((t) => tokenAdmitted(tokens, t))) {
        const reason = bearer === undefined && tokenProtocols.length === 0 ? "noToken" : "badToken";
        this.#refuse(reason, peer);
        return new Response(
          "Unauthorized: offer the subprotocol weft.token.<base64url token> " +
            "or send Authorization: Bearer <token>\n",
          { status: 401, headers: { "www-authenticate": 'Bearer realm="weft"' } },
        );
      }
    }
    // The answer must name an offered subprotocol or browsers fail the connection (WHATWG
    // Fetch): `weft` when offered keeps the token out of the response, else the token's own.
    const protocol = offered.includes(WS_PROTOCOL) ? WS_PROTOCOL : tokenProtocols[0];
    let upgrade: Deno.WebSocketUpgrade;
    try {
      upgrade = Deno.upgradeWebSocket(req, protocol === undefined ? undefined : { protocol });
    } catch (e) {
      this.#refuse("badHandshake", peer, errorText(e));
      return new Response(`Bad WebSocket handshake: ${errorText(e)}\n`, { status: 400 });
    }
    const { socket, response } = upgrade;
    const n = ++this.#clients;
    socket.onopen = () => {
      const ep = new WsEndpoint(socket, this.url, this.opts);
      try {
        this.ctx.accept(ep, `ws client ${n} from ${peer}`);
        this.accepted++;
      } catch (e) {
        ep.close();
        this.#refuse("attachRefused", peer, errorText(e));
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

const WS_OPEN_OPTIONS = ["queue", "ca", "token", "token-file"];
const WS_LISTEN_OPTIONS = ["queue", "cert", "key", "token-file"];

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
      ? "ws://HOST:PORT/PATH[?token=T|token-file=F&queue=BYTES] — WebSocket client, one frame " +
        "per binary message"
      : "wss://HOST:PORT/PATH[?ca=FILE&token=T|token-file=F&queue=BYTES] — WebSocket over TLS",
    async open(url, ctx) {
      const shown = redactToken(url.text);
      const ca = url.params.get("ca");
      if (ca !== null && scheme === "ws") {
        throw new ConfigError(`Cannot open endpoint "${shown}": ?ca= needs wss://`);
      }
      const target = parseWsUrl(url.text, WS_OPEN_OPTIONS);
      return await openWs(
        `${scheme}://${hostPort(target.hostname, target.port)}${target.path}${target.search}`,
        {
          shown,
          token: await clientToken(url),
          maxQueued: queueOption(url),
          caCerts: ca === null ? undefined : [readPem("CA certificate", ca, shown)],
          onError: (error) => ctx.logger.log("warn", "ws cable", { url: shown, error }),
        },
      );
    },
  };
}

function wsListenerKind(scheme: "ws" | "wss"): ListenerKind {
  return {
    scheme,
    syntax: scheme === "ws"
      ? "ws://HOST:PORT/PATH[?token-file=F] — accept WebSocket clients on PATH, each a new port"
      : "wss://HOST:PORT/PATH?cert=FILE&key=FILE[&token-file=F] — the same over TLS (PEM)",
    async listen(url, ctx) {
      for (const key of url.params.keys()) {
        if (!WS_LISTEN_OPTIONS.includes(key)) {
          throw new ConfigError(
            `Cannot listen on "${url.text}": unknown option "${key}" (${scheme} takes ` +
              `${scheme === "ws" ? "queue, token-file" : "cert, key, queue, token-file"})`,
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
      const tokens = await listenerTokens(url);
      return await listenWs(url.text, ctx, {
        tls,
        tokens,
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
