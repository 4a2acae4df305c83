import { assertEquals } from "@std/assert";
import { frame, mac } from "../tests/_harness/frames.ts";
import { FrameBatcher, FrameDecoder } from "./framing.ts";

function decoder(h: 2 | 4, max = 1514) {
  const got: Uint8Array[] = [];
  const skipped: string[] = [];
  const d = new FrameDecoder(h, max, (f) => got.push(f.slice()), (r) => skipped.push(r), 4096);
  const feed = (bytes: Uint8Array) => {
    const s = d.space();
    s.set(bytes);
    return d.commit(bytes.length);
  };
  return { d, got, skipped, feed };
}

Deno.test("framing: batcher output decodes back, split at every byte boundary", () => {
  for (const h of [2, 4] as const) {
    const frames = [60, 14, 1514, 100].map((n, i) =>
      frame({ dst: mac(1), src: mac(2), length: n, seq: i })
    );
    const b = new FrameBatcher(h, 8192);
    for (const f of frames) b.push(f);
    const wire = b.take().slice();
    for (let cut = 0; cut <= wire.length; cut++) {
      const { got, feed } = decoder(h);
      feed(wire.subarray(0, cut));
      feed(wire.subarray(cut));
      assertEquals(got, frames, `header ${h}, cut at ${cut}`);
    }
  }
});

Deno.test("framing: the 2-byte header is big-endian, as vde_plug writes it", () => {
  const b = new FrameBatcher(2, 1000);
  b.push(new Uint8Array(0x0102));
  const out = b.take();
  assertEquals([out[0], out[1]], [0x01, 0x02]);
});

Deno.test("framing: the 4-byte header is big-endian, as QEMU's stream netdev writes it", () => {
  const b = new FrameBatcher(4, 1000);
  b.push(new Uint8Array(300));
  assertEquals([...b.take().subarray(0, 4)], [0, 0, 1, 44]);
});

Deno.test("framing: zero and sub-header lengths are skipped without losing sync", () => {
  const { got, skipped, feed } = decoder(2);
  const good = frame({ dst: mac(1), src: mac(2), length: 20 });
  feed(new Uint8Array([0, 0, 0, 3, 9, 9, 9, 0, 20, ...good]));
  assertEquals(skipped, ["empty", "runt"]);
  assertEquals(got, [good]);
});

Deno.test("framing: a length above the maximum is an error, not a throw", () => {
  const { feed, got } = decoder(2, 1514);
  assertEquals(feed(new Uint8Array([0x05, 0xeb, 1, 2])), { reason: "badLength", length: 1515 });
  assertEquals(got.length, 0);
});

Deno.test("framing: a full batch refuses more frames", () => {
  const b = new FrameBatcher(2, 100);
  assertEquals(b.push(new Uint8Array(60)), true);
  assertEquals(b.push(new Uint8Array(60)), false);
});
