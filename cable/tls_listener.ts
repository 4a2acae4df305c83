/**
 * The TLS side of cable listeners, on `node:tls`.
 *
 * Why not `Deno.listenTls`: in Deno 2.9, closing a TlsConn whose handshake has not finished does
 * not close its TCP socket (measured: the client never sees EOF), so a client that connects and
 * says nothing would hold a socket forever however the listener times it out. `node:tls` has a
 * handshake timeout of its own and destroys such sockets. It also could ask for client
 * certificates, which `Deno.listenTls` cannot.
 */

import type { Socket } from "node:net";
import { nodeSocketIo } from "./node_socket.ts";
import type { ByteReader, ByteWriter } from "./stream.ts";

/** What a cable listener needs of an accepted connection (Deno.Conn has it too). */
export interface AcceptedConn extends ByteReader, ByteWriter {
  readonly remoteAddr: Deno.Addr;
  close(): void;
}

/** What a cable listener needs of its listening socket (Deno.Listener has it too). */
export interface ConnSource extends AsyncIterable<AcceptedConn> {
  readonly addr: Deno.Addr;
  close(): void;
}

export interface TlsSourceOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  handshakeTimeoutMs: number;
  /** A TLS-level failure before any weft byte: `timeout` or `badTransport`. */
  onTlsError(reason: "timeout" | "badTransport", detail: string, peer: string): void;
}

export async function listenNodeTls(o: TlsSourceOptions): Promise<ConnSource> {
  const tls = await import("node:tls");
  const waiting: AcceptedConn[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const server = tls.createServer({
    cert: o.cert,
    key: o.key,
    handshakeTimeout: o.handshakeTimeoutMs,
  }, (socket: Socket) => {
    socket.setNoDelay(true);
    const io = nodeSocketIo(socket);
    waiting.push({
      ...io,
      remoteAddr: {
        transport: "tcp",
        hostname: socket.remoteAddress ?? "?",
        port: socket.remotePort ?? 0,
      },
    });
    wake?.();
  });
  server.on("tlsClientError", (e: Error & { code?: string }, socket: Socket) => {
    const peer = `${socket?.remoteAddress}:${socket?.remotePort}`;
    const timeout = /timeout/i.test(e.message) || e.code === "ERR_TLS_HANDSHAKE_TIMEOUT";
    o.onTlsError(timeout ? "timeout" : "badTransport", e.message, peer);
    socket?.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address() as { address: string; port: number };
  return {
    addr: { transport: "tcp", hostname: a.address, port: a.port },
    close() {
      closed = true;
      server.close();
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      while (!closed) {
        const c = waiting.shift();
        if (c) yield c;
        else await new Promise<void>((r) => (wake = r));
      }
    },
  };
}
