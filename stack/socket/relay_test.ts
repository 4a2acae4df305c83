import { assert, assertEquals, assertRejects } from "@std/assert";
import { type Duplex, pump, relay, spareBuffers } from "./relay.ts";

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

Deno.test("pump: the first buffer goes back to the pool and is reused, also after a failure", async () => {
  const before = spareBuffers();
  const seen: ArrayBufferLike[] = [];
  const probe = (fail: boolean): Duplex => ({
    read(p) {
      seen.push(p.buffer);
      return fail ? Promise.reject(new Error("reset")) : Promise.resolve(null);
    },
    write: () => Promise.resolve(0),
    closeWrite: () => Promise.resolve(),
    close() {},
  });
  await pump(probe(false), sink());
  assertEquals(spareBuffers(), Math.max(before, 1));
  await assertRejects(() => pump(probe(true), sink()));
  await pump(probe(false), sink());
  assertEquals(seen.length, 3);
  assert(seen[1] === seen[0] && seen[2] === seen[0], "the pooled buffer was reused");
  assertEquals(spareBuffers(), Math.max(before, 1));
});

/**
 * A duplex that sends `out` then EOF (after `eofAfter`), records what it got, its half-close and
 * closes; like a real connection, closing it fails a read that waits.
 */
function peer(out: number[], opts: { eofAfter?: Promise<void> } = {}) {
  let failRead: (e: Error) => void = () => {};
  const closedWhileReading = new Promise<never>((_, reject) => (failRead = reject));
  closedWhileReading.catch(() => {});
  const p = {
    got: [] as number[],
    closeWrites: 0,
    closes: 0,
    async read(buf: Uint8Array): Promise<number | null> {
      if (p.closes > 0) throw new Deno.errors.BadResource("closed");
      if (out.length > 0) {
        const n = Math.min(buf.length, out.length);
        buf.set(out.splice(0, n));
        return n;
      }
      await Promise.race([opts.eofAfter, closedWhileReading]);
      return null;
    },
    write(buf: Uint8Array): Promise<number> {
      p.got.push(...buf);
      return Promise.resolve(buf.length);
    },
    closeWrite(): Promise<void> {
      p.closeWrites++;
      return Promise.resolve();
    },
    close(): void {
      if (p.closes++ > 0) throw new Deno.errors.BadResource("closed twice");
      failRead(new Deno.errors.BadResource("closed"));
    },
  };
  return p;
}

Deno.test("relay: the first EOF is carried as a half-close, the second ends in one close each", async () => {
  let finishB!: () => void;
  const a = peer([1, 2, 3]);
  const b = peer([9], { eofAfter: new Promise<void>((r) => (finishB = r)) });
  const done = relay(a, b);
  await new Promise((r) => setTimeout(r, 10));
  // a's EOF came first: b was half-closed (its FIN), and b can still send.
  assertEquals(b.closeWrites, 1);
  assertEquals(b.got, [1, 2, 3]);
  finishB();
  await done;
  assertEquals(a.got, [9]);
  // b's EOF came second: no half-close of a, the close that follows sends that FIN.
  assertEquals(a.closeWrites, 0);
  assertEquals([a.closes, b.closes], [1, 1]);
});

Deno.test("relay: a failing side closes both, once each", async () => {
  const a = peer([], { eofAfter: new Promise(() => {}) }); // never ends by itself
  const b = peer([]);
  b.read = () => Promise.reject(new Deno.errors.ConnectionReset("reset"));
  await relay(a, b);
  assertEquals([a.closes, b.closes], [1, 1]);
});
