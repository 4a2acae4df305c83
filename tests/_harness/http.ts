/**
 * A bulk TCP transfer between two namespaces through the fabric under test: a random file served
 * by `python3 -m http.server` in one namespace and fetched by `curl` in another, compared by
 * `sha256sum`. Tens of thousands of full-size frames in both directions (data and ACKs), with the
 * kernel's TCP as the judge of loss, reordering and corruption.
 */

import { hostPort } from "../../core/host_port.ts";
import type { Background } from "./process.ts";
import type { Netns } from "./netns.ts";

export interface ServedFile {
  url: string;
  /** Hex sha256 of the file, from `sha256sum`. */
  sha256: string;
  bytes: number;
  server: Background;
}

export interface ServeOptions {
  /** Address the server binds to inside its namespace (IPv4 or IPv6, no brackets). */
  bind: string;
  port?: number;
  mib: number;
  /** A temporary directory owned by the test; the file is written there. */
  dir: string;
}

/** Write `mib` MiB of random bytes into DIR/random.bin and serve DIR over HTTP from `ns`. */
export async function serveRandomFile(ns: Netns, opts: ServeOptions): Promise<ServedFile> {
  const port = opts.port ?? 8080;
  const bytes = opts.mib * 1024 * 1024;
  const path = `${opts.dir}/random.bin`;
  await writeRandomFile(path, bytes);
  const sha256 = await sha256sum(path);
  const server = ns.spawn(
    [
      "python3",
      "-u",
      "-m",
      "http.server",
      "--bind",
      opts.bind,
      "--directory",
      opts.dir,
      String(port),
    ],
    { name: "http.server" },
  );
  // Printed after the socket is bound and listening; -u keeps it from sitting in a buffer.
  await server.waitForOutput(/Serving HTTP on/, 15_000);
  return { url: `http://${hostPort(opts.bind, port)}/random.bin`, sha256, bytes, server };
}

export interface Download {
  sha256: string;
  bytes: number;
  ms: number;
  /** MiB/s over the whole curl run. */
  mibPerSec: number;
}

/** Fetch `url` with curl from `ns` into `dest`, bounded by `timeoutSec`; throws on any failure. */
export async function download(
  ns: Netns,
  url: string,
  dest: string,
  timeoutSec = 45,
): Promise<Download> {
  const t0 = performance.now();
  const r = await ns.exec(
    [
      "curl",
      "-sS",
      "--fail",
      "--connect-timeout",
      "5",
      "--max-time",
      String(timeoutSec),
      "-o",
      dest,
      url,
    ],
    { timeoutMs: (timeoutSec + 5) * 1000 },
  );
  const ms = performance.now() - t0;
  if (!r.success) {
    throw new Error(`curl ${url} from ${ns.name} failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
  const bytes = (await Deno.stat(dest)).size;
  return { sha256: await sha256sum(dest), bytes, ms, mibPerSec: bytes / 1048576 / (ms / 1000) };
}

/** Hex sha256 of a file, by the coreutils tool (an independent implementation from ours). */
export async function sha256sum(path: string): Promise<string> {
  const out = await new Deno.Command("sha256sum", { args: [path], stdout: "piped" }).output();
  const m = /^([0-9a-f]{64})\s/.exec(new TextDecoder().decode(out.stdout));
  if (!out.success || !m) throw new Error(`sha256sum ${path} failed`);
  return m[1];
}

/** Write `bytes` random bytes (getRandomValues fills at most 64 KiB per call). */
export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const chunk = new Uint8Array(1024 * 1024);
    for (let left = bytes; left > 0;) {
      const n = Math.min(left, chunk.length);
      for (let o = 0; o < n; o += 65536) {
        crypto.getRandomValues(chunk.subarray(o, Math.min(n, o + 65536)));
      }
      let w = 0;
      while (w < n) w += await f.write(chunk.subarray(w, n));
      left -= n;
    }
  } finally {
    f.close();
  }
}
