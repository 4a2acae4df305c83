/**
 * `weft apply FILE.yaml [--dry-run]`: make a running node match a topology file, changing only
 * what differs (mgmt/topology_plan.ts), all or nothing.
 *
 * The file is checked whole first (line:column errors as `weft up`, exit 2, nothing sent). The
 * live topology comes from GET /api/v1/topology; the plan is printed (`+` create, `~` change in
 * place, `-` delete) and, without --dry-run, applied one API request at a time. When a request
 * fails, the requests already done are undone in reverse order and the command exits 1 with the
 * API's reason. The node is a shared resource: another client changing it between our read and
 * our writes can make a step fail — which is then rolled back like any other failure.
 */

import { parseTopology, readTopologyFile } from "../topology.ts";
import { type ApiRequest, planApply } from "../topology_plan.ts";
import type { Command } from "./command.ts";
import { expectPositionals, STATE_OPTION } from "./command.ts";
import { apiRequest, CLIENT_OPTIONS, errorOf, PinMismatchError, targetOf } from "./api_client.ts";

export const applyCommand: Command = {
  name: "apply",
  summary: "Make a running node match a YAML topology file: only the difference, all or nothing",
  positionals: "FILE.yaml",
  description: [
    "Reads the node's live topology, prints the plan (+ create, ~ change, - delete) and applies",
    "it; if any step fails, the steps already done are undone and the exit status is 1.",
    "  weft apply fabric.yaml --dry-run      # print the plan only",
    "  weft export > now.yaml; $EDITOR now.yaml; weft apply now.yaml",
    "Port count, MAC table size and VDE directory are fixed when a switch is created: changing",
    "them replaces the switch (its ports are unplugged). A changed stack is replaced.",
  ].join("\n"),
  options: {
    "dry-run": { type: "boolean", help: "Print the plan, change nothing" },
    ...CLIENT_OPTIONS,
    state: STATE_OPTION,
  },
  async run(p, ctx) {
    const [file] = expectPositionals(this, p, 1);
    const want = await readTopologyFile(file);
    const target = await targetOf("apply", p);
    const say = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
    const call = async (r: ApiRequest) => {
      try {
        return await apiRequest(target, r.method, r.path, r.body);
      } catch (e) {
        return { status: 0, text: JSON.stringify({ error: (e as Error).message }) };
      }
    };

    let liveText: string;
    try {
      const res = await apiRequest(target, "GET", "/api/v1/topology");
      if (res.status !== 200) {
        say(`weft apply: cannot read the live topology: ${res.status} ${errorOf(res)}`);
        return 1;
      }
      liveText = res.text;
    } catch (e) {
      say(
        e instanceof PinMismatchError
          ? `weft apply: ${e.message}`
          : `weft apply: no answer from ${target.base}: ${(e as Error).message}`,
      );
      return 1;
    }
    const live = parseTopology(liveText, "live topology", { allowEmpty: true });
    const steps = planApply(live, want);
    if (steps.length === 0) {
      ctx.print("weft apply: no changes");
      return 0;
    }
    for (const s of steps) ctx.print(s.text);
    if (p.values["dry-run"]) {
      ctx.print(`weft apply: ${steps.length} change(s) planned (dry run: nothing applied)`);
      return 0;
    }
    const done: ApiRequest[] = [];
    for (const s of steps) {
      const r = await call(s.request);
      if (r.status >= 200 && r.status < 300) {
        done.push(s.undo);
        continue;
      }
      say(`weft apply: "${s.text}" failed: ${r.status || "no answer"} ${errorOf(r)}`);
      const failed = await rollBack(done, call);
      if (failed.length > 0) {
        say(`weft apply: rollback incomplete, the node is partly changed:`);
        for (const f of failed) say(`  ${f}`);
      } else say(`weft apply: rolled back ${done.length} step(s); the node is as before`);
      return 1;
    }
    ctx.print(`weft apply: applied ${steps.length} change(s)`);
    return 0;
  },
};

async function rollBack(
  done: ApiRequest[],
  call: (r: ApiRequest) => Promise<{ status: number; text: string }>,
): Promise<string[]> {
  const failed: string[] = [];
  for (const undo of done.reverse()) {
    const r = await call(undo);
    if (r.status < 200 || r.status >= 300) {
      failed.push(`${undo.method} ${undo.path}: ${r.status || "no answer"} ${errorOf(r)}`);
    }
  }
  return failed;
}
