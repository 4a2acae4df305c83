/**
 * bench/peers/vde_blast.c from Deno: one C process attached to a VDE switch twice (libvdeplug), a
 * sender of 64-byte sequence-numbered frames and a sink that counts them, with at most `window`
 * frames between the two — so the switch always has input and never has to drop, and the rate
 * is its lossless forwarding rate (RFC 2544 §26.1 "throughput"). A line on its stdin gets back
 * `SENT RECEIVED LOST MONOTONIC_NS`, so windows are timed by the generator itself.
 */

import { type Background, errorText, spawn } from "../tests/_harness/process.ts";
import { type Built, ensurePeerBinary } from "./peer_build.ts";

/** Frames in flight between vde_blast's sender and sink: 3/4 of weft's per-port output queue. */
export const BLAST_WINDOW = 768;

/**
 * Build bench/peers/vde_blast.c (via build_vde_blast.sh, which installs gcc / libvdeplug-dev with
 * apt when missing), cached by peer_build.ts. Returns its path, or why there is none.
 */
export function ensureVdeBlast(): Promise<Built> {
  return ensurePeerBinary("vde_blast", "build_vde_blast.sh");
}

/** What vde_blast answers to a line on its stdin. */
export interface BlastCounts {
  sent: number;
  received: number;
  /** Frames lost: gaps in the sequence numbers the sink saw, or written off after a stall. */
  lost: number;
  /** CLOCK_MONOTONIC when the counts were read, in ns. */
  ns: number;
}

/** A running `vde_blast DIR WINDOW`, asked for its counts over stdin/stdout. */
export class Blaster {
  readonly process: Background;
  readonly #lines: ReadableStreamDefaultReader<string>;
  #buffer = "";

  private constructor(process: Background) {
    this.process = process;
    this.#lines = process.stdout!.pipeThrough(new TextDecoderStream()).getReader();
  }

  static async start(bin: string, dir: string, window = BLAST_WINDOW): Promise<Blaster> {
    const p = spawn([bin, dir, String(window)], {
      name: "vde_blast",
      stdin: "piped",
      stdout: "raw",
    });
    const b = new Blaster(p);
    try {
      const first = await b.#line(10_000);
      if (first !== "ready") throw new Error(`vde_blast said "${first}" instead of "ready"`);
    } catch (e) {
      await p.stop();
      throw new Error(`${errorText(e)}\n${p}`);
    }
    return b;
  }

  get pid(): number {
    return this.process.pid;
  }

  async counts(): Promise<BlastCounts> {
    await this.process.stdin!.write(new TextEncoder().encode("\n"));
    const line = await this.#line(5_000);
    const f = line.split(" ").map(Number);
    if (f.length !== 4 || f.some((x) => !Number.isFinite(x))) {
      throw new Error(`vde_blast answered "${line}", expected "SENT RECEIVED LOST NS"`);
    }
    return { sent: f[0], received: f[1], lost: f[2], ns: f[3] };
  }

  async stop(): Promise<void> {
    await this.process.stop();
    await this.#lines.cancel().catch(() => {});
  }

  /** The next line of stdout, bounded in time. */
  async #line(timeoutMs: number): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    for (let i = 0; i < 10_000; i++) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        return line;
      }
      const left = deadline - performance.now();
      if (left <= 0) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), left));
      const got = await Promise.race([this.#lines.read(), late]);
      clearTimeout(timer);
      if (got === "late") break;
      if (got.done) throw new Error("vde_blast closed its stdout");
      this.#buffer += got.value;
    }
    throw new Error(`vde_blast did not answer within ${timeoutMs} ms`);
  }
}
