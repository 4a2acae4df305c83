/**
 * The connection HTTP runs over: the common shape of `Deno.Conn` and the stack's `StackConn`, so
 * the same server and client work over the host's sockets and a user-space stack.
 */

export interface ConnLike {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
  closeWrite?(): Promise<void>;
  readonly remoteAddr?: Deno.Addr;
  readonly localAddr?: Deno.Addr;
  setNoDelay?(noDelay?: boolean): void;
}

/**
 * HTTP exchanges are messages, not a byte stream: turn Nagle off (as Node's and Deno's servers
 * do), or a response's small last segment waits for the ACK of the one before it, which the
 * peer's delayed-ACK timer holds back (RFC 1122 §4.2.3.4 vs §4.2.3.2).
 */
export function no_delay(conn: ConnLike): void {
  try {
    conn.setNoDelay?.(true);
  } catch { /* not a TCP connection */ }
}

/** Write all of `p` (conn.write may take fewer bytes, as Deno.Conn.write does). */
export async function write_all(conn: ConnLike, p: Uint8Array): Promise<void> {
  let off = 0;
  while (off < p.length) {
    const n = await conn.write(off === 0 ? p : p.subarray(off));
    if (n <= 0) throw new Deno.errors.WriteZero("The connection accepted no bytes");
    off += n;
  }
}

/** Close, ignoring "already closed" (a conn may be closed by the peer, an abort or a timeout). */
export function close_quietly(conn: ConnLike): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
