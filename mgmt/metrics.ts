/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4): per-port and per-cable
 * frames, bytes and drops by reason, the MAC table, stacks, gateways, routers, and process memory. Built on demand from the counters the data
 * path already keeps, so scraping costs the frame path nothing.
 */

import type { Node } from "./node.ts";
import { cableView } from "./api/views.ts";
import { redactToken } from "../cable/tcp.ts";

type Kind = "counter" | "gauge";

class Exposition {
  #families = new Map<string, { help: string; kind: Kind; samples: string[] }>();

  add(name: string, kind: Kind, help: string, labels: Record<string, string>, value: number) {
    let f = this.#families.get(name);
    if (!f) this.#families.set(name, f = { help, kind, samples: [] });
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
    f.samples.push(`${name}${l ? `{${l}}` : ""} ${formatValue(value)}`);
  }

  /** Declare a family even when it has no samples yet, so dashboards see it from the start. */
  declare(name: string, kind: Kind, help: string) {
    if (!this.#families.has(name)) this.#families.set(name, { help, kind, samples: [] });
  }

  toString(): string {
    let out = "";
    for (const [name, f] of this.#families) {
      out += `# HELP ${name} ${f.help}\n# TYPE ${name} ${f.kind}\n`;
      for (const s of f.samples) out += s + "\n";
    }
    return out;
  }
}

/** Label values escape backslash, double quote and newline (exposition format spec). */
export function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export function renderMetrics(node: Node): string {
  const e = new Exposition();
  e.add("weft_uptime_seconds", "gauge", "Seconds since the node started.", {}, node.uptimeSec);
  e.declare("weft_port_frames_total", "counter", "Frames through a switch port, by direction.");
  e.declare("weft_port_bytes_total", "counter", "Bytes through a switch port, by direction.");
  e.declare("weft_port_drops_total", "counter", "Frames a switch port dropped, by reason.");
  e.declare(
    "weft_port_endpoint_drops_total",
    "counter",
    "Frames the endpoint plugged into a port dropped itself, by reason.",
  );
  e.declare("weft_port_up", "gauge", "1 while the port's link is up, else 0.");
  e.declare("weft_port_enabled", "gauge", "1 while the port is enabled, else 0.");
  for (const m of node.list()) {
    const sw = m.switch;
    const s = { switch: sw.name };
    for (const p of sw.ports()) {
      const l = { ...s, port: String(p.number) };
      const c = p.counters;
      e.add("weft_port_frames_total", "counter", "", { ...l, direction: "in" }, c.framesIn);
      e.add("weft_port_frames_total", "counter", "", { ...l, direction: "out" }, c.framesOut);
      e.add("weft_port_bytes_total", "counter", "", { ...l, direction: "in" }, c.bytesIn);
      e.add("weft_port_bytes_total", "counter", "", { ...l, direction: "out" }, c.bytesOut);
      for (const [reason, n] of Object.entries(c.drops)) {
        e.add("weft_port_drops_total", "counter", "", { ...l, reason }, n);
      }
      // The endpoint's own drops (malformed input, a full queue) are another layer: a family of
      // their own, so summing port drops does not count a frame twice.
      for (const [reason, n] of Object.entries(p.endpoint.stats().drops)) {
        e.add("weft_port_endpoint_drops_total", "counter", "", { ...l, reason }, n);
      }
      e.add("weft_port_up", "gauge", "", l, p.linkUp ? 1 : 0);
      e.add("weft_port_enabled", "gauge", "", l, p.enabled ? 1 : 0);
    }
    const fdb = sw.fdb;
    e.add(
      "weft_fdb_entries",
      "gauge",
      "Entries in a switch's MAC table (aged entries leave lazily, at lookup or sweep).",
      s,
      fdb.size,
    );
    e.add("weft_fdb_limit", "gauge", "Most entries a switch's MAC table holds.", s, fdb.limit);
    e.add(
      "weft_fdb_refusals_total",
      "counter",
      "New MACs not learned because the MAC table was full.",
      s,
      fdb.refusals,
    );
    e.add("weft_fdb_aged_total", "counter", "MAC table entries removed by ageing.", s, fdb.aged);
  }
  e.declare("weft_stack_frames_total", "counter", "Frames through a stack's NIC, by direction.");
  e.declare("weft_stack_bytes_total", "counter", "Bytes through a stack's NIC, by direction.");
  e.declare("weft_stack_drops_total", "counter", "Frames a stack's NIC dropped, by reason.");
  e.declare("weft_stack_tcp_connections", "gauge", "TCP connections of a stack (all states).");
  e.declare("weft_stack_addresses", "gauge", "Addresses a stack has configured.");
  for (const s of node.listStacks()) {
    const l = { stack: s.name };
    const c = s.stack.endpoint.stats();
    e.add("weft_stack_frames_total", "counter", "", { ...l, direction: "in" }, c.framesIn);
    e.add("weft_stack_frames_total", "counter", "", { ...l, direction: "out" }, c.framesOut);
    e.add("weft_stack_bytes_total", "counter", "", { ...l, direction: "in" }, c.bytesIn);
    e.add("weft_stack_bytes_total", "counter", "", { ...l, direction: "out" }, c.bytesOut);
    for (const [reason, n] of Object.entries(c.drops)) {
      e.add("weft_stack_drops_total", "counter", "", { ...l, reason }, n);
    }
    e.add("weft_stack_tcp_connections", "gauge", "", l, s.stack.tcp.connections.length);
    e.add("weft_stack_addresses", "gauge", "", l, s.stack.addressTexts().length);
  }
  cableMetrics(e, node);
  e.declare("weft_gateway_leases", "gauge", "DHCP leases a gateway has in force.");
  e.declare("weft_gateway_forwards", "gauge", "Port forwards a gateway listens for.");
  for (const g of node.listGateways()) {
    e.add("weft_gateway_leases", "gauge", "", { gateway: g.name }, g.gateway.leases().length);
    e.add("weft_gateway_forwards", "gauge", "", { gateway: g.name }, g.gateway.forwards().length);
  }
  e.declare("weft_router_forwarded_total", "counter", "Packets a router forwarded, by family.");
  e.declare("weft_router_forwarded_bytes_total", "counter", "IP bytes a router forwarded.");
  e.declare("weft_router_drops_total", "counter", "Packets a router did not forward, by reason.");
  e.declare("weft_router_icmp_errors_total", "counter", "ICMP errors a router sent, by type.");
  for (const r of node.listRouters()) {
    const l = { router: r.name };
    const st = r.router.stats;
    e.add("weft_router_forwarded_total", "counter", "", { ...l, family: "ipv4" }, st.forwarded4);
    e.add("weft_router_forwarded_total", "counter", "", { ...l, family: "ipv6" }, st.forwarded6);
    e.add("weft_router_forwarded_bytes_total", "counter", "", l, st.bytes);
    for (const [reason, n] of Object.entries(st.drops)) {
      e.add("weft_router_drops_total", "counter", "", { ...l, reason }, n);
    }
    for (const [type, n] of Object.entries(st.icmpErrors)) {
      e.add("weft_router_icmp_errors_total", "counter", "", { ...l, type }, n);
    }
  }
  e.add(
    "weft_api_requests_total",
    "counter",
    "HTTP requests the management API received, answered or refused.",
    {},
    node.apiRequests,
  );
  const mem = Deno.memoryUsage();
  e.add("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", {}, mem.rss);
  e.add("weft_heap_used_bytes", "gauge", "JavaScript heap in use, in bytes.", {}, mem.heapUsed);
  e.add("weft_heap_total_bytes", "gauge", "JavaScript heap reserved, in bytes.", {}, mem.heapTotal);
  return e.toString();
}

/**
 * Per cable (the API's view of it): frames and bytes each way, drops by reason, link, re-dials;
 * for listeners, cables accepted and refused by reason. Labelled by switch (empty for a `join`),
 * kind (connect, listen, join) and URL — with any `token=` value cut out, since scrapes are
 * often kept where the API token is not.
 */
function cableMetrics(e: Exposition, node: Node): void {
  e.declare("weft_cable_frames_total", "counter", "Frames through a cable, by direction.");
  e.declare("weft_cable_bytes_total", "counter", "Bytes through a cable, by direction.");
  e.declare("weft_cable_drops_total", "counter", "Frames a cable dropped, by reason.");
  e.declare("weft_cable_up", "gauge", "1 while a cable's link is up (or it listens), else 0.");
  e.declare("weft_cable_connects_total", "counter", "Connections a re-dialling cable made.");
  e.declare("weft_cable_connect_failures_total", "counter", "Dial attempts that failed.");
  e.declare("weft_cable_accepted_total", "counter", "Cables a listener accepted.");
  e.declare("weft_cable_refused_total", "counter", "Cables a listener refused, by reason.");
  for (const c of node.cables()) {
    const v = cableView(c);
    const l = { switch: v.switch ?? "", kind: v.direction, url: redactToken(v.url) };
    e.add("weft_cable_up", "gauge", "", l, v.link === "up" || v.link === "listening" ? 1 : 0);
    if (v.direction === "listen") {
      e.add("weft_cable_accepted_total", "counter", "", l, v.accepted ?? 0);
      for (const [reason, n] of Object.entries(v.refused)) {
        e.add("weft_cable_refused_total", "counter", "", { ...l, reason }, n);
      }
      continue;
    }
    e.add("weft_cable_frames_total", "counter", "", { ...l, direction: "in" }, v.framesIn);
    e.add("weft_cable_frames_total", "counter", "", { ...l, direction: "out" }, v.framesOut);
    e.add("weft_cable_bytes_total", "counter", "", { ...l, direction: "in" }, v.bytesIn);
    e.add("weft_cable_bytes_total", "counter", "", { ...l, direction: "out" }, v.bytesOut);
    for (const [reason, n] of Object.entries(v.drops)) {
      e.add("weft_cable_drops_total", "counter", "", { ...l, reason }, n);
    }
    if (v.reconnect) {
      e.add("weft_cable_connects_total", "counter", "", l, v.reconnect.connects);
      e.add("weft_cable_connect_failures_total", "counter", "", l, v.reconnect.failures);
    }
  }
}
