/**
 * The API's bearer token: generated at first start into the state directory as `api.token`
 * (mode 0600, ARCHITECTURE §6) and compared in constant time.
 *
 * The file is created without a window where it is half-written or replaceable: the token is
 * written to a private temporary file which is then hard-linked to its final name. `link` fails
 * when the name exists, so two nodes starting together on one state directory agree on the
 * token that won instead of one silently overwriting the other's.
 */

import { createHash, timingSafeEqual } from "node:crypto";

export const TOKEN_FILE = "api.token";

export interface ApiToken {
  token: string;
  /** The file it is kept in, printed at start so users know where to read it. */
  path: string;
}

/** Read `DIR/api.token`, creating it (and DIR, 0700) with a fresh random token when missing. */
export async function loadOrCreateToken(dir: string): Promise<ApiToken> {
  const path = `${dir}/${TOKEN_FILE}`;
  const existing = await readToken(path);
  if (existing !== undefined) return { token: existing, path };
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const token = randomToken();
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID()}`;
  await Deno.writeTextFile(tmp, token + "\n", { mode: 0o600, createNew: true });
  try {
    await Deno.chmod(tmp, 0o600); // the umask may have filtered the mode
    await Deno.link(tmp, path);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  const token2 = await readToken(path);
  if (token2 === undefined) throw new Error(`Cannot read the API token in ${path}: it is empty`);
  return { token: token2, path };
}

async function readToken(path: string): Promise<string | undefined> {
  try {
    const t = (await Deno.readTextFile(path)).trim();
    return t === "" ? undefined : t;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** 32 random bytes, base64url: 256 bits, safe in a header and a shell variable. */
export function randomToken(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...b)).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}

/**
 * A check of `Authorization` headers against the token. Both sides are hashed so the comparison
 * takes the same time whatever the length or content of the guess; the token's own digest is
 * taken once, not per request (it was ~8 % of a request's CPU at 300 requests/s).
 */
export function bearerMatcher(token: string): (header: string | undefined) => boolean {
  const want = createHash("sha256").update(token).digest();
  return (header) => {
    const m = /^Bearer +(\S+) *$/i.exec(header ?? "");
    const given = createHash("sha256").update(m ? m[1] : "").digest();
    return timingSafeEqual(given, want) && m !== null;
  };
}

/** Whether an `Authorization` header carries the token (one check; see bearerMatcher). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  return bearerMatcher(token)(header);
}
