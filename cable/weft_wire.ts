/**
 * The weft cable protocol between hosts (over TCP or TLS), version 1.
 *
 * Handshake records, before any frame:
 *
 *     0      4        5      6        8
 *     | "WEFT" | version | type | length (u16 BE) | JSON body (length bytes, ≤ 4096) |
 *
 * type 1 HELLO (client → server): `{"node": ID, "token": TOKEN?, "mtu": N}`
 * type 2 WELCOME (server → client): `{"node": ID, "mtu": N}`
 * type 3 REFUSE (server → client): `{"error": TEXT}`, then the server closes.
 *
 * After WELCOME both directions carry frames as vde_plug does (2-byte big-endian length, then the
 * frame), so frames are up to 65,535 bytes. A zero length is a keepalive: each side sends one when
 * it has sent nothing for the keepalive interval, and gives the peer up when nothing arrived for
 * three intervals (TCP alone can take minutes to notice a dead path).
 *
 * JSON in the handshake keeps it extensible (new fields are ignored by old nodes); it is parsed
 * once per connection, never per frame.
 */

export const MAGIC = [0x57, 0x45, 0x46, 0x54]; // "WEFT"
export const VERSION = 1;
export const HELLO = 1;
export const WELCOME = 2;
export const REFUSE = 3;
export const RECORD_HEADER = 8;
export const MAX_BODY = 4096;

export interface Hello {
  node: string;
  token?: string;
  mtu: number;
}

export interface Welcome {
  node: string;
  mtu: number;
}

export function encodeRecord(type: number, body: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(body));
  if (json.length > MAX_BODY) throw new RangeError(`handshake record too large (${json.length})`);
  const out = new Uint8Array(RECORD_HEADER + json.length);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out[5] = type;
  out[6] = json.length >> 8;
  out[7] = json.length & 0xff;
  out.set(json, RECORD_HEADER);
  return out;
}

/** Check a record header; its body length, or a refusal reason. Never throws. */
export function decodeHeader(h: Uint8Array): { type: number; length: number } | string {
  if (h.length < RECORD_HEADER) return "short";
  for (let i = 0; i < 4; i++) if (h[i] !== MAGIC[i]) return "badMagic";
  if (h[4] !== VERSION) return "badVersion";
  const length = (h[6] << 8) | h[7];
  if (length > MAX_BODY) return "badLength";
  return { type: h[5], length };
}

/** Parse a record body as a JSON object; undefined when it is not one. Never throws. */
export function decodeBody(body: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export function asHello(v: Record<string, unknown> | undefined): Hello | undefined {
  if (!v || typeof v.node !== "string" || typeof v.mtu !== "number") return undefined;
  if (v.token !== undefined && typeof v.token !== "string") return undefined;
  return { node: v.node, token: v.token as string | undefined, mtu: v.mtu };
}

/** Compare secrets in time independent of where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a), y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
