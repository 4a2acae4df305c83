import { assertEquals } from "@std/assert";
import { parse_addr } from "../addr.ts";
import { FakeProvider } from "../socket/fake_core.ts";
import { connect, listen } from "../socket/mod.ts";
import { fetchVia } from "./fetch.ts";
import { serve } from "./serve.ts";

Deno.test("serve + fetchVia over the stack socket API (fake engine, 4 KiB buffers)", async () => {
  const p = new FakeProvider(parse_addr("10.0.0.2")!, 4096);
  const l = listen(p, { port: 80 });
  const srv = serve(l, async (req, info) => {
    const body = new Uint8Array(await req.arrayBuffer());
    const host = (info.remoteAddr as Deno.NetAddr).hostname;
    return new Response(body, { headers: { "x-peer": host } });
  });
  const data = new Uint8Array(200_000).map((_, i) => i & 255);
  const dial = (hostname: string, port: number) => connect(p, { hostname, port });
  const r = await fetchVia(dial, "http://10.0.0.2/echo", { method: "POST", body: data });
  assertEquals(r.headers.get("x-peer"), "10.0.0.2");
  assertEquals(new Uint8Array(await r.arrayBuffer()), data);
  await srv.shutdown();
});
