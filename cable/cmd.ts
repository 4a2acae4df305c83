/**
 * `cmd://COMMAND` — spawn `sh -c COMMAND` and talk vde_plug's 2-byte framing over its stdin and
 * stdout (vdeplug4's `cmd://`), e.g. `cmd://ssh hostB weft plug vde:///run/b`. The command's
 * stderr passes through; its exit closes the endpoint, and closing the endpoint ends the command.
 */

import { MAX_FRAME } from "../core/endpoint.ts";
import { ConfigError } from "../core/errors.ts";
import type { EndpointKind } from "./registry.ts";
import { type ByteReader, StreamEndpoint } from "./stream.ts";

/** Adapts a ReadableStream to `read(into)`, keeping what did not fit for the next call. */
export function readerOf(stream: ReadableStream<Uint8Array>): ByteReader {
  const r = stream.getReader();
  let left: Uint8Array | undefined;
  return {
    async read(p) {
      if (!left || left.length === 0) {
        const { value, done } = await r.read();
        if (done) return null;
        left = value;
      }
      const n = Math.min(p.length, left.length);
      p.set(left.subarray(0, n));
      left = left.subarray(n);
      return n;
    },
  };
}

export function openCmd(
  command: string,
  mtu = MAX_FRAME,
  onError?: (message: string) => void,
): StreamEndpoint {
  if (command.trim() === "") throw new ConfigError(`Invalid cmd:// URL: the command is empty`);
  const child = new Deno.Command("sh", {
    args: ["-c", command],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const w = child.stdin.getWriter();
  const ep = new StreamEndpoint(`cmd://${command}`, readerOf(child.stdout), {
    write: async (p) => {
      await w.write(p.slice()); // the stream keeps the chunk; our batch buffer is reused
      return p.length;
    },
  }, {
    headerBytes: 2,
    mtu,
    onError,
    onClose: () => {
      w.close().catch(() => {});
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
    },
  });
  child.status.then(() => ep.close());
  return ep;
}

export const cmdKind: EndpointKind = {
  scheme: "cmd",
  syntax: "cmd://COMMAND — run COMMAND with sh -c, vde_plug framing on its stdin/stdout",
  keepQuery: true,
  open: (url, ctx) =>
    Promise.resolve(
      openCmd(url.rest, MAX_FRAME, (error) => ctx.logger.log("warn", "cmd cable", { error })),
    ),
};
