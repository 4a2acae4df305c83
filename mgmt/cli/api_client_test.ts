import { assertEquals, assertRejects } from "@std/assert";
import { loadOrCreateIdentity } from "../../cable/identity.ts";
import { createApp } from "../app.ts";
import { serveApi } from "../api_server.ts";
import { Node } from "../node.ts";
import { apiRequest, parseHttpResponse, PinMismatchError } from "./api_client.ts";

const TOKEN = "client-test-token-0123456789";

Deno.test("api client: HTTPS with a pinned certificate; a wrong pin sends nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weft-client-" });
  const node = new Node({ id: "n", version: "0" });
  // HTTPS on loopback here only because the test asks for it (the CLI serves loopback as HTTP).
  const id = await loadOrCreateIdentity(dir);
  const server = serveApi(
    { hostname: "127.0.0.1", port: 0, tls: true },
    createApp(node, { token: TOKEN }).fetch,
    node.logger,
    id,
  );
  try {
    await node.createSwitch({ name: "sw0" });
    assertEquals(server.url.startsWith("https://127.0.0.1:"), true, server.url);
    const t = { base: server.url, fp: id.fingerprint, token: TOKEN };
    const list = await apiRequest(t, "GET", "/api/v1/switches");
    assertEquals(list.status, 200, list.text);
    assertEquals(JSON.parse(list.text)[0].name, "sw0");
    const made = await apiRequest(t, "POST", "/api/v1/switches", { name: "lab", hub: true });
    assertEquals([made.status, JSON.parse(made.text).hub], [201, true]);
    const gone = await apiRequest(t, "DELETE", "/api/v1/switches/lab");
    assertEquals([gone.status, gone.text], [204, ""]);
    const badToken = await apiRequest({ ...t, token: "nope" }, "GET", "/api/v1/node");
    assertEquals(badToken.status, 401);

    const seen = node.apiRequests;
    const wrong = { ...t, fp: `sha256:${"0".repeat(64)}` };
    await assertRejects(
      () => apiRequest(wrong, "GET", "/api/v1/node"),
      PinMismatchError,
      "refusing to send the token",
    );
    assertEquals(node.apiRequests, seen, "the server saw no request");
  } finally {
    await server.close();
    await node.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("api client: HTTP/1.1 responses with a length or chunked", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assertEquals(
    parseHttpResponse(enc("HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}")),
    { status: 404, text: "{}" },
  );
  assertEquals(
    parseHttpResponse(
      enc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nwé\r\n2\r\n!!\r\n0\r\n\r\n"),
    ),
    { status: 200, text: "wé!!" },
  );
});
