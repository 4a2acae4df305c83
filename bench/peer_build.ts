/**
 * C peers of the benchmarks (bench/peers/*.c), built on demand by their build script into
 * `$XDG_CACHE_HOME/weft/NAME` (default `~/.cache/weft/NAME`) under a name keyed by the hash of
 * the source and the script, so a changed source is rebuilt and an unchanged one never is.
 */

import { errorText, exists, run } from "../tests/_harness/process.ts";

/** A built peer's path, or why there is none (printed by the benchmark, never faked). */
export type Built = { path: string } | { skip: string };

const PEERS = new URL("./peers/", import.meta.url).pathname;

/** Build `peers/NAME.c` with `peers/SCRIPT OUT` unless the cache has this version already. */
export async function ensurePeerBinary(name: string, script: string): Promise<Built> {
  const files = [`${PEERS}${name}.c`, `${PEERS}${script}`];
  const texts = await Promise.all(files.map((f) => Deno.readFile(f).catch(() => null)));
  if (texts.some((t) => t === null)) return { skip: `${files.join(" or ")} is missing` };
  const both = new Uint8Array(texts.flatMap((t) => [...t!]));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", both));
  const hash = Array.from(digest.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
  const home = Deno.env.get("HOME") ?? "/tmp";
  const cache = `${Deno.env.get("XDG_CACHE_HOME") || `${home}/.cache`}/weft/${name}`;
  const out = `${cache}/${name}-${hash}`;
  if (await exists(out)) return { path: out };
  try {
    await Deno.mkdir(cache, { recursive: true });
  } catch (e) {
    return { skip: `cannot create ${cache}: ${errorText(e)}` };
  }
  const tmp = `${out}.tmp${Deno.pid}`;
  const r = await run(["bash", files[1], tmp], { timeoutMs: 600_000 });
  if (!r.success) {
    await Deno.remove(tmp).catch(() => {});
    const why = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-2).join(" / ");
    return {
      skip: `cannot build ${name} (${r.timedOut ? "timed out" : `exit ${r.code}`}): ${why}`,
    };
  }
  await Deno.rename(tmp, out);
  return { path: out };
}
