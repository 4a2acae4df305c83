import { openEndpoint } from "../../cable/mod.ts";
import type { Command } from "./command.ts";
import { expectPositionals, STATE_OPTION, stateDirOf } from "./command.ts";
import { join } from "./join.ts";

export const cableCommand: Command = {
  name: "cable",
  summary: "Join two endpoints, e.g. a weft switch and a real vde_switch",
  positionals: "URL_A URL_B",
  description: [
    "Frames from URL_A go to URL_B and back, until either side closes.",
    "  weft cable vde:///tmp/weft vde:///tmp/vde_switch",
    "  weft cable vde:///run/a 'cmd://ssh hostB weft plug vde:///run/b'",
  ].join("\n"),
  options: { state: STATE_OPTION },
  async run(p, ctx) {
    const [ua, ub] = expectPositionals(this, p, 2);
    const octx = { ...ctx, stateDir: stateDirOf(p) };
    const a = await openEndpoint(ua, octx);
    let b;
    try {
      b = await openEndpoint(ub, octx);
    } catch (e) {
      a.close();
      throw e;
    }
    ctx.logger.log("info", "cable up", { a: a.url, b: b.url });
    ctx.signal.addEventListener("abort", () => a.close());
    await join(a, b);
    ctx.logger.log("info", "cable down", { a: a.url, b: b.url });
    return 0;
  },
};
