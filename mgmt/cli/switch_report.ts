/**
 * What a running `weft switch` tells on stderr: port up/down and MAC moves as they happen, and a
 * counter report on SIGUSR2 and at exit (until the management API serves them).
 */

import type { Logger } from "../../core/log.ts";
import type { Switch } from "../../switch/switch.ts";
import { formatVlanMode } from "../../switch/vlan.ts";

export function logSwitchEvents(sw: Switch, logger: Logger): void {
  sw.events.on((e) => {
    // The bus is the node's, shared by its switches: only this one's ports are logged here.
    if (e.switch !== sw.name) return;
    if (e.type === "port.up") {
      logger.log("info", "port up", { port: e.port, endpoint: e.description });
    } else if (e.type === "port.down") logger.log("info", "port down", { port: e.port });
  });
}

export function switchReport(sw: Switch, server?: { refused: Record<string, number> }): string {
  const report = {
    switch: sw.name,
    fdb: { size: sw.fdb.size, limit: sw.fdb.limit, refusals: sw.fdb.refusals, aged: sw.fdb.aged },
    ctlRefused: server?.refused ?? {},
    ports: sw.ports().map((p) => ({
      port: p.number,
      endpoint: p.description,
      vlan: formatVlanMode(p.vlan),
      link: p.linkUp ? "up" : "down",
      ...p.counters.snapshot(),
      // What the endpoint itself dropped (malformed input, its own queue): not the port's drops.
      endpointDrops: p.endpoint.stats().drops,
    })),
  };
  return `counters ${JSON.stringify(report)}`;
}
