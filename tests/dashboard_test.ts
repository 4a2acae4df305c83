/**
 * The dashboard in a real browser: a `weft switch` process serving the API on loopback, headless
 * Chromium driven over the DevTools protocol (a WebSocket from this test, no puppeteer), and two
 * real `vde_plug` clients (stdio mode) sending frames through the switch.
 *
 * Asserted from the DOM: the token from `#token=…` is taken and removed from the address bar;
 * the event stream is live and shows the port.up of a client plugged in after the page loaded;
 * the per-port frame counter shown rises while frames flow; the page fits a 1366×768 screen
 * without scrolling; a wrong token brings up the token dialog with an error. A screenshot is
 * taken (WEFT_ARTIFACTS=DIR keeps it as DIR/dashboard.png).
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { type Background, sleep, spawn, waitUntil } from "./_harness/process.ts";
import { gate } from "./_harness/requirements.ts";
import { CHROMIUM, spawnChromium } from "./_harness/chromium.ts";
import { streamFrame } from "./_harness/vde_wire.ts";
import { BROADCAST, frame, mac } from "./_harness/frames.ts";
import { WeftSwitch } from "./_harness/weft.ts";

const needs = gate({ root: false, tools: [CHROMIUM, "vde_plug"] });

/** A minimal DevTools-protocol client: one browser WebSocket, flat sessions. */
class Cdp {
  #ws: WebSocket;
  #next = 1;
  #pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (ev) => {
      const msg = JSON.parse(String(ev.data));
      const p = msg.id !== undefined ? this.#pending.get(msg.id) : undefined;
      if (!p) return; // events: not needed here
      this.#pending.delete(msg.id);
      if (msg.error) p.fail(new Error(`CDP ${msg.error.code}: ${msg.error.message}`));
      else p.ok(msg.result);
    };
    ws.onclose = () => {
      for (const p of this.#pending.values()) p.fail(new Error("CDP socket closed"));
      this.#pending.clear();
    };
  }

  static async connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    await new Promise<void>((ok, fail) => {
      ws.onopen = () => ok();
      ws.onerror = () => fail(new Error(`Cannot open the DevTools socket ${url}`));
    });
    return new Cdp(ws);
  }

  // deno-lint-ignore no-explicit-any
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> {
    const id = this.#next++;
    this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        fail(new Error(`CDP ${method} timed out`));
      }, 15_000);
      this.#pending.set(id, {
        ok: (v) => (clearTimeout(timer), ok(v)),
        fail: (e) => (clearTimeout(timer), fail(e)),
      });
    });
  }

  close(): void {
    this.#ws.close();
  }
}

/** A page in the browser, with `evaluate` returning plain values. */
class Page {
  constructor(readonly cdp: Cdp, readonly session: string) {}

  // deno-lint-ignore no-explicit-any
  async evaluate(expression: string): Promise<any> {
    const r = await this.cdp.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    }, this.session);
    if (r.exceptionDetails) {
      throw new Error(`In the page: ${r.exceptionDetails.exception?.description ?? expression}`);
    }
    return r.result.value;
  }

  async navigate(url: string): Promise<void> {
    await this.cdp.send("Page.navigate", { url }, this.session);
  }
}

