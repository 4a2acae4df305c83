/**
 * The management API on a real socket: a `weft switch` process serving it on loopback, driven by
 * `curl` as a user would, and the CLI's `--api` rules.
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { run, waitUntil } from "./_harness/process.ts";
import { gate } from "./_harness/requirements.ts";
import { runWeft, WeftSwitch } from "./_harness/weft.ts";

const needs = gate({ root: false, tools: ["curl"] });

/** `curl` one request; returns the status and the body. */
async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const r = await run(
    ["curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", ...args],
    { timeoutMs: 15_000 },
  );
  assertEquals(r.code, 0, r.stderr);
  const i = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
}

Deno.test({
  name: needs.name("api: curl against a running weft switch on loopback"),
  ignore: needs.ignore,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "weft-api-" });
    try {
      const state = `${tmp}/state`;
      await using sw = await WeftSwitch.start(`${tmp}/sw`, [
        "--api",
        "127.0.0.1:0",
        "--state",
        state,
        "--name",
        "main",
      ]);
      const ready = await waitUntil("the api ready line", () => {
        const m = /api ready url=(\S+) token=(\S+)/.exec(sw.process.errors);
        return m ? { url: m[1], tokenPath: m[2] } : undefined;
      }, { timeoutMs: 10_000 });
      assertMatch(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assertEquals(ready.tokenPath, `${state}/api.token`);
      assertEquals((await Deno.stat(ready.tokenPath)).mode! & 0o777, 0o600);
      const token = (await Deno.readTextFile(ready.tokenPath)).trim();
      const auth = ["-H", `Authorization: Bearer ${token}`];
      const json = ["-H", "Content-Type: application/json"];
      const u = ready.url;

      assertEquals(await curl([`${u}/health`]), { status: 200, body: '{"status":"ok"}' });
      const anon = await curl([`${u}/api/v1/switches`]);
      assertEquals(anon.status, 401);
      assertEquals((await curl(["-H", "Authorization: Bearer nope", `${u}/metrics`])).status, 401);

      const node = await curl([...auth, `${u}/api/v1/node`]);
      assertEquals(node.status, 200);
      assertEquals(JSON.parse(node.body).roles, ["switch"]);
      assertMatch(JSON.parse(node.body).id, /^[0-9a-f]{16}$/);

      const created = await curl([
        ...auth,
        ...json,
        "-X",
        "POST",
        "-d",
        JSON.stringify({ name: "lab", maxPorts: 4, sock: `${tmp}/lab` }),
        `${u}/api/v1/switches`,
      ]);
      assertEquals(created.status, 201, created.body);
      const list = JSON.parse((await curl([...auth, `${u}/api/v1/switches`])).body);
      assertEquals(list.map((s: { name: string }) => s.name), ["main", "lab"]);
      assert((await Deno.lstat(`${tmp}/lab/ctl`)).isSocket, "the new switch serves VDE");

      const conflict = await curl([
        ...auth,
        ...json,
        "-X",
        "POST",
        "-d",
        '{"name":"lab"}',
        `${u}/api/v1/switches`,
      ]);
      assertEquals(conflict.status, 409);
      assertMatch(JSON.parse(conflict.body).error, /already exists/);

      const patch = await curl([
        ...auth,
        ...json,
        "-X",
        "PATCH",
        "-d",
        '{"ageingSec":"soon"}',
        `${u}/api/v1/switches/main`,
      ]);
      assertEquals(patch.status, 400);
      const big = `${tmp}/big.json`;
      await Deno.writeTextFile(big, JSON.stringify({ name: "x".repeat(70_000) }));
      const tooBig = await curl([
        ...auth,
        ...json,
        "-X",
        "POST",
        "--data-binary",
        `@${big}`,
        `${u}/api/v1/switches`,
      ]);
      assertEquals(tooBig.status, 413);
      assertEquals((await curl([...auth, `${u}/api/v1/switches/nope/fdb`])).status, 404);

      const metrics = await curl([...auth, `${u}/metrics`]);
      assertEquals(metrics.status, 200);
      assertMatch(metrics.body, /^weft_fdb_entries\{switch="main"\} 0$/m);
      assertMatch(metrics.body, /^weft_fdb_limit\{switch="lab"\} 65536$/m);

      assertEquals((await curl([...auth, "-X", "DELETE", `${u}/api/v1/switches/lab`])).status, 204);
      // SIGUSR2 still reports the CLI's switch.
      assertEquals((await sw.counters()).switch, "main");
      const status = await sw.stop();
      assertEquals(status.code, 0, sw.process.errors);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("api: --api refuses bad values (exit 2, one line)", async () => {
  for (
    const [arg, re] of [
      ["7780", /Invalid --api "7780": expected HOST:PORT/],
      ["0.0.0.0:99999", /Invalid --api "0\.0\.0\.0:99999": expected HOST:PORT/],
    ] as const
  ) {
    const r = await runWeft(["switch", "--sock", "/nonexistent/never", "--api", arg]);
    assertEquals(r.code, 2, r.stderr);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assertMatch(r.stderr, re);
  }
});

Deno.test("api: an --api port in use is an error, and the switch is taken down again", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "weft-api-" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const r = await runWeft([
      "switch",
      "--sock",
      `${tmp}/sw`,
      "--state",
      `${tmp}/state`,
      "--api",
      `127.0.0.1:${port}`,
    ]);
    assertEquals(r.code, 1, r.stderr);
    assertMatch(r.stderr, new RegExp(`Cannot serve the API on 127\\.0\\.0\\.1:${port}`));
    assert(!(await Deno.stat(`${tmp}/sw`).catch(() => undefined)), "the switch dir is gone");
  } finally {
    taken.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
