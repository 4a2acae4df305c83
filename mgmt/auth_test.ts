import { assert, assertEquals, assertMatch, assertNotEquals } from "@std/assert";
import { bearerMatches, loadOrCreateToken, randomToken, TOKEN_FILE } from "./auth.ts";

Deno.test("auth: the token is created once, 0600, and read back after", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weft-auth-" });
  try {
    const state = `${dir}/state`;
    const a = await loadOrCreateToken(state);
    assertEquals(a.path, `${state}/${TOKEN_FILE}`);
    assertMatch(a.token, /^[A-Za-z0-9_-]{43}$/);
    assertEquals((await Deno.stat(a.path)).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(state)).mode! & 0o077, 0);
    assertEquals((await loadOrCreateToken(state)).token, a.token);
    // Nodes starting together on one state directory agree on one token; no temp file remains.
    const other = `${dir}/race`;
    const many = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateToken(other)));
    assertEquals(new Set(many.map((t) => t.token)).size, 1);
    const names = [];
    for await (const e of Deno.readDir(other)) names.push(e.name);
    assertEquals(names, [TOKEN_FILE]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auth: bearerMatches takes exactly the token", () => {
  const t = randomToken();
  assertNotEquals(t, randomToken());
  assert(bearerMatches(`Bearer ${t}`, t));
  assert(bearerMatches(`bearer ${t}`, t));
  for (
    const h of [undefined, "", t, `Bearer`, `Bearer ${t}x`, `Bearer ${t.slice(1)}`, `Basic ${t}`]
  ) {
    assert(!bearerMatches(h, t), String(h));
  }
});
