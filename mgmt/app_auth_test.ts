import { assert, assertEquals, assertMatch } from "@std/assert";
import { apiFixture, TOKEN } from "../tests/_harness/api.ts";
import { MAX_BODY_BYTES } from "./app.ts";

/** Every route of this slice, with a body that would be valid for it. */
const ROUTES: [string, string, unknown?][] = [
  ["GET", "/api/v1/node"],
  ["GET", "/api/v1/switches"],
  ["POST", "/api/v1/switches", { name: "sw9" }],
  ["GET", "/api/v1/switches/sw0"],
  ["PATCH", "/api/v1/switches/sw0", { hub: true }],
  ["DELETE", "/api/v1/switches/sw0"],
  ["GET", "/api/v1/switches/sw0/ports"],
  ["GET", "/api/v1/switches/sw0/ports/1"],
  ["PATCH", "/api/v1/switches/sw0/ports/1", { enabled: false }],
  ["DELETE", "/api/v1/switches/sw0/ports/1"],
  ["GET", "/api/v1/switches/sw0/fdb"],
  ["DELETE", "/api/v1/switches/sw0/fdb"],
  ["GET", "/api/v1/stacks"],
  ["POST", "/api/v1/stacks", { name: "s9", switch: "sw0", ipv4: "10.0.0.9/24" }],
  ["GET", "/api/v1/stacks/s9"],
  ["DELETE", "/api/v1/stacks/s9"],
  ["GET", "/api/v1/cables"],
  ["POST", "/api/v1/cables", { switch: "sw0", url: "tcp://127.0.0.1:1" }],
  ["DELETE", "/api/v1/cables?switch=sw0&url=tcp%3A%2F%2F127.0.0.1%3A1"],
  ["GET", "/api/v1/gateways"],
  ["POST", "/api/v1/gateways", { name: "g9", switch: "sw0", cidr: "10.0.2.0/24" }],
  ["GET", "/api/v1/gateways/g9"],
  ["DELETE", "/api/v1/gateways/g9"],
  ["GET", "/api/v1/gateways/g9/forwards"],
  ["GET", "/api/v1/gateways/g9/leases"],
  ["DELETE", "/api/v1/gateways/g9/forwards/f1"],
  ["GET", "/api/v1/routers"],
  [
    "POST",
    "/api/v1/routers",
    { name: "r9", interfaces: [{ name: "a", switch: "sw0", cidr: "10.0.0.1/24" }] },
  ],
  ["GET", "/api/v1/routers/r9"],
  ["DELETE", "/api/v1/routers/r9"],
  ["GET", "/api/v1/topology"],
  ["GET", "/events"],
  ["GET", "/metrics"],
  ["GET", "/openapi.json"],
  ["GET", "/no/such/route"],
];

Deno.test("api: /health answers without a token", async () => {
  const fx = await apiFixture();
  const r = await fx.call("GET", "/health", { token: null });
  assertEquals([r.status, r.body], [200, { status: "ok" }]);
  await fx.node.close();
});

Deno.test("api: every other route is 401 without the right bearer token, changing nothing", async () => {
  const fx = await apiFixture();
  const bad: { token?: string | null; headers?: Record<string, string> }[] = [
    { token: null },
    { token: "wrong" },
    { token: TOKEN.slice(0, -1) }, // a prefix
    { token: TOKEN + "x" }, // an extension
    { token: null, headers: { authorization: TOKEN } }, // no scheme
    { token: null, headers: { authorization: `Basic ${btoa(`u:${TOKEN}`)}` } },
    { token: null, headers: { authorization: `Bearer ${TOKEN} extra` } },
  ];
  for (const [method, path, json] of ROUTES) {
    for (const b of bad) {
      const r = await fx.refused(401, method, path, { ...b, json }, /bearer token/);
      assertMatch(r.headers.get("www-authenticate") ?? "", /^Bearer/);
    }
  }
  // The scheme is case-insensitive (RFC 9110 §11.1).
  const ok = await fx.call("GET", "/api/v1/node", {
    token: null,
    headers: { authorization: `bearer ${TOKEN}` },
  });
  assertEquals(ok.status, 200);
  await fx.node.close();
});

