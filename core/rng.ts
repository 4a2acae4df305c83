/**
 * Randomness as an injected dependency. `SeededRng` is xoshiro128** (Blackman & Vigna): fast,
 * 128-bit state, good statistical quality, and the same sequence for the same seed, which makes
 * simulated-time tests repeatable. Not for secrets: keys come from WebCrypto.
 */

export interface Rng {
  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number;
  /** A float in [0, 1). */
  float(): number;
  /** An integer in [0, n). */
  below(n: number): number;
  /** Fill a buffer with random bytes. */
  fill(bytes: Uint8Array): Uint8Array;
}

abstract class RngBase implements Rng {
  abstract u32(): number;
  float(): number {
    return this.u32() / 4294967296;
  }
  below(n: number): number {
    return Math.floor(this.float() * n);
  }
  fill(bytes: Uint8Array): Uint8Array {
    for (let i = 0; i < bytes.length; i += 4) {
      let r = this.u32();
      for (let j = i; j < i + 4 && j < bytes.length; j++, r >>>= 8) bytes[j] = r & 0xff;
    }
    return bytes;
  }
}

export class SeededRng extends RngBase {
  #s = new Uint32Array(4);

  constructor(seed: number) {
    super();
    // splitmix32 expands the seed so that nearby seeds give unrelated states and none is all-zero.
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  u32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Randomness from the operating system (WebCrypto), for production jitter and identifiers. */
export class CryptoRng extends RngBase {
  #buf = new Uint32Array(256);
  #i = 256;
  u32(): number {
    if (this.#i === 256) {
      crypto.getRandomValues(this.#buf);
      this.#i = 0;
    }
    return this.#buf[this.#i++];
  }
}
