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

/** The first buffer of a pump. */
const FIRST_BUFFER = 16 * 1024;
/** First buffers of ended pumps kept for the next ones (at most 1 MiB). */
const MAX_SPARE = 64;
/**
 * Why a pool: a gateway relays one short connection after another (two pumps each), and a fresh
 * 16 KiB ArrayBuffer is a zeroed allocation outside V8's heap that also brings the next GC
 * closer (measured: ~5 µs per allocation once warm, far more while the heap grows).
 */
const spare: Uint8Array[] = [];

function release(buf: Uint8Array): void {
  if (buf.length === FIRST_BUFFER && spare.length < MAX_SPARE) spare.push(buf);
}

/** Spare first buffers now held (for tests). */
export function spareBuffers(): number {
  return spare.length;
}

/**
 * Copy `from` → `to` until EOF, then half-close `to`. Returns the bytes copied. The buffer starts
 * at 16 KiB and doubles while reads fill it, up to `maxBuffer`: a bulk transfer soon reads in big
 * chunks, while the many idle relays of a gateway (ssh sessions, keep-alive connections) hold
 * 16 KiB per direction instead of 256 KiB. A 16 KiB buffer goes back to a small pool once no read
 * or write can use it any more (the call that had it has settled).
 */
export function pump(from: Duplex, to: Duplex, maxBuffer = 256 * 1024): Promise<number> {
  return copy(from, to, maxBuffer, () => true);
}

/** `pump`, asking `halfClose()` at EOF whether `to.closeWrite()` is still worth a call. */
async function copy(
  from: Duplex,
  to: Duplex,
  maxBuffer: number,
  halfClose: () => boolean,
): Promise<number> {
  let buf = maxBuffer >= FIRST_BUFFER
    ? spare.pop() ?? new Uint8Array(FIRST_BUFFER)
    : new Uint8Array(maxBuffer);
  let total = 0;
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
      total += n;
      if (n === buf.length && buf.length < maxBuffer) {
        release(buf);
        buf = new Uint8Array(Math.min(buf.length * 2, maxBuffer));
      }
    }
  } finally {
    release(buf);
  }
  if (halfClose()) await to.closeWrite();
  return total;
}

/**
 * Relay both directions until both ended; then close both, once each. Never rejects.
 *
 * The direction that reaches EOF second skips its half-close: both sides are closed right after,
 * and closing a connection whose input was read to the end sends the same FIN (RFC 9293 §3.6,
 * CLOSE in CLOSE-WAIT/ESTABLISHED) — on a gateway's host socket that is one shutdown(2) less per
 * connection.
 */
export async function relay(a: Duplex, b: Duplex): Promise<void> {
  let closed = false;
  const closeBoth = () => {
    if (closed) return; // a second close() would only throw BadResource (an Error built for naught)
    closed = true;
    for (const c of [a, b]) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  };
  let ended = 0;
  const halfClose = () => ++ended < 2;
  // If one direction fails the other is left blocked on a read; closing both ends it too.
  await Promise.allSettled([
    copy(a, b, 256 * 1024, halfClose).catch((e) => (closeBoth(), e)),
    copy(b, a, 256 * 1024, halfClose).catch((e) => (closeBoth(), e)),
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
