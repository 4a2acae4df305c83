import { assert, assertEquals } from "@std/assert";
import { type Duplex, pump } from "./relay.ts";

/** A source that hands out `data` in reads of at most `chunk` bytes, then EOF. */
function source(data: Uint8Array, chunk: number): Duplex & { sizes: number[] } {
  let off = 0;
  const sizes: number[] = [];
  return {
    sizes,
    read(p) {
      sizes.push(p.length);
      if (off >= data.length) return Promise.resolve(null);
      const n = Math.min(p.length, chunk, data.length - off);
      p.set(data.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
    write: () => Promise.resolve(0),
    closeWrite: () => Promise.resolve(),
    close() {},
  };
}

/** A sink that takes at most 1,000 bytes per write and records the half-close. */
function sink(): Duplex & { got: number[]; halfClosed: boolean } {
  const s = {
    got: [] as number[],
    halfClosed: false,
    read: () => Promise.resolve(null),
    write(p: Uint8Array) {
      const n = Math.min(p.length, 1000);
      for (let i = 0; i < n; i++) s.got.push(p[i]);
      return Promise.resolve(n);
    },
    closeWrite() {
      s.halfClosed = true;
      return Promise.resolve();
    },
    close() {},
  };
  return s;
}

Deno.test("pump: copies everything through short writes, grows its buffer, half-closes at EOF", async () => {
  const data = new Uint8Array(600_000).map((_, i) => (i * 7) & 255);
  const from = source(data, 1 << 20);
  const to = sink();
  assertEquals(await pump(from, to, 256 * 1024), data.length);
  assert(to.halfClosed, "the FIN was carried");
  assertEquals(to.got.length, data.length);
  assert(to.got.every((v, i) => v === data[i]), "bytes differ");
  assertEquals(from.sizes[0], 16 * 1024);
  assertEquals(Math.max(...from.sizes), 256 * 1024);
});

Deno.test("pump: an idle or trickling peer keeps the small buffer", async () => {
  const from = source(new Uint8Array(5000), 100);
  await pump(from, sink());
  assertEquals(Math.max(...from.sizes), 16 * 1024);
});
