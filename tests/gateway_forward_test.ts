/**
 * A port forward added to a running gateway through the management API: `weft switch` holds a
 * guest namespace's TAP and serves the API; `weft ctl` creates a gateway on that switch, then a
 * forward host 127.0.0.1:PORT → guest:80; curl on the host (in a namespace standing for it) reaches
 * python's http.server in the guest; after `weft ctl delete forward` the port refuses.
 */

import { assertEquals, assertMatch } from "@std/assert";
import { peerTest } from "./_harness/lab.ts";
import { waitUntil } from "./_harness/process.ts";
import { weftCommand } from "./_harness/weft.ts";

peerTest(
  "gateway: a port forward added at runtime through the API reaches the guest; removed, it refuses",
  { tools: ["ip", "curl", "python3"], tun: true },
  async (lab) => {
    const guest = await lab.netns("guest");
    const host = await lab.netns("host");
    const state = lab.path("state");
    const dir = lab.path("sw");
    // The switch (and so the gateway and the forward's host socket) runs in the "host" namespace.
    const sw = host.spawn(
      weftCommand([
        "switch",
        "--sock",
        dir,
        "--state",
        state,
        "--api",
        "127.0.0.1:7780",
        "--connect",
        `tap://wt0?netns=${guest.name}`,
      ]),
      { name: "weft switch" },
    );
    await sw.waitForOutput(/switch ready/, 30_000).catch(() => {});
    await waitUntil("the api ready line", () => /api ready/.test(sw.errors), { timeoutMs: 60_000 });
    await waitUntil(`wt0 in ${guest.name}`, async () => {
      return (await guest.exec(["ip", "link", "show", "wt0"])).success;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    await guest.linkUp("wt0");
    await guest.addAddress("wt0", "10.0.2.15/24");
    await guest.ip("route", "add", "default", "via", "10.0.2.2");
    const www = await lab.mkdir("www");
    await Deno.writeTextFile(`${www}/index.html`, "hello from the guest\n");
    const server = guest.spawn(
      ["python3", "-u", "-m", "http.server", "--bind", "10.0.2.15", "--directory", www, "80"],
      { name: "guest http.server" },
    );
    await server.waitForOutput(/Serving HTTP on/, 15_000);

    const ctl = (...args: string[]) =>
      host.exec(weftCommand(["ctl", "--api", "http://127.0.0.1:7780", "--state", state, ...args]), {
        timeoutMs: 60_000,
      });
    const gw = await ctl("create", "gateway", "gw", "switch=sw0", "cidr=10.0.2.0/24");
    assertEquals(gw.code, 0, gw.stderr);
    const fwd = await ctl(
      "--json",
      "create",
      "forward",
      "gw",
      "proto=tcp",
      "hostAddr=127.0.0.1",
      "hostPort=18081",
      "guestAddr=10.0.2.15",
      "guestPort=80",
    );
    assertEquals(fwd.code, 0, fwd.stderr);
    const id = JSON.parse(fwd.stdout).id as string;
    const curl = () =>
      host.exec(["curl", "-sS", "--max-time", "10", "http://127.0.0.1:18081/index.html"], {
        timeoutMs: 20_000,
      });
    const ok = await curl();
    assertEquals(ok.code, 0, ok.stderr);
    assertEquals(ok.stdout, "hello from the guest\n");
    const del = await ctl("delete", "forward", "gw", id);
    assertEquals(del.code, 0, del.stderr);
    await waitUntil("the forward's port to refuse", async () => {
      const r = await curl();
      return r.code === 7 ? r : undefined; // curl: 7 = failed to connect (refused)
    }, { timeoutMs: 10_000, intervalMs: 200 });
    const refused = await curl();
    assertMatch(refused.stderr, /Connection refused|Couldn't connect/);
  },
  { timeoutMs: 120_000 },
);
