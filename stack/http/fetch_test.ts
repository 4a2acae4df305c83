import { assertEquals, assertRejects } from "@std/assert";
import { fetchVia } from "./fetch.ts";

const dial = (hostname: string, port: number) => Deno.connect({ hostname, port });

function pattern(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + (i >>> 9)) & 255;
  return b;
}

async function sha256(b: Uint8Array | ArrayBuffer): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b as BufferSource));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

const BIG = pattern(8 * 1024 * 1024);

async function withDenoServer(fn: (base: string) => Promise<void>): Promise<void> {
  const ac = new AbortController();
  const srv = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    async (req) => {
      const u = new URL(req.url);
      if (u.pathname === "/big") return new Response(BIG);
      if (u.pathname === "/echo") {
        const body = new Uint8Array(await req.arrayBuffer());
        return new Response(body, {
          headers: {
            "x-method": req.method,
            "x-te": req.headers.get("transfer-encoding") ?? "",
            "x-len": req.headers.get("content-length") ?? "",
            "x-hash": await sha256(body),
          },
        });
      }
      if (u.pathname === "/chunked") {
        let i = 0;
        return new Response(
          new ReadableStream({
            async pull(c) {
              await new Promise((r) => setTimeout(r, 1));
              if (i++ === 4) return c.close();
              c.enqueue(new TextEncoder().encode(`c${i}`));
            },
          }),
        );
      }
      if (u.pathname === "/slow") {
        return new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode("first"));
            },
          }),
        );
      }
      if (u.pathname === "/redirect") return Response.redirect(`${u.origin}/big`, 302);
      return new Response("not found", { status: 404 });
    },
  );
  try {
    await fn(`http://127.0.0.1:${srv.addr.port}`);
  } finally {
    ac.abort();
    await srv.finished;
  }
}

Deno.test("fetchVia: GET big body byte-exact, status and headers", async () => {
  await withDenoServer(async (base) => {
    const r = await fetchVia(dial, `${base}/big`);
    assertEquals(r.status, 200);
    assertEquals(r.headers.get("content-length"), String(BIG.length));
    const b = new Uint8Array(await r.arrayBuffer());
    assertEquals(b.length, BIG.length);
    assertEquals(await sha256(b), await sha256(BIG));
    const nf = await fetchVia(dial, new URL(`${base}/nope`));
    assertEquals(nf.status, 404);
    assertEquals(await nf.text(), "not found");
    // Redirects are returned, not followed.
    const rd = await fetchVia(dial, `${base}/redirect`);
    assertEquals(rd.status, 302);
    assertEquals(rd.headers.get("location"), `${base}/big`);
    await rd.body?.cancel();
    const head = await fetchVia(dial, `${base}/big`, { method: "HEAD" });
    assertEquals(head.body, null);
  });
});

Deno.test("fetchVia: POST bodies — bytes and string with Content-Length, stream chunked", async () => {
  await withDenoServer(async (base) => {
    const data = pattern(1_000_000);
    const a = await fetchVia(dial, `${base}/echo`, { method: "POST", body: data });
    assertEquals(a.headers.get("x-len"), String(data.length));
    assertEquals(a.headers.get("x-hash"), await sha256(data));
    assertEquals(new Uint8Array(await a.arrayBuffer()), data);

    const b = await fetchVia(dial, new Request(`${base}/echo`, { method: "PUT", body: "héllo" }));
    assertEquals(b.headers.get("x-method"), "PUT");
    assertEquals(b.headers.get("x-len"), "6");
    assertEquals(await b.text(), "héllo");

    let i = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(c) {
        await new Promise((r) => setTimeout(r, 1));
        if (i++ === 3) return c.close();
        c.enqueue(data.subarray(i * 1000, i * 1000 + 1000));
      },
    });
    const c = await fetchVia(dial, `${base}/echo`, { method: "POST", body: stream });
    assertEquals(c.headers.get("x-te"), "chunked");
    assertEquals(new Uint8Array(await c.arrayBuffer()), data.slice(1000, 4000));
  });
});

Deno.test("fetchVia: chunked response streamed; abort; https and bad schemes rejected", async () => {
  await withDenoServer(async (base) => {
    const r = await fetchVia(dial, `${base}/chunked`);
    assertEquals(r.headers.get("transfer-encoding"), "chunked");
    assertEquals(await r.text(), "c1c2c3c4");

    // The response arrives; the body never ends; abort errors the body read.
    const ac = new AbortController();
    const s = await fetchVia(dial, `${base}/slow`, { signal: ac.signal });
    const rd = s.body!.getReader();
    assertEquals(new TextDecoder().decode((await rd.read()).value), "first");
    const pending = rd.read();
    ac.abort(new Error("stop"));
    await assertRejects(() => pending, Error, "stop");

    await assertRejects(() => fetchVia(dial, `${base}/big`, { signal: AbortSignal.abort() }));
  });
  await assertRejects(() => fetchVia(dial, "https://127.0.0.1/"), TypeError, "TLS");
  await assertRejects(() => fetchVia(dial, "ftp://127.0.0.1/"), TypeError, "http:");
});
