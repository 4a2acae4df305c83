import { assert, assertEquals, assertMatch } from "@std/assert";
import { serve, type ServeOptions } from "./serve.ts";

type Handler = Parameters<typeof serve>[1];

/** A server on 127.0.0.1 (an OS port), torn down after `fn`. */
async function withServer(
  handler: Handler,
  fn: (port: number) => Promise<void>,
  opts: ServeOptions = {},
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const srv = serve(listener, handler, opts);
  try {
    await fn(listener.addr.port);
  } finally {
    await srv.shutdown();
  }
}

function pattern(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >>> 11)) & 255;
  return b;
}

async function sha256(b: Uint8Array | ArrayBuffer): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b as BufferSource));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function curl(...args: string[]): Promise<{ code: number; out: Uint8Array; err: string }> {
  const r = await new Deno.Command("curl", {
    args: ["-sS", ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return { code: r.code, out: r.stdout, err: new TextDecoder().decode(r.stderr) };
}

/** Send raw bytes, read until the server closes. */
async function raw(port: number, text: string): Promise<string> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  await c.write(new TextEncoder().encode(text));
  const got = await new Response(c.readable).text();
  return got;
}

const BIG = pattern(10 * 1024 * 1024);

Deno.test("serve: curl GET 10 MiB byte-exact with Content-Length; HEAD has no body", async () => {
  await withServer(() => new Response(BIG), async (port) => {
    const r = await curl("-D", "-", "-o", "/dev/null", `http://127.0.0.1:${port}/big`);
    assertEquals(r.code, 0, r.err);
    assertMatch(new TextDecoder().decode(r.out), /content-length: 10485760/i);
    const body = await curl(`http://127.0.0.1:${port}/big`);
    assertEquals(body.out.length, BIG.length);
    assertEquals(await sha256(body.out), await sha256(BIG));
    const head = await raw(port, "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertMatch(head, /^HTTP\/1\.1 200 OK\r\n/);
    assertMatch(head, /content-length: 10485760\r\n/);
    assert(head.endsWith("\r\n\r\n"), "HEAD response must have no body");
  });
});

Deno.test("serve: Deno fetch GET big body and a streamed (chunked) response", async () => {
  await withServer((req) => {
    if (new URL(req.url).pathname === "/stream") {
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 1));
          if (i++ === 3) return c.close();
          c.enqueue(new TextEncoder().encode(`part${i};`));
        },
      });
      return new Response(body);
    }
    return new Response(BIG);
  }, async (port) => {
    const r = await fetch(`http://127.0.0.1:${port}/`);
    const b = new Uint8Array(await r.arrayBuffer());
    assertEquals(await sha256(b), await sha256(BIG));
    const s = await fetch(`http://127.0.0.1:${port}/stream`);
    assertEquals(s.headers.get("transfer-encoding"), "chunked");
    assertEquals(await s.text(), "part1;part2;part3;");
  });
});

Deno.test("serve: keep-alive and pipelined requests answered in order on one connection", async () => {
  let n = 0;
  await withServer(async (req) => {
    const body = req.body ? await req.text() : "";
    return new Response(`#${++n} ${req.method} ${new URL(req.url).pathname} [${body}]`);
  }, async (port) => {
    const got = await raw(
      port,
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
        "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
        "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    const bodies = got.split("\r\n\r\n").slice(1).map((s) => s.split("HTTP/1.1")[0]);
    assertEquals(bodies, ["#1 GET /a []", "#2 POST /b [hello]", "#3 GET /c []"]);
    assertEquals(got.match(/connection: close/g)?.length, 1);
    // curl re-uses the connection for two URLs.
    const r = await curl("-v", `http://127.0.0.1:${port}/d`, `http://127.0.0.1:${port}/e`);
    assertEquals(new TextDecoder().decode(r.out), "#4 GET /d []#5 GET /e []");
    assertMatch(r.err, /Re-using existing connection|Reusing existing/i);
  });
});

Deno.test("serve: chunked upload is streamed to the handler and echoed; 100-continue", async () => {
  let chunks = 0;
  await withServer((req) => {
    const counted = req.body!.pipeThrough(
      new TransformStream({
        transform(c, ctl) {
          chunks++;
          ctl.enqueue(c);
        },
      }),
    );
    return new Response(counted);
  }, async (port) => {
    const data = pattern(3 * 1024 * 1024);
    const tmp = await Deno.makeTempFile();
    try {
      await Deno.writeFile(tmp, data);
      const r = await curl(
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        `@${tmp}`,
        `http://127.0.0.1:${port}/echo`,
      );
      assertEquals(r.code, 0, r.err);
      assertEquals(await sha256(r.out), await sha256(data));
      assert(chunks > 1, "the body must arrive in pieces, not buffered whole");
    } finally {
      await Deno.remove(tmp);
    }
  });
});

Deno.test("serve: malformed → 400, huge headers → 431, handler throw → 500, HTTP/1.0", async () => {
  const errors: unknown[] = [];
  await withServer((req) => {
    if (req.url.endsWith("/throw")) throw new Error("boom");
    return new Response("ok");
  }, async (port) => {
    assertMatch(await raw(port, "BLAH\r\n\r\n"), /^HTTP\/1\.1 400 /);
    assertMatch(
      await raw(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n"),
      /^HTTP\/1\.1 400 /,
    );
    assertMatch(
      await raw(
        port,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      ),
      /^HTTP\/1\.1 400 /,
    );
    assertMatch(await raw(port, "GET / HTTP/1.1\r\n\r\n"), /^HTTP\/1\.1 400 .*\r\n[\s\S]*Host/);
    assertMatch(
      await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20000)}\r\n\r\n`),
      /^HTTP\/1\.1 431 /,
    );
    const r = await fetch(`http://127.0.0.1:${port}/throw`);
    assertEquals(r.status, 500);
    await r.body?.cancel();
    // The server is still fine; HTTP/1.0 gets a close-delimited answer.
    const old = await raw(port, "GET / HTTP/1.0\r\n\r\n");
    assertMatch(old, /^HTTP\/1\.1 200 OK\r\n/);
    assert(old.endsWith("\r\n\r\nok"));
  }, {
    onError: (e) => {
      errors.push(e);
      return new Response("handler failed", { status: 500 });
    },
  });
  assertEquals(errors.length, 1);
  assertEquals((errors[0] as Error).message, "boom");
});

Deno.test("serve: shutdown via signal closes idle keep-alive connections and finishes", async () => {
  const ac = new AbortController();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const srv = serve(listener, () => new Response("hi"), { signal: ac.signal });
  const c = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  await c.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const buf = new Uint8Array(1024);
  const n = await c.read(buf);
  assertMatch(new TextDecoder().decode(buf.subarray(0, n!)), /\r\n\r\nhi$/);
  ac.abort();
  await srv.finished;
  assertEquals(await c.read(buf), null, "the idle connection is closed");
  c.close();
});
