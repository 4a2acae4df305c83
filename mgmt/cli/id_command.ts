import { loadOrCreateIdentity } from "../../cable/identity.ts";
import type { Command } from "./command.ts";
import { expectPositionals, STATE_OPTION, stateDirOf } from "./command.ts";

export const idCommand: Command = {
  name: "id",
  summary: "Print this node's id and certificate fingerprint (created on first use)",
  positionals: "",
  description: [
    "The node identity (an ECDSA P-256 key and a self-signed certificate) lives in the state",
    "directory, files mode 0600. Clients pin a server by its fingerprint:",
    "  weft cable vde:///tmp/sw 'tls://hostB:7443?fp=sha256:…&token-file=/etc/weft/token'",
  ].join("\n"),
  options: { state: STATE_OPTION, json: { type: "boolean", help: "Print JSON" } },
  async run(p, ctx) {
    expectPositionals(this, p, 0);
    const dir = stateDirOf(p);
    const id = await loadOrCreateIdentity(dir);
    if (p.values.json) {
      ctx.print(JSON.stringify({ node: id.nodeId, fingerprint: id.fingerprint, stateDir: dir }));
    } else {
      ctx.print(`node        ${id.nodeId}`);
      ctx.print(`fingerprint ${id.fingerprint}`);
      ctx.print(`state       ${dir}`);
    }
    return 0;
  },
};
