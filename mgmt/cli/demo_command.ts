import { createPair } from "../../cable/pair.ts";
import { Switch } from "../../switch/switch.ts";
import { switchReport } from "./switch_report.ts";
import type { Command } from "./command.ts";
import { expectPositionals } from "./command.ts";

/** Two in-process hosts on a switch: learning, then a burst of frames from one to the other. */
export const demoCommand: Command = {
  name: "demo",
  summary: "Show weft working in one process: a switch, two hosts, frames across it",
  positionals: "",
  description: [
    "Builds a switch with two hosts (in-process pair cables), lets the switch learn their MACs,",
    "sends 2,000,000 frames of 1,500 bytes from one to the other and prints the rate and counters.",
    "(The next milestone replaces the hosts with user-space TCP/IP stacks serving HTTP.)",
  ].join("\n"),
  options: {},
  run(p, ctx) {
    expectPositionals(this, p, 0);
    const sw = new Switch({ name: "demo" });
    const [a, aSw] = createPair("host-a");
    const [b, bSw] = createPair("host-b");
    sw.attach(aSw, { description: "host-a" });
    sw.attach(bSw, { description: "host-b" });
    let received = 0, bytes = 0;
    b.setSink((f) => (received++, bytes += f.length));
    a.setSink(() => {});
    const frame = new Uint8Array(1500);
    frame.set([0x02, 0, 0, 0, 0, 0xb, 0x02, 0, 0, 0, 0, 0xa, 0x88, 0xb5]);
    // b announces itself (broadcast) so the switch learns where it is.
    b.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0xb, 0x88, 0xb5]));
    const n = 2_000_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) a.send(frame);
    const s = (performance.now() - t0) / 1000;
    ctx.print(`host-a 02:00:00:00:00:0a → switch "demo" → host-b 02:00:00:00:00:0b`);
    ctx.print(
      `${received} frames received of ${n}, ${(n / s / 1e6).toFixed(2)} M frames/s, ` +
        `${(bytes * 8 / s / 1e9).toFixed(1)} Gbit/s (in process, one core)`,
    );
    ctx.print(switchReport(sw));
    sw.close();
    return Promise.resolve(received === n ? 0 : 1);
  },
};
