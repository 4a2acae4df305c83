/**
 * Persistence for the DHCP server's leases (ARCHITECTURE §5: state that must survive is written
 * atomically). Every change writes the whole table to `PATH.tmp`, fsyncs it, renames it over
 * `PATH` and fsyncs the directory, so after `kill -9` (or a power loss) the file holds either
 * the previous table or the new one, never a torn mix. The server commits a lease before it
 * sends the DHCPACK (RFC 2131 §4.3.2 "the server MUST commit the binding... before sending").
 *
 * Writes are synchronous on purpose: a lease changes only on DHCPREQUEST/RELEASE/DECLINE (a
 * DISCOVER flood never writes), and a synchronous commit keeps "ACK sent ⇒ lease on disk" true
 * without a queue.
 *
 * The file is JSON (`{"version":1,"leases":[{"mac":"02:00:00:00:00:5c","addr":"10.0.0.100",
 * "expires":1767225600000,"name":"vm1"}]}`); `expires` is wall-clock Unix milliseconds because
 * the server's monotonic clock does not survive a restart. A file that does not parse is a
 * ConfigError naming it: silently starting empty would hand out addresses still in use.
 */

import { ConfigError } from "../../core/errors.ts";
import { formatMac, parseMac } from "../../core/mac.ts";
import { format_addr, type IpAddr, parse_addr } from "../../stack/addr.ts";

/** One lease as stored: `expires` in wall-clock Unix milliseconds. */
export interface StoredLease {
  mac: number;
  addr: IpAddr;
  name?: string;
  expires: number;
}

export class LeaseStore {
  /** The file, or undefined for an in-memory store. */
  readonly path: string | undefined;
  readonly stats = { writes: 0 };
  #leases: StoredLease[];

  private constructor(path: string | undefined, leases: StoredLease[]) {
    this.path = path;
    this.#leases = leases;
  }

  /** A store that keeps nothing across restarts (the default of DhcpServer). */
  static memory(): LeaseStore {
    return new LeaseStore(undefined, []);
  }

  /**
   * Open (and load) the lease file at `path`; a missing file is an empty table. Throws
   * ConfigError naming the file when it cannot be read or does not hold a lease table.
   */
  static async open(path: string): Promise<LeaseStore> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return new LeaseStore(path, []);
      throw new ConfigError(`Cannot read lease file "${path}": ${(e as Error).message}`);
    }
    return new LeaseStore(path, parseLeaseFile(path, text));
  }

  /** The table as last loaded or saved (copies). */
  load(): StoredLease[] {
    return this.#leases.map((l) => ({ ...l, addr: l.addr.slice() }));
  }

  /**
   * Replace the table and commit it (temp file, fsync, rename, fsync of the directory). Throws
   * the OS error when the write fails; the file then still holds the previous table.
   */
  save(leases: StoredLease[]): void {
    const copy = leases.map((l) => ({ ...l, addr: l.addr.slice() }));
    if (this.path !== undefined) {
      const data = new TextEncoder().encode(formatLeaseFile(copy));
      const tmp = `${this.path}.tmp`;
      const f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
      try {
        let o = 0;
        while (o < data.length) o += f.writeSync(data.subarray(o));
        f.syncSync();
      } finally {
        f.close();
      }
      Deno.renameSync(tmp, this.path);
      syncDir(this.path);
    }
    this.#leases = copy;
    this.stats.writes++;
  }
}

/** fsync the directory holding `path` so the rename itself is durable (best effort). */
function syncDir(path: string): void {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  try {
    const d = Deno.openSync(dir, { read: true });
    try {
      d.syncSync();
    } finally {
      d.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  }
}

export function formatLeaseFile(leases: StoredLease[]): string {
  const rows = leases.map((l) => {
    const r: Record<string, unknown> = {
      mac: formatMac(l.mac),
      addr: format_addr(l.addr),
      expires: l.expires,
    };
    if (l.name !== undefined) r.name = l.name;
    return r;
  });
  return JSON.stringify({ version: 1, leases: rows }, null, 1) + "\n";
}

/** Parse a lease file's text; ConfigError naming `path` (and the entry) when it is not one. */
export function parseLeaseFile(path: string, text: string): StoredLease[] {
  const bad = (why: string) => new ConfigError(`Corrupt lease file "${path}": ${why}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (typeof doc !== "object" || doc === null || (doc as { version?: unknown }).version !== 1) {
    throw bad(`expected {"version":1,"leases":[...]}`);
  }
  const rows = (doc as { leases?: unknown }).leases;
  if (!Array.isArray(rows)) throw bad(`"leases" is not a list`);
  const out: StoredLease[] = [];
  rows.forEach((r: unknown, i) => {
    const row = (typeof r === "object" && r !== null ? r : {}) as Record<string, unknown>;
    const mac = typeof row.mac === "string" ? parseMac(row.mac) : undefined;
    const addr = typeof row.addr === "string" ? parse_addr(row.addr) : undefined;
    const expires = row.expires;
    if (mac === undefined) throw bad(`lease ${i}: bad mac ${JSON.stringify(row.mac)}`);
    if (addr === undefined || addr.length !== 4) {
      throw bad(`lease ${i}: bad IPv4 addr ${JSON.stringify(row.addr)}`);
    }
    if (typeof expires !== "number" || !Number.isFinite(expires)) {
      throw bad(`lease ${i}: bad expires ${JSON.stringify(expires)}`);
    }
    if (row.name !== undefined && typeof row.name !== "string") {
      throw bad(`lease ${i}: bad name ${JSON.stringify(row.name)}`);
    }
    const l: StoredLease = { mac, addr, expires };
    if (typeof row.name === "string") l.name = row.name;
    out.push(l);
  });
  return out;
}
