import { parseIntIn } from "../../core/errors.ts";
import { parse_addr } from "../../stack/addr.ts";
import type { Command } from "./command.ts";
import { expectPositionals, stringOpt } from "./command.ts";
import { openStack, STACK_OPTIONS, stackConfigOf } from "./stack_options.ts";
import { UsageError } from "../../core/errors.ts";

/** `weft ping`: ICMP echo from a user-space stack of its own, like ping(8). */
export const pingCommand: Command = {
  name: "ping",
  summary: "Ping from a user-space stack of its own (ICMP / ICMPv6 echo)",
  positionals: "TARGET",
  description: [
    "Starts a TCP/IP stack on the switch at --switch with the given address and sends echo",
    "requests to TARGET, printing each reply and a summary. Exit status 0 when a reply came.",
    "  weft ping --switch vde:///tmp/sw --ip 10.0.0.9/24 10.0.0.1",
    "  weft ping --switch vde:///tmp/sw --ip6 auto -c 3 fe80::1",
  ].join("\n"),
  options: {
    ...STACK_OPTIONS,
    count: { type: "string", short: "c", value: "N", help: "Stop after N echoes (default 4)" },
    interval: { type: "string", short: "i", value: "SECONDS", help: "Between echoes (default 1)" },
    size: { type: "string", short: "s", value: "BYTES", help: "Payload bytes (default 56)" },
    timeout: {
      type: "string",
      short: "W",
      value: "SECONDS",
      help: "Wait for each reply (default 1)",
    },
  },
  async run(p, ctx) {
    const [target] = expectPositionals(this, p, 1);
    const cfg = stackConfigOf(this.name, p);
    const dst = parse_addr(target);
    if (!dst) throw new UsageError(`weft ping: "${target}": expected an IPv4 or IPv6 address`);
    const count = parseIntIn("--count", stringOpt(p, "count", "4"), 1, 1_000_000);
    const size = parseIntIn("--size", stringOpt(p, "size", "56"), 0, 65000);
    const interval = Number(stringOpt(p, "interval", "1"));
    const timeout = Number(stringOpt(p, "timeout", "1"));
    if (!(interval >= 0.001 && interval <= 3600)) {
      throw new UsageError("weft ping: --interval: expected seconds in 0.001..3600");
    }
    if (!(timeout > 0 && timeout <= 60)) {
      throw new UsageError("weft ping: --timeout: expected seconds in (0, 60]");
    }
    const stack = await openStack(cfg, p, ctx);
    const rtts: number[] = [];
    let sent = 0;
    try {
      ctx.print(`PING ${target}: ${size} data bytes from ${stack.addressTexts().join(", ")}`);
      for (let seq = 1; seq <= count && !ctx.signal.aborted; seq++) {
        const started = performance.now();
        sent++;
        try {
          const r = await stack.ping(dst, seq, { size, timeoutMs: timeout * 1000 });
          rtts.push(r.rttMs);
          ctx.print(
            `${r.bytes + 8} bytes from ${target}: icmp_seq=${seq} time=${r.rttMs.toFixed(3)} ms`,
          );
        } catch (e) {
          if (!(e instanceof Deno.errors.TimedOut)) throw e;
          ctx.print(`no reply from ${target}: icmp_seq=${seq}`);
        }
        const wait = interval * 1000 - (performance.now() - started);
        if (seq < count && wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    } finally {
      await stack.close();
    }
    const loss = sent ? ((sent - rtts.length) / sent) * 100 : 0;
    ctx.print(`--- ${target} ping statistics ---`);
    ctx.print(
      `${sent} packets transmitted, ${rtts.length} received, ${loss.toFixed(0)}% packet loss`,
    );
    if (rtts.length) {
      const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
      ctx.print(
        `rtt min/avg/max = ${Math.min(...rtts).toFixed(3)}/${avg.toFixed(3)}/${
          Math.max(...rtts).toFixed(3)
        } ms`,
      );
    }
    return rtts.length ? 0 : 1;
  },
};
