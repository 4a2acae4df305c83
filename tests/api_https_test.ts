/**
 * The management API beyond loopback: a node in one network namespace serves HTTPS with its
 * identity on a veth address; `weft ctl` in another namespace pins its certificate. The right pin
 * works; a wrong pin is refused before the token is sent (the server counts no request); `curl -k`
 * with a wrong token gets 401. Only namespaces the test creates are touched.
 */

import { assertEquals, assertMatch } from "@std/assert";
import { peerTest } from "./_harness/lab.ts";
import { waitUntil } from "./_harness/process.ts";
import { runWeft, weftCommand } from "./_harness/weft.ts";

peerTest(
  "api: HTTPS on a veth address, weft ctl with a pinned fingerprint from another namespace",
  {
    tools: ["ip", "curl"],
  },
  async (lab) => {
    const srv = await lab.netns("apisrv");
    const cli = await lab.netns("apicli");
    // One veth pair between the two namespaces, made inside them (nothing on the host side).
    await srv.ip("link", "add", "vsrv", "type", "veth", "peer", "name", "vcli", "netns", cli.name);
    await srv.addAddress("vsrv", "10.77.0.1/24");
    await cli.addAddress("vcli", "10.77.0.2/24");
    await srv.ip("link", "set", "vsrv", "up");
    await cli.ip("link", "set", "vcli", "up");

    const state = await lab.mkdir("state");
    const file = lab.path("node.yaml");
    await Deno.writeTextFile(file, "api: 10.77.0.1:7780\nswitches:\n  - name: sw0\n");
    const node = lab.spawn(
      ["ip", "netns", "exec", srv.name, ...weftCommand(["up", file, "--state", state])],
      { name: "weft up@srv" },
    );
    const ready = await waitUntil("the https api ready line", () => {
      if (node.exitStatus) throw new Error(`weft up exited:\n${node}`);
      const m = /api ready url=(\S+) token=(\S+) fp=(\S+)/.exec(node.errors);
      return m ? { url: m[1], tokenPath: m[2], fp: m[3] } : undefined;
    }, { timeoutMs: 30_000 });
    assertEquals(ready.url, "https://10.77.0.1:7780");
    // The pin the node logs is the one `weft id` prints for its state directory.
    const id = await runWeft(["id", "--state", state]);
    const fp = /fingerprint (sha256:[0-9a-f]{64})/.exec(id.stdout)![1];
    assertEquals(ready.fp, fp);
    const tokenFile = lab.path("token");
    await Deno.copyFile(ready.tokenPath, tokenFile);

    const ctl = (pin: string, ...args: string[]) =>
      cli.exec(
        weftCommand([
          "ctl",
          "--api",
          ready.url,
          "--fp",
          pin,
          "--token-file",
          tokenFile,
          "--state",
          lab.path("nostate"),
          ...args,
        ]),
        { timeoutMs: 30_000 },
      );
    const requests = async () => {
      const r = await ctl(fp, "--json", "show", "node");
      assertEquals(r.code, 0, r.stderr);
      const m = await cli.exec([
        "curl",
        "-sS",
        "-k",
        "--max-time",
        "10",
        "-H",
        `Authorization: Bearer ${(await Deno.readTextFile(tokenFile)).trim()}`,
        `${ready.url}/metrics`,
      ]);
      return Number(/^weft_api_requests_total (\d+)$/m.exec(m.stdout)![1]);
    };

    const list = await ctl(fp, "list", "switches");
    assertEquals(list.code, 0, list.stderr);
    assertMatch(list.stdout, /^name\s+.*\nsw0\s/);
    const made = await ctl(fp, "create", "switch", "remote-lab", "hub=true");
    assertEquals(made.code, 0, made.stderr);

    // A wrong pin: refused with a clear message, and the server saw no HTTP request at all.
    const before = await requests();
    const wrong = await ctl(`sha256:${"ab".repeat(32)}`, "list", "switches");
    assertEquals(wrong.code, 1);
    assertMatch(
      wrong.stderr,
      /presented certificate sha256:[0-9a-f]{64}, not the pinned sha256:abab/,
    );
    assertMatch(wrong.stderr, /refusing to send the token/);
    const after = await requests();
    // `requests()` itself makes two requests (ctl show node, then curl /metrics counted on entry).
    assertEquals(after - before, 2, "no request from the refused ctl reached the server");

    // curl -k (no pin: it only checks the token path) with a wrong token is 401.
    const wrongToken = await cli.exec([
      "curl",
      "-sS",
      "-k",
      "--max-time",
      "10",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-H",
      "Authorization: Bearer not-the-token-0123456789",
      `${ready.url}/api/v1/switches`,
    ]);
    assertEquals(wrongToken.stdout, "401", wrongToken.stderr);
    const health = await cli.exec(["curl", "-sS", "-k", "--max-time", "10", `${ready.url}/health`]);
    assertEquals(health.stdout, '{"status":"ok"}');
    // The switch made remotely exists on the node.
    const shown = await ctl(fp, "--json", "show", "switch", "remote-lab");
    assertEquals(JSON.parse(shown.stdout).hub, true);
  },
  { timeoutMs: 90_000 },
);