Deno.test("api: unknown routes are 404 with an { error } body", async () => {
  const fx = await apiFixture();
  await fx.refused(404, "GET", "/api/v1/nothing", {}, /No route GET \/api\/v1\/nothing/);
  await fx.refused(404, "PUT", "/api/v1/switches/sw0", { json: {} });
  await fx.node.close();
});

Deno.test("api: bodies over 64 KiB are 413 and change nothing", async () => {
  const fx = await apiFixture();
  const big = JSON.stringify({ name: "big", pad: "x".repeat(MAX_BODY_BYTES) });
  const bigPatch = JSON.stringify({ vlan: "access:10" + " ".repeat(MAX_BODY_BYTES) });
  const cases: [string, string, string][] = [
    ["POST", "/api/v1/switches", big],
    ["PATCH", "/api/v1/switches/sw0", big],
    ["PATCH", "/api/v1/switches/sw0/ports/1", bigPatch],
  ];
  for (const [method, path, body] of cases) {
    const headers = { "content-type": "application/json" };
    // Declared length and a streamed body without one: both are cut off.
    await fx.refused(413, method, path, {
      body,
      headers: { ...headers, "content-length": String(body.length) },
    }, /larger than 65536 bytes/);
    await fx.refused(413, method, path, { body: new TextEncoder().encode(body), headers });
  }
  // Just under the limit is parsed (and refused for its content, not its size).
  const under = JSON.stringify({ name: "x".repeat(MAX_BODY_BYTES - 20) });
  assert(under.length <= MAX_BODY_BYTES);
  await fx.refused(400, "POST", "/api/v1/switches", {
    body: under,
    headers: { "content-type": "application/json" },
  });
  await fx.node.close();
});

Deno.test("api: /openapi.json documents every route and the request schemas", async () => {
  const fx = await apiFixture();
  const r = await fx.call("GET", "/openapi.json");
  assertEquals(r.status, 200);
  const doc = r.body;
  assertMatch(doc.openapi, /^3\.0\./);
  assertEquals(doc.info.version, "9.9.9");
  assertEquals(Object.keys(doc.paths).sort(), [
    "/api/v1/cables",
    "/api/v1/gateways",
    "/api/v1/gateways/{name}",
    "/api/v1/gateways/{name}/forwards",
    "/api/v1/gateways/{name}/forwards/{id}",
    "/api/v1/gateways/{name}/leases",
    "/api/v1/node",
    "/api/v1/routers",
    "/api/v1/routers/{name}",
    "/api/v1/stacks",
    "/api/v1/stacks/{name}",
    "/api/v1/switches",
    "/api/v1/switches/{name}",
    "/api/v1/switches/{name}/fdb",
    "/api/v1/switches/{name}/ports",
    "/api/v1/switches/{name}/ports/{n}",
  ]);
  const methods = (p: string) => Object.keys(doc.paths[p]).sort();
  assertEquals(methods("/api/v1/switches"), ["get", "post"]);
  assertEquals(methods("/api/v1/switches/{name}"), ["delete", "get", "patch"]);
  assertEquals(methods("/api/v1/switches/{name}/ports/{n}"), ["delete", "get", "patch"]);
  assertEquals(methods("/api/v1/switches/{name}/fdb"), ["delete", "get"]);
  assertEquals(methods("/api/v1/stacks"), ["get", "post"]);
  assertEquals(methods("/api/v1/stacks/{name}"), ["delete", "get"]);
  assertEquals(methods("/api/v1/cables"), ["delete", "get", "post"]);
  assertEquals(methods("/api/v1/routers"), ["get", "post"]);
  assertEquals(methods("/api/v1/routers/{name}"), ["delete", "get"]);
  assertEquals(doc.components.schemas.RouterCreate.required, ["name", "interfaces"]);
  assertEquals(doc.components.schemas.StackCreate.required, ["name"]);
  const create = doc.components.schemas.SwitchCreate;
  assertEquals(create.required, ["name"]);
  assertEquals(create.additionalProperties, false);
  assertEquals(create.properties.maxPorts.maximum, 65535);
  assertEquals(doc.components.securitySchemes.bearer, { type: "http", scheme: "bearer" });
  // The body the validator enforces is the one documented.
  const post = doc.paths["/api/v1/switches"].post;
  assertEquals(post.requestBody.required, true);
  assertEquals(
    post.requestBody.content["application/json"].schema,
    { $ref: "#/components/schemas/SwitchCreate" },
  );
  await fx.node.close();
});
