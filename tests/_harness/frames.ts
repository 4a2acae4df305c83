/**
 * Building test frames by hand: Ethernet II with an optional 802.1Q tag and a payload that says
 * which frame it is, so order and integrity can be asserted at the far end.
 */

export function mac(n: number): Uint8Array {
  // Locally administered unicast (IEEE 802 U/L bit set, I/G bit clear): 02:00:00:xx:xx:xx.
  return new Uint8Array([0x02, 0, 0, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

export const BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export interface FrameSpec {
  dst: Uint8Array;
  src: Uint8Array;
  vid?: number;
  etherType?: number;
  /** Total frame length; the payload is filled with a counter pattern. */
  length?: number;
  seq?: number;
}

export function frame(spec: FrameSpec): Uint8Array {
  const tag = spec.vid === undefined ? 0 : 4;
  const length = spec.length ?? 64;
  const f = new Uint8Array(length);
  f.set(spec.dst, 0);
  f.set(spec.src, 6);
  if (tag) {
    f[12] = 0x81;
    f[13] = 0x00;
    f[14] = (spec.vid! >> 8) & 0x0f;
    f[15] = spec.vid! & 0xff;
  }
  const et = spec.etherType ?? 0x88b5; // IEEE 802 local experimental EtherType
  f[12 + tag] = et >> 8;
  f[13 + tag] = et & 0xff;
  const seq = spec.seq ?? 0;
  for (let i = 14 + tag; i < length; i++) f[i] = (seq + i) & 0xff;
  return f;
}

/** A sink that copies what it receives (frames are borrowed). */
export function collector(): { frames: Uint8Array[]; sink: (f: Uint8Array) => void } {
  const frames: Uint8Array[] = [];
  return { frames, sink: (f) => frames.push(f.slice()) };
}
