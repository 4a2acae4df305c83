import { openEndpoint } from "../../cable/mod.ts";
import { openStdio } from "../../cable/stdio.ts";
import type { Command } from "./command.ts";
import { expectPositionals, STATE_OPTION, stateDirOf } from "./command.ts";
import { join } from "./join.ts";

export const plugCommand: Command = {
  name: "plug",
  summary: "Join stdin/stdout (vde_plug 2-byte framing) to an endpoint",
  positionals: "URL",
  description: [
    "Frames read from stdin, each preceded by a 2-byte big-endian length, go to URL; frames from",
    "URL are written to stdout the same way. Use it in pipes and over ssh, as with vde_plug:",
    "  dpipe weft plug vde:///tmp/a = ssh hostB weft plug vde:///tmp/b",
    "  socat EXEC:'weft plug vde:///tmp/a' EXEC:'weft plug vde:///tmp/b'",
  ].join("\n"),
  options: { state: STATE_OPTION },
  async run(p, ctx) {
    const [url] = expectPositionals(this, p, 1);
    const octx = { ...ctx, stateDir: stateDirOf(p) };
    const ep = await openEndpoint(url, octx);
    const io = openStdio(
      undefined,
      (message) => ctx.logger.log("warn", "stdin", { error: message }),
    );
    ctx.signal.addEventListener("abort", () => ep.close());
    await join(io, ep);
    await io.drain();
    return 0;
  },
};
