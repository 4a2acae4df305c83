/**
 * Packet captures for byte-exact assertions: `tcpdump -w` on an interface inside a namespace, read
 * back here frame by frame (pcap-savefile(5), PROTOCOLS §5). The kernel's packet socket restores
 * an 802.1Q tag the driver may have moved out of band, so a capture on a TAP shows the frame as it
 * was on the wire.
 */

import type { Netns } from "./netns.ts";
import type { Background } from "./process.ts";

export interface CapturedFrame {
  /** Seconds since the epoch, fractional. */
  time: number;
  data: Uint8Array;
}

/** A running capture; `stop()` ends it and returns the frames. */
export class Capture implements AsyncDisposable {
  readonly file: string;
  readonly process: Background;

  constructor(file: string, process: Background) {
    this.file = file;
    this.process = process;
  }

  /** Stop tcpdump (it flushes on SIGTERM) and parse what it wrote. */
  async stop(): Promise<CapturedFrame[]> {
    await this.process.stop();
    return parsePcap(await Deno.readFile(this.file));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.process.stop();
  }
}

/**
 * Start `tcpdump` on `dev` in `ns`, writing every frame whole to `file`, and wait until it is
 * listening. `--immediate-mode -U` so that nothing sits in a buffer when the capture stops early
 * (TESTING.md).
 */
export async function startCapture(
  ns: Netns,
  dev: string,
  file: string,
  filter: string[] = [],
): Promise<Capture> {
  const p = ns.spawn(
    ["tcpdump", "-i", dev, "--immediate-mode", "-U", "-s", "0", "-w", file, ...filter],
    { name: `tcpdump ${dev}` },
  );
  await p.waitForOutput(/listening on/, 10_000);
  return new Capture(file, p);
}

/** Parse a classic pcap file (either byte order, µs or ns timestamps). Ethernet only. */
export function parsePcap(bytes: Uint8Array): CapturedFrame[] {
  if (bytes.length < 24) throw new Error(`pcap too short: ${bytes.length} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicLE = v.getUint32(0, true);
  let le: boolean, nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true;
    nano = magicLE === 0xa1b23c4d;
  } else {
    const magicBE = v.getUint32(0, false);
    if (magicBE !== 0xa1b2c3d4 && magicBE !== 0xa1b23c4d) {
      throw new Error(`not a pcap file (magic 0x${magicLE.toString(16)})`);
    }
    le = false;
    nano = magicBE === 0xa1b23c4d;
  }
  const linktype = v.getUint32(20, le) & 0xffff;
  if (linktype !== 1) throw new Error(`pcap link type ${linktype}, expected 1 (Ethernet)`);
  const frames: CapturedFrame[] = [];
  let o = 24;
  while (o + 16 <= bytes.length) {
    const sec = v.getUint32(o, le), frac = v.getUint32(o + 4, le), incl = v.getUint32(o + 8, le);
    if (o + 16 + incl > bytes.length) break; // a record cut short by the stop
    frames.push({
      time: sec + frac / (nano ? 1e9 : 1e6),
      data: bytes.slice(o + 16, o + 16 + incl),
    });
    o += 16 + incl;
  }
  return frames;
}

/** Lower-case hex of bytes, for readable assertion messages. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
