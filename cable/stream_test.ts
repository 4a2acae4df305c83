import { assert, assertEquals } from "@std/assert";
import { MAX_FRAME } from "../core/endpoint.ts";
import { endpointContract, until } from "../tests/_harness/endpoint_contract.ts";
import { StreamEndpoint } from "./stream.ts";
import type { HeaderBytes } from "./framing.ts";

/** Two StreamEndpoints over a real unix stream socket pair. */
async function streamLink(headerBytes: HeaderBytes, mtu: number) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s`;
  const listener = Deno.listen({ transport: "unix", path });
  const [c1, c2] = await Promise.all([
    Deno.connect({ transport: "unix", path }),
    listener.accept(),
  ]);
  listener.close();
  const mk = (c: Deno.Conn, n: string) =>
    new StreamEndpoint(`test:${n}`, c, c, {
      headerBytes,
      mtu,
      onClose: () => c.close(),
    });
  const a = mk(c1, "a"), b = mk(c2, "b");
  return {
    a,
    b,
    cleanup: async () => {
      a.close();
      b.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

endpointContract("stream/2-byte", () => streamLink(2, MAX_FRAME), {
  mtu: MAX_FRAME,
  closePropagates: true,
});
endpointContract("stream/4-byte", () => streamLink(4, 9000), { mtu: 9000, closePropagates: true });

Deno.test("stream: a length above the maximum closes the stream and is counted", async () => {
  const l = await streamLink(2, 1500);
  try {
    // Write raw bytes on a's connection: a 2-byte length of 4000 (> 1500).
    await (l.a.writer as Deno.Conn).write(new Uint8Array([0x0f, 0xa0, 1, 2, 3]));
    assert(await until(() => l.b.isClosed));
    assertEquals(l.b.stats().drops.badLength, 1);
  } finally {
    await l.cleanup();
  }
});
