/**
 * VDE wire formats written from the specification (PROTOCOLS §1–2), independently of weft's own
 * codecs, so that tests can feed a switch exact bytes — valid, hostile or broken — without
 * trusting the code under test to build them.
 */

/** `SWITCH_MAGIC` of the vde_switch ctl request. */
export const VDE_MAGIC = 0xfeedface;
/** sizeof(struct sockaddr_un) on Linux. */
export const SOCKADDR_UN_SIZE = 110;

export interface CtlRequest {
  magic?: number;
  version?: number;
  /** `REQ_NEW_CONTROL` (0) plus the port number << 8. */
  type?: number;
  /** The client's bound datagram socket path. */
  sock?: string;
  description?: string;
}

/**
 * Encode a `request_v3` as vdeplug4 sends it: magic, version, type (uint32, host order =
 * little-endian here), a 110-byte sockaddr_un, then the description without a NUL.
 */
export function encodeCtlRequest(req: CtlRequest = {}): Uint8Array {
  const enc = new TextEncoder();
  const descr = enc.encode(req.description ?? "weft test");
  const b = new Uint8Array(12 + SOCKADDR_UN_SIZE + descr.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, req.magic ?? VDE_MAGIC, true);
  v.setUint32(4, req.version ?? 3, true);
  v.setUint32(8, req.type ?? 0, true);
  v.setUint16(12, 1, true); // AF_UNIX
  b.set(enc.encode(req.sock ?? "").subarray(0, 107), 14);
  b.set(descr, 12 + SOCKADDR_UN_SIZE);
  return b;
}

/** Frame one Ethernet frame for a vde_plug stream: 2-byte big-endian length, then the bytes. */
export function streamFrame(frame: Uint8Array): Uint8Array {
  const b = new Uint8Array(2 + frame.length);
  b[0] = frame.length >> 8;
  b[1] = frame.length & 0xff;
  b.set(frame, 2);
  return b;
}

/** Parse a MAC `aa:bb:cc:dd:ee:ff` into 6 bytes. */
export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(":");
  if (parts.length !== 6) throw new Error(`Invalid MAC "${mac}"`);
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** IEEE 802 "local experimental" EtherType: nobody's stack acts on it. */
export const ETHERTYPE_EXPERIMENTAL = 0x88b5;

/**
 * A stream of 60-byte frames with pseudo-random, unicast, locally administered source MACs — the
 * classic MAC-table exhaustion attack — in vde_plug 2-byte framing, produced in chunks so memory
 * stays flat. Every source MAC is distinct (the low 32 bits are a bijective hash of the frame's
 * index; the high bits come from a seeded xorshift), so "learned + refused = frames sent" holds
 * exactly, and a failure can be replayed from the seed.
 */
export class MacFlood {
  readonly dst: Uint8Array;
  /** Frames produced so far. */
  count = 0;
  #state: number;
  static readonly FRAME = 60;

  constructor(dst: Uint8Array, seed = 0x9e3779b9) {
    this.dst = dst;
    this.#state = seed >>> 0 || 1;
  }

  /** The next `n` frames, each `[0, 60, 60 bytes of frame]`. */
  chunk(n: number): Uint8Array {
    const size = 2 + MacFlood.FRAME;
    const b = new Uint8Array(n * size);
    let s = this.#state;
    for (let i = 0, o = 0; i < n; i++, o += size) {
      b[o + 1] = MacFlood.FRAME;
      b.set(this.dst, o + 2);
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      // Multiplying by an odd constant is a bijection mod 2^32: distinct indexes, distinct MACs.
      const lo = Math.imul(++this.count, 0x9e3779b1) >>> 0;
      b[o + 8] = (s & 0xfc) | 0x02; // unicast (I/G = 0), locally administered (U/L = 1)
      b[o + 9] = (s >>> 8) & 0xff;
      b[o + 10] = lo >>> 24;
      b[o + 11] = (lo >>> 16) & 0xff;
      b[o + 12] = (lo >>> 8) & 0xff;
      b[o + 13] = lo & 0xff;
      b[o + 14] = ETHERTYPE_EXPERIMENTAL >> 8;
      b[o + 15] = ETHERTYPE_EXPERIMENTAL & 0xff;
    }
    this.#state = s;
    return b;
  }
}
