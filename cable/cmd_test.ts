import { MAX_FRAME } from "../core/endpoint.ts";
import { endpointContract } from "../tests/_harness/endpoint_contract.ts";
import { openCmd } from "./cmd.ts";

/**
 * Two cmd:// endpoints joined through two FIFOs: what `a` writes to its command's stdin comes out
 * of `b`'s command's stdout, and back. The commands are shell one-liners (two `cat`s each) that
 * end both cats when the endpoint closes and terminates them.
 */
endpointContract("cmd", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weft-cmd-" });
  for (const f of ["ab", "ba"]) {
    const mk = await new Deno.Command("mkfifo", { args: [`${dir}/${f}`] }).output();
    if (!mk.success) throw new Error("mkfifo failed");
  }
  // A background job's stdin is /dev/null in a non-interactive sh: hand it stdin as fd 3.
  const side = (out: string, inp: string) =>
    `exec 3<&0; cat <&3 > ${dir}/${out} & A=$!; cat < ${dir}/${inp} & B=$!; ` +
    `trap 'kill $A $B 2>/dev/null' TERM; wait`;
  const a = openCmd(side("ab", "ba"));
  const b = openCmd(side("ba", "ab"));
  return {
    a,
    b,
    async cleanup() {
      a.close();
      b.close();
      await Promise.all([a.closed, b.closed]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}, { mtu: MAX_FRAME, closePropagates: false });
