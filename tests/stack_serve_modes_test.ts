/**
 * The other ways `weft serve` gives a program an IP of its own, with the kernel as the client:
 * --proxy relays each connection to a program on the host's loopback (an unmodified daemon),
 * --app serves a module's fetch handler, --echo echoes TCP (with half-close carried through).
 */

import { assertEquals, assertMatch } from "@std/assert";
import { peerTest } from "./_harness/lab.ts";
import { download, sha256sum, writeRandomFile } from "./_harness/http.ts";
import { kernelLan, startServe } from "./_harness/stack_lan.ts";

const TOOLS = ["ip", "ping", "curl", "python3"];

peerTest(
  "stack: weft serve --proxy gives a loopback-only daemon its own IP; --app serves a module",
  { tools: TOOLS, tun: true },
  async (lab) => {
    const lan = await kernelLan(lab);
    const www = await lab.mkdir("www");
    await writeRandomFile(`${www}/r.bin`, 8 * 1048576);
    // The "unmodified daemon": python's http.server bound to the host's loopback only.
    const daemon = lab.spawn(
      ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", www, "18080"],
      { name: "loopback http.server" },
    );
    await daemon.waitForOutput(/Serving HTTP on/, 15_000);
    await startServe(lab, lan, [
      "--ip",
      "10.88.0.2/24",
      "--proxy",
      "127.0.0.1:18080",
      "--port",
      "80",
    ]);
    await lan.ns.waitReachable("10.88.0.2", 15_000);
    const d = await download(lan.ns, "http://10.88.0.2/r.bin", lab.path("d.bin"), 60);
    assertEquals(d.sha256, await sha256sum(`${www}/r.bin`));

    const mod = lab.path("app.ts");
    await Deno.writeTextFile(
      mod,
      [
        "export default {",
        "  fetch(req: Request): Response {",
        "    return new Response(`app saw ${req.method} ${new URL(req.url).pathname}\\n`);",
        "  },",
        "};",
      ].join("\n"),
    );
    await startServe(lab, lan, ["--ip", "10.88.0.3/24", "--app", mod]);
    await lan.ns.waitReachable("10.88.0.3", 15_000);
    const r = await lan.ns.exec(["curl", "-sS", "--max-time", "10", "http://10.88.0.3/hello"]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout, "app saw GET /hello\n");
  },
  { timeoutMs: 120_000 },
);

peerTest(
  "stack: weft serve --echo returns 4 MiB byte-exact and carries the half-close",
  { tools: TOOLS, tun: true },
  async (lab) => {
    const lan = await kernelLan(lab);
    await startServe(lab, lan, ["--ip", "10.88.0.2/24", "--ip6", "fd88::2/64", "--echo", "7"]);
    const client = [
      "import socket, sys, hashlib, os, threading",
      "data = os.urandom(4 << 20)",
      "s = socket.create_connection((sys.argv[1], 7), timeout=20)",
      "def send():",
      "    s.sendall(data); s.shutdown(socket.SHUT_WR)",
      "t = threading.Thread(target=send); t.start()",
      "got = bytearray()",
      "while True:",
      "    b = s.recv(1 << 16)",
      "    if not b: break",
      "    got += b",
      "t.join()",
      "print('same' if bytes(got) == data else f'differ {len(got)}')",
    ].join("\n");
    for (const addr of ["10.88.0.2", "fd88::2"]) {
      await lan.ns.waitReachable(addr, 15_000);
      const r = await lan.ns.exec(["python3", "-c", client, addr], { timeoutMs: 40_000 });
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stdout, /^same$/m);
    }
  },
  { timeoutMs: 90_000 },
);
