/**
 * Adapts a Node.js stream socket (from `node:tls`) to the `read(into)` / `write(bytes)` shape of
 * Deno.Conn that StreamEndpoint uses. Reads copy from the socket's chunks into the caller's buffer
 * (keeping the rest for the next read); writes copy the caller's bytes, because a Node socket
 * keeps written chunks by reference and weft's batch buffers are reused.
 */

import type { Socket } from "node:net";
import type { ByteReader, ByteWriter } from "./stream.ts";

export interface NodeSocketIo extends ByteReader, ByteWriter {
  close(): void;
}

export function nodeSocketIo(socket: Socket): NodeSocketIo {
  const chunks: Uint8Array[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  socket.on("data", (d: Uint8Array) => {
    chunks.push(d);
    if (chunks.length > 64) socket.pause(); // bounded: resume when read() catches up
    notify();
  });
  socket.on("end", () => (ended = true, notify()));
  socket.on("close", () => (ended = true, notify()));
  socket.on("error", (e: Error) => (failure = e, notify()));
  return {
    async read(p) {
      while (chunks.length === 0) {
        if (failure) throw failure;
        if (ended) return null;
        await new Promise<void>((r) => (wake = r));
      }
      const head = chunks[0];
      const n = Math.min(p.length, head.length);
      p.set(head.subarray(0, n));
      if (n === head.length) chunks.shift();
      else chunks[0] = head.subarray(n);
      if (chunks.length <= 16 && socket.isPaused()) socket.resume();
      return n;
    },
    async write(p) {
      if (failure) throw failure;
      if (ended) throw new Deno.errors.BrokenPipe("the connection is closed");
      if (!socket.write(p.slice())) {
        await new Promise<void>((resolve) => {
          const done = () => (socket.off("drain", done), socket.off("close", done), resolve());
          socket.on("drain", done);
          socket.on("close", done);
        });
      }
      return p.length;
    },
    close() {
      socket.destroy();
    },
  };
}
