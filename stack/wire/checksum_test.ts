import { assertEquals } from "@std/assert";
import { SeededRng } from "../../core/rng.ts";
import {
  checksum_finish,
  checksum_fold,
  checksum_update16,
  checksum_update32,
  internet_checksum,
  pseudo_sum_ipv4,
  pseudo_sum_ipv6,
  pseudo_sum_ipv6_addrs,
  sum16,
} from "./checksum.ts";
import { frame } from "./_captured.ts";

Deno.test("checksum: the RFC 1071 §3 numerical example", () => {
  const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assertEquals(checksum_fold(sum16(b, 0, 8)), 0xddf2);
  assertEquals(internet_checksum(b, 0, 8), 0x220d);
});

Deno.test("checksum: odd length pads a zero byte; bytes past the buffer count as zero", () => {
  const b = new Uint8Array([0x12, 0x34, 0x56]);
  assertEquals(checksum_fold(sum16(b, 0, 3)), 0x1234 + 0x5600);
  assertEquals(sum16(b, 0, 8), sum16(b, 0, 3));
});

Deno.test("checksum: captured IPv4 header and UDP/IPv4 datagram verify", () => {
  const f = frame("udp4");
  assertEquals(internet_checksum(f, 14, 20), 0);
  const ps = pseudo_sum_ipv4(0x0a370001, 0x0a370002, 17);
  assertEquals(checksum_finish(sum16(f, 34, 18, ps + 18)), 0);
});

Deno.test("checksum: captured UDP/IPv6 verifies with both pseudo-header forms", () => {
  const f = frame("udp6");
  const len = (f[18] << 8) | f[19];
  assertEquals(checksum_finish(sum16(f, 54, len, pseudo_sum_ipv6(f, 22, 17) + len)), 0);
  const ps = pseudo_sum_ipv6_addrs(f.subarray(22, 38), f.subarray(38, 54), 17);
  assertEquals(checksum_finish(sum16(f, 54, len, ps + len)), 0);
});

Deno.test("checksum: RFC 1624 incremental update equals a full recomputation", () => {
  const rng = new SeededRng(1624);
  const f = frame("icmp4_echo_request");
  const h = f.subarray(14, 34);
  for (let i = 0; i < 2000; i++) {
    const word = rng.below(10) * 2; // any 16-bit word of the header but the checksum
    if (word === 10) continue;
    const old = (h[word] << 8) | h[word + 1];
    const nw = rng.below(65536);
    const hc = (h[10] << 8) | h[11];
    h[word] = nw >>> 8;
    h[word + 1] = nw & 255;
    const upd = checksum_update16(hc, old, nw);
    h[10] = 0;
    h[11] = 0;
    const full = internet_checksum(h, 0, 20);
    // 0x0000 and 0xffff are the same one's complement value; the update may give either.
    assertEquals(upd % 0xffff, full % 0xffff, `word ${word}: ${old} -> ${nw}`);
    h[10] = upd >>> 8;
    h[11] = upd & 255;
    assertEquals(checksum_finish(sum16(h, 0, 20)) % 0xffff, 0);
  }
});

Deno.test("checksum: 32-bit update (a NAT address rewrite) keeps the IPv4 header valid", () => {
  const rng = new SeededRng(32);
  const h = frame("udp4").subarray(14, 34);
  for (let i = 0; i < 1000; i++) {
    const old = ((h[12] << 24) | (h[13] << 16) | (h[14] << 8) | h[15]) >>> 0;
    const nw = rng.u32();
    const hc = (h[10] << 8) | h[11];
    h[12] = nw >>> 24;
    h[13] = nw >>> 16;
    h[14] = nw >>> 8;
    h[15] = nw;
    const upd = checksum_update32(hc, old, nw);
    h[10] = upd >>> 8;
    h[11] = upd & 255;
    assertEquals(checksum_finish(sum16(h, 0, 20)) % 0xffff, 0);
  }
});

/** RFC 1071 §4.1 as written: one 16-bit word per step, the reference for the word loop. */
function referenceSum(b: Uint8Array, off: number, len: number, initial = 0): number {
  let s = initial;
  for (let i = 0; i < len; i += 2) {
    s += ((b[off + i] ?? 0) << 8) | (i + 1 < len ? b[off + i + 1] ?? 0 : 0);
  }
  return s;
}

Deno.test("sum16: the word loop equals RFC 1071's word-by-word sum at every alignment and length", () => {
  const buf = new Uint8Array(4200);
  let x = 12345;
  for (let i = 0; i < buf.length; i++) buf[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  buf.fill(0xff, 1000, 1600); // long runs of 0xffff words: the carries of the fold
  for (const base of [0, 1, 2, 6]) {
    const b = buf.subarray(base); // views that do not start at the buffer's start, odd ones too
    for (const off of [0, 1, 2, 4, 58, 66, 998]) {
      for (const len of [0, 1, 2, 3, 63, 64, 65, 66, 67, 100, 1448, 1449, 2047, 3000]) {
        assertEquals(
          checksum_fold(sum16(b, off, len, 7)),
          checksum_fold(referenceSum(b, off, len, 7)),
          `base ${base} off ${off} len ${len}`,
        );
      }
    }
  }
});

Deno.test("sum16: parts add up before folding; a run past the end counts as zeros", () => {
  const b = new Uint8Array(2000).map((_, i) => (i * 31 + 7) & 255);
  const whole = checksum_fold(sum16(b, 0, 1500, 0x1234));
  assertEquals(checksum_fold(sum16(b, 0, 40, 0x1234 + sum16(b, 40, 1460))), whole);
  assertEquals(checksum_fold(sum16(b, 1900, 200)), checksum_fold(referenceSum(b, 1900, 100)));
});
