/**
 * Byte relays between two connections: `weft serve --proxy` (each connection accepted on the
 * stack's own IP is relayed to a local program, so an unmodified daemon gets an IP of its own),
 * `--echo` (a connection relayed to itself), and a gateway's NAT relays to host sockets. Half-close is carried across (RFC 9293 §3.6: one side's
 * FIN becomes closeWrite on the other), and a failure on either side closes both.
 */

/** The connection shape both Deno's TCP conns and the stack's conns have. */
export interface Duplex {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

/**
 * Copy `from` → `to` until EOF, then half-close `to`. Returns the bytes copied. The buffer starts
 * at 16 KiB and doubles while reads fill it, up to `maxBuffer`: a bulk transfer soon reads in big
 * chunks, while the many idle relays of a gateway (ssh sessions, keep-alive connections) hold
 * 16 KiB per direction instead of 256 KiB.
 */
export async function pump(from: Duplex, to: Duplex, maxBuffer = 256 * 1024): Promise<number> {
  let buf = new Uint8Array(Math.min(16 * 1024, maxBuffer));
  let total = 0;
  for (;;) {
    const n = await from.read(buf);
    if (n === null) break;
    for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
    total += n;
    if (n === buf.length && buf.length < maxBuffer) {
      buf = new Uint8Array(Math.min(buf.length * 2, maxBuffer));
    }
  }
  await to.closeWrite();
  return total;
}

/** Relay both directions until both ended; then close both. Never rejects. */
export async function relay(a: Duplex, b: Duplex): Promise<void> {
  const closeBoth = () => {
    for (const c of [a, b]) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  };
  // If one direction fails the other is left blocked on a read; closing both ends it too.
  await Promise.allSettled([
    pump(a, b).catch((e) => (closeBoth(), e)),
    pump(b, a).catch((e) => (closeBoth(), e)),
  ]);
  closeBoth();
}

/** Echo everything back on the same connection, half-close included. */
export async function echo(c: Duplex): Promise<void> {
  try {
    await pump(c, c);
  } catch {
    /* reset by the peer */
  } finally {
    try {
      c.close();
    } catch { /* already closed */ }
  }
}