/** Start headless Chromium on a fresh profile; resolves with the browser's DevTools URL. */
async function startChromium(profile: string): Promise<{ proc: Background; ws: string }> {
  const proc = spawnChromium(profile, [
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1366,768",
    "about:blank",
  ]);
  try {
    const m = await proc.waitForOutput(/DevTools listening on (ws:\/\/\S+)/, 30_000);
    return { proc, ws: m[1] };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

/** What the page shows for one port: its counters as numbers, and its link state. */
const PORT_STATE = (sw: string, port: number) =>
  `(() => {
  const row = document.querySelector('[data-switch="${sw}"] tr[data-port="${port}"]');
  if (!row) return undefined;
  const v = (c) => Number(row.querySelector('[data-counter="' + c + '"]').dataset.value);
  return { framesIn: v("framesIn"), framesOut: v("framesOut"), bytesIn: v("bytesIn"),
    link: row.querySelector("[data-link]").dataset.link };
})()`;

Deno.test({
  name: needs.name("dashboard: Chromium shows live counters, events and the token dialog"),
  ignore: needs.ignore,
  sanitizeResources: false,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "weft-dash-" });
    const cleanup: (() => Promise<unknown>)[] = [];
    try {
      const state = `${tmp}/state`;
      const sw = await WeftSwitch.start(`${tmp}/sw`, [
        "--api",
        "127.0.0.1:0",
        "--state",
        state,
        "--name",
        "lab",
      ]);
      cleanup.push(() => sw.stop());
      const api = await waitUntil("the api ready line", () => {
        return /api ready url=(\S+)/.exec(sw.process.errors)?.[1];
      }, { timeoutMs: 15_000 });
      const token = (await Deno.readTextFile(`${state}/api.token`)).trim();

      // Host A plugs in before the page loads.
      const plugA = spawn(["vde_plug", sw.url], { name: "vde_plug A", stdin: "piped" });
      cleanup.push(() => plugA.stop());

      const chrome = await startChromium(`${tmp}/profile`);
      cleanup.push(() => chrome.proc.stop());
      const cdp = await Cdp.connect(chrome.ws);
      cleanup.push(() => Promise.resolve(cdp.close()));
      const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
      const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
      const page = new Page(cdp, sessionId);
      await cdp.send("Page.enable", {}, sessionId);
      await cdp.send("Emulation.setDeviceMetricsOverride", {
        width: 1366,
        height: 768,
        deviceScaleFactor: 1,
        mobile: false,
      }, sessionId);

      // The token in the fragment: never sent to the server, taken and removed by the page.
      await page.navigate(`${api}/dashboard#token=${token}`);
      const port1 = await waitUntil(
        "the page to show port 1 of switch lab",
        () => page.evaluate(PORT_STATE("lab", 1)).catch(() => undefined),
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      assertEquals(port1.link, "up");
      assertEquals(await page.evaluate("location.href"), `${api}/dashboard`);
      assertEquals(await page.evaluate("sessionStorage.getItem('weft.token')"), token);
      assertEquals(
        await page.evaluate("document.getElementById('node-roles').textContent"),
        "switch",
      );
      await waitUntil(
        "the event stream to be live",
        () => page.evaluate("document.getElementById('live-text').textContent === 'live'"),
        { timeoutMs: 10_000, intervalMs: 100 },
      );

      // Host B plugs in after: its port.up arrives through the SSE stream, and its row appears.
      const plugB = spawn(["vde_plug", sw.url], { name: "vde_plug B", stdin: "piped" });
      cleanup.push(() => plugB.stop());
      await waitUntil(
        "a port.up event in the page's log",
        () => page.evaluate(`!!document.querySelector('#events li[data-type="port.up"]')`),
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      await waitUntil(
        "the page to show port 2",
        () => page.evaluate(PORT_STATE("lab", 2)),
        { timeoutMs: 10_000, intervalMs: 100 },
      );

      // Frames flow: B announces itself, A sends to B. The counter shown for port 1 must rise.
      const before = (await page.evaluate(PORT_STATE("lab", 1))).framesIn;
      await plugB.stdin!.write(streamFrame(frame({ dst: BROADCAST, src: mac(2) })));
      let sent = 0;
      let running = true;
      const sender = (async () => {
        const f = streamFrame(frame({ dst: mac(2), src: mac(1), length: 200 }));
        const batch = new Uint8Array(f.length * 20);
        for (let i = 0; i < 20; i++) batch.set(f, i * f.length);
        while (running) {
          await plugA.stdin!.write(batch);
          sent += 20;
          await sleep(50);
        }
      })();
      let shown: { framesIn: number; bytesIn: number } | undefined;
      try {
        shown = await waitUntil(
          "port 1's frames-in counter on the page to rise by 100",
          async () => {
            const s = await page.evaluate(PORT_STATE("lab", 1));
            return s && s.framesIn >= before + 100 ? s : undefined;
          },
          { timeoutMs: 15_000, intervalMs: 200 },
        );
      } finally {
        running = false;
        await sender;
      }
      assert(
        shown!.bytesIn >= shown!.framesIn * 60,
        `bytes follow frames: ${JSON.stringify(shown)}`,
      );
      const p2 = await page.evaluate(PORT_STATE("lab", 2));
      assert(p2.framesOut >= 100, `port 2 forwarded A's frames to B: ${JSON.stringify(p2)}`);
      const macs = await waitUntil(
        "both MACs in the page's MAC table",
        async () => {
          const t: string = await page.evaluate("document.getElementById('fdb').textContent");
          return t.includes("02:00:00:00:00:01") && t.includes("02:00:00:00:00:02") ? t : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      );
      assertMatch(macs, /02:00:00:00:00:02/);
      console.log(
        `  page counter: port 1 frames in ${before} → ${
          shown!.framesIn
        } (${sent} sent by vde_plug A)`,
      );

      const shot = await cdp.send("Page.captureScreenshot", { format: "png" }, sessionId);
      const png = Uint8Array.from(atob(shot.data), (c) => c.charCodeAt(0));
      assertEquals([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
      assert(png.length > 10_000, `a blank screenshot? ${png.length} bytes`);
      const keep = Deno.env.get("WEFT_ARTIFACTS");
      if (keep) {
        await Deno.mkdir(keep, { recursive: true });
        await Deno.writeFile(`${keep}/dashboard.png`, png);
      }

      // One laptop screen, no page scrolling; the topology picture has the switch and its ports.
      const fit = await page.evaluate(`({
        sh: document.documentElement.scrollHeight, ih: innerHeight,
        sw: document.documentElement.scrollWidth, iw: innerWidth,
        circles: document.querySelectorAll("#topology circle").length,
        wide: [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > innerWidth).slice(0, 5).map((e) => e.tagName + "#" + e.id + "." + e.className),
        names: [...document.querySelectorAll("#topology .sw text")].map((t) => t.textContent),
      })`);
      assert(fit.sh <= fit.ih && fit.sw <= fit.iw, `the page scrolls: ${JSON.stringify(fit)}`);
      assertEquals([fit.circles, fit.names], [2, ["lab"]]);

      // A stack and a cable made through the API appear in the picture's lower row.
      const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      for (
        const [path, body] of [
          ["/api/v1/stacks", { name: "web", switch: "lab", ipv4: "10.7.0.2/24" }],
          ["/api/v1/cables", { switch: "lab", url: "tcp://127.0.0.1:17931", direction: "listen" }],
        ] as const
      ) {
        const r = await fetch(`${api}${path}`, {
          method: "POST",
          headers: auth,
          body: JSON.stringify(body),
        });
        assertEquals(r.status, 201, `${path}: ${await r.text()}`);
      }
      const row = await waitUntil("the stack and the cable in the picture", async () => {
        const got = await page.evaluate(`({
          stack: [...document.querySelectorAll("#topology .stack text")].map((t) => t.textContent),
          cable: [...document.querySelectorAll("#topology .cable text")].map((t) => t.textContent),
        })`);
        return got.stack.length && got.cable.length ? got : undefined;
      }, { timeoutMs: 10_000, intervalMs: 200 });
      assertMatch(row.stack[0], /^web 10\.7\.0\.2\/24/);
      assertMatch(row.cable[0], /^lab .*tcp:\/\/127\.0\.0\.1:17931/);

      // A wrong token: the API says 401, the page asks for a token and shows why.
      await page.navigate(`${api}/dashboard#token=not-the-token-0123456789`);
      const dialog = await waitUntil(
        "the token dialog with an error",
        () =>
          page.evaluate(`(() => { const d = document.getElementById("login");
            const e = document.getElementById("login-error").textContent;
            return d.open && e ? e : undefined; })()`),
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      assertMatch(dialog, /refused/);
      assertEquals(await page.evaluate("sessionStorage.getItem('weft.token')"), null);
    } finally {
      for (const c of cleanup.reverse()) await c().catch(() => {});
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
