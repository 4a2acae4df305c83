import { openEndpoint } from "../../cable/mod.ts";
import type { Command } from "./command.ts";
import { expectPositionals, STATE_OPTION, stateDirOf } from "./command.ts";
import { API_OPTION, nameOpt, nodeWithApi } from "./api_setup.ts";
import { join } from "./join.ts";

export const cableCommand: Command = {
  name: "cable",
  summary: "Join two endpoints, e.g. a weft switch and a real vde_switch",
  positionals: "URL_A URL_B",
  description: [
    "Frames from URL_A go to URL_B and back, until either side closes.",
    "  weft cable vde:///tmp/weft vde:///tmp/vde_switch",
    "  weft cable vde:///run/a 'cmd://ssh hostB weft plug vde:///run/b'",
    "  weft cable vde:///run/a 'tls://hostB:7443?fp=sha256:…&token-file=/etc/weft/tok'",
    "The management API (--api, default 127.0.0.1:7780) lists it under /api/v1/cables",
    "(direction join: link state, counters, a re-dialling side's attempts) and in /metrics.",
  ].join("\n"),
  options: {
    name: { type: "string", value: "NAME", help: "Name in the API and metrics (default cable0)" },
    state: STATE_OPTION,
    api: API_OPTION,
  },
  async run(p, ctx) {
    const [ua, ub] = expectPositionals(this, p, 2);
    const name = nameOpt(p, "cable", "cable0");
    const managed = await nodeWithApi(p, ctx);
    const octx = { ...ctx, stateDir: stateDirOf(p) };
    let a, b;
    try {
      a = await openEndpoint(ua, octx);
      b = await openEndpoint(ub, octx);
    } catch (e) {
      a?.close();
      await managed.close();
      throw e;
    }
    try {
      managed.node.adoptJoin(name, a, b);
      managed.serve();
      ctx.logger.log("info", "cable up", { a: a.url, b: b.url });
      ctx.signal.addEventListener("abort", () => a.close());
      await join(a, b);
      ctx.logger.log("info", "cable down", { a: a.url, b: b.url });
      return 0;
    } finally {
      await managed.close();
    }
  },
};
