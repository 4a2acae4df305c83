import { Hono } from "hono";
import { createPair } from "../../cable/pair.ts";
import { Switch } from "../../switch/switch.ts";
import { parse_cidr } from "../../stack/addr.ts";
import { Stack } from "../../stack/stack.ts";
import { serve } from "../../stack/http/serve.ts";
import { fetchVia } from "../../stack/http/fetch.ts";
import { switchReport } from "./switch_report.ts";
import type { Command } from "./command.ts";
import { expectPositionals } from "./command.ts";

const DEMO_MIB = 64;

/**
 * The Internet of Threads in one process: a switch and two user-space stacks with their own MACs
 * and IPs; one serves a Hono app, the other fetches from it across the virtual LAN.
 */
export const demoCommand: Command = {
  name: "demo",
  summary: "Show weft working in one process: a switch, two TCP/IP stacks, HTTP across the LAN",
  positionals: "",
  description: [
    "Builds a switch and plugs two user-space TCP/IP stacks into it (in-process pair cables).",
    "Stack A (10.0.0.1, fd00::1) serves a Hono app; stack B (10.0.0.2, fd00::2) fetches its page",
    `over IPv4 and IPv6, then downloads ${DEMO_MIB} MiB and prints the transfer rate and counters.`,
  ].join("\n"),
  options: {},
  async run(p, ctx) {
    expectPositionals(this, p, 0);
    const sw = new Switch({ name: "demo" });
    const [aNic, aPort] = createPair("stack-a", 1514);
    const [bNic, bPort] = createPair("stack-b", 1514);
    sw.attach(aPort, { description: "stack-a" });
    sw.attach(bPort, { description: "stack-b" });
    const a = new Stack({
      endpoint: aNic,
      mac: 0x02000000000a,
      ipv4: parse_cidr("10.0.0.1/24")!,
      ipv6: [parse_cidr("fd00::1/64")!],
    });
    const b = new Stack({
      endpoint: bNic,
      mac: 0x02000000000b,
      ipv4: parse_cidr("10.0.0.2/24")!,
      ipv6: [parse_cidr("fd00::2/64")!],
    });
    const blob = crypto.getRandomValues(new Uint8Array(1 << 16));
    const app = new Hono();
    app.get("/", (c) => c.text(`hello from stack A, you are ${c.req.header("x-from") ?? "?"}\n`));
    app.get("/bytes/:mib", (c) => {
      const total = Number(c.req.param("mib")) * 1048576;
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (sent >= total) return ctl.close();
          ctl.enqueue(blob);
          sent += blob.length;
        },
      }, { highWaterMark: 0 });
      return new Response(body, { headers: { "content-length": String(total) } });
    });
    const server = serve(a.listen({ port: 80 }), app.fetch);
    const dial = (hostname: string, port: number) => b.connect({ hostname, port });
    let code = 0;
    try {
      await Promise.all([a.settled(5000), b.settled(5000)]);
      ctx.print(
        `switch "demo": stack A ${a.addressTexts().join(" ")} | stack B ${
          b.addressTexts().join(" ")
        }`,
      );
      for (const url of ["http://10.0.0.1/", "http://[fd00::1]/"]) {
        const res = await fetchVia(dial, url, {
          headers: { "x-from": url.includes("[") ? "fd00::2" : "10.0.0.2" },
        });
        ctx.print(`B GET ${url} → ${res.status} ${(await res.text()).trim()}`);
      }
      const t0 = performance.now();
      const res = await fetchVia(dial, `http://10.0.0.1/bytes/${DEMO_MIB}`);
      let n = 0;
      for await (const chunk of res.body!) n += chunk.length;
      const s = (performance.now() - t0) / 1000;
      ctx.print(
        `B GET /bytes/${DEMO_MIB} → ${n} bytes in ${s.toFixed(2)} s: ${
          (n / 1048576 / s).toFixed(1)
        } MiB/s ` +
          `(both stacks, the switch and HTTP share one core)`,
      );
      if (n !== DEMO_MIB * 1048576) code = 1;
      ctx.print(switchReport(sw));
    } finally {
      await server.shutdown();
      await a.close();
      await b.close();
      sw.close();
    }
    return code;
  },
};
