import type { Command } from "./command.ts";
import { expectPositionals, STATE_OPTION } from "./command.ts";
import { apiRequest, CLIENT_OPTIONS, errorOf, PinMismatchError, targetOf } from "./api_client.ts";

export const exportCommand: Command = {
  name: "export",
  summary: "Print a running node's topology as YAML that `weft up` accepts",
  positionals: "",
  description: [
    "Asks the node's API (GET /api/v1/topology) for its switches, port VLANs, cables, stacks:",
    "  weft export > fabric.yaml && weft up fabric.yaml   # the same fabric, elsewhere or later",
  ].join("\n"),
  options: {
    ...CLIENT_OPTIONS,
    state: STATE_OPTION,
  },
  async run(p, ctx) {
    expectPositionals(this, p, 0);
    const target = await targetOf("export", p);
    let res;
    try {
      res = await apiRequest(target, "GET", "/api/v1/topology");
    } catch (e) {
      const error = (e as Error).message;
      if (e instanceof PinMismatchError) {
        Deno.stderr.writeSync(new TextEncoder().encode(`weft export: ${error}\n`));
      } else ctx.logger.log("error", "no answer from the API", { api: target.base, error });
      return 1;
    }
    if (res.status !== 200) {
      Deno.stderr.writeSync(
        new TextEncoder().encode(`weft export: ${res.status} ${errorOf(res)}\n`),
      );
      return 1;
    }
    ctx.print(res.text.trimEnd());
    return 0;
  },
};
