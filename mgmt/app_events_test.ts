import { assertEquals } from "@std/assert";
import { apiFixture, TOKEN } from "../tests/_harness/api.ts";
import { BROADCAST, frame, mac } from "../tests/_harness/frames.ts";

/** Read SSE messages from a response body until `n` have arrived (bounded). */
async function readEvents(body: ReadableStream<Uint8Array>, n: number) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let text = "";
  const events: { event: string; data: Record<string, unknown> }[] = [];
  const end = Date.now() + 5000;
  while (events.length < n && Date.now() < end) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value);
    let i;
    while ((i = text.indexOf("\n\n")) >= 0) {
      const block = text.slice(0, i);
      text = text.slice(i + 2);
      const ev = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return events;
}

Deno.test("api: GET /events streams the node's events as SSE, behind the token", async () => {
  const fx = await apiFixture();
  try {
    const refused = await fx.app.request("/events");
    assertEquals(refused.status, 401);
    await refused.body?.cancel();
    const res = await fx.app.request("/events", { headers: { authorization: `Bearer ${TOKEN}` } });
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), "text/event-stream");
    const reading = readEvents(res.body!, 3);
    await new Promise((r) => setTimeout(r, 20));
    // A new MAC on port 3, then the port is disabled through the API.
    fx.hosts[2].end.send(frame({ dst: BROADCAST, src: mac(3) }));
    const patched = await fx.call("PATCH", "/api/v1/switches/sw0/ports/3", {
      json: { enabled: false },
    });
    assertEquals(patched.status, 200, patched.text);
    const events = await reading;
    assertEquals(events.map((e) => e.event), ["hello", "mac.learned", "port.disabled"]);
    assertEquals(events[0].data.node, "node-test");
    assertEquals(events[1].data.mac, "02:00:00:00:00:03");
    assertEquals(events[1].data.port, 3);
    assertEquals(events[2].data.port, 3);
  } finally {
    await fx.node.close();
  }
});
