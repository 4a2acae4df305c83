import type { Command } from "./command.ts";
import { expectPositionals, STATE_OPTION, stateDirOf, stringOpt } from "./command.ts";
import { tokenOf } from "./ctl_command.ts";

export const exportCommand: Command = {
  name: "export",
  summary: "Print a running node's topology as YAML that `weft up` accepts",
  positionals: "",
  description: [
    "Asks the node's API (GET /api/v1/topology) for its switches, port VLANs and cables:",
    "  weft export > fabric.yaml && weft up fabric.yaml   # the same fabric, elsewhere or later",
  ].join("\n"),
  options: {
    api: { type: "string", value: "URL", help: "The API (default http://127.0.0.1:7780)" },
    state: STATE_OPTION,
  },
  async run(p, ctx) {
    expectPositionals(this, p, 0);
    const base = (stringOpt(p, "api") ?? "http://127.0.0.1:7780").replace(/\/$/, "");
    const token = await tokenOf(stateDirOf(p));
    let res: Response;
    try {
      res = await fetch(`${base}/api/v1/topology`, {
        headers: { authorization: `Bearer ${token}` },
      });
    } catch (e) {
      ctx.logger.log("error", "no answer from the API", { api: base, error: (e as Error).message });
      return 1;
    }
    const text = await res.text();
    if (!res.ok) {
      Deno.stderr.writeSync(new TextEncoder().encode(`weft export: ${res.status} ${text}\n`));
      return 1;
    }
    ctx.print(text.trimEnd());
    return 0;
  },
};
