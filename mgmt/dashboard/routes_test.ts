import { assert, assertEquals, assertMatch } from "@std/assert";
import { apiFixture, TOKEN } from "../../tests/_harness/api.ts";
import { DASHBOARD_JS } from "./client.ts";

Deno.test("dashboard: the page and its assets are public, strict CSP, the API still needs the token", async () => {
  const fx = await apiFixture();
  try {
    const page = await fx.call("GET", "/dashboard", { token: null });
    assertEquals(page.status, 200);
    assertMatch(page.headers.get("content-type")!, /^text\/html/);
    const csp = page.headers.get("content-security-policy")!;
    assertMatch(csp, /default-src 'none'/);
    assertMatch(csp, /script-src 'self'/);
    assertEquals(page.headers.get("referrer-policy"), "no-referrer");
    assert(!page.text.includes(TOKEN) && !page.text.includes("node-test"), "no data in the shell");
    assertMatch(page.text, /<script src="\/dashboard\/app.js" defer><\/script>/);
    assert(!/<script>/.test(page.text), "no inline script (the CSP forbids it)");

    const js = await fx.call("GET", "/dashboard/app.js", { token: null });
    assertEquals([js.status, js.text], [200, DASHBOARD_JS]);
    assertMatch(js.headers.get("content-type")!, /^text\/javascript/);
    const css = await fx.call("GET", "/dashboard/style.css", { token: null });
    assertEquals(css.status, 200);
    assertMatch(css.headers.get("content-type")!, /^text\/css/);

    const again = await fx.call("GET", "/dashboard/app.js", {
      token: null,
      headers: { "if-none-match": js.headers.get("etag")! },
    });
    assertEquals([again.status, again.text], [304, ""]);

    const root = await fx.call("GET", "/", { token: null });
    assertEquals([root.status, root.headers.get("location")], [302, "/dashboard"]);

    // Only these paths are public.
    assertEquals((await fx.call("GET", "/dashboard/other.js", { token: null })).status, 401);
    assertEquals((await fx.call("GET", "/api/v1/switches", { token: null })).status, 401);
    assertEquals((await fx.call("GET", "/events", { token: null })).status, 401);
  } finally {
    await fx.node.close();
  }
});

Deno.test("dashboard: the script never puts the token in a URL and writes node data as text", () => {
  // The token goes in the Authorization header only; from the fragment to sessionStorage.
  assert(!/[?&]token=/.test(DASHBOARD_JS.replace(/\(\?:\^#\|&\)token=/, "")), "token in a query");
  assertMatch(DASHBOARD_JS, /authorization: "Bearer " \+ token/);
  assertMatch(DASHBOARD_JS, /history\.replaceState/);
  assert(!/innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(DASHBOARD_JS));
});
