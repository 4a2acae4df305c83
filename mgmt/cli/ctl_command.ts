/**
 * `weft ctl`: the management API from the command line, for people and scripts.
 *
 *   weft ctl list switches | ports SWITCH | fdb SWITCH
 *   weft ctl show node | switch NAME
 *   weft ctl create switch NAME [--set key=value …]
 *   weft ctl set switch NAME key=value … | set port SWITCH N key=value …
 *   weft ctl delete switch NAME | port SWITCH N | fdb SWITCH
 *
 * The token comes from $WEFT_TOKEN or STATE/api.token; the API from --api (default
 * http://127.0.0.1:7780). Errors of the API are printed as its one-line message; exit 1.
 */

import { ConfigError, UsageError } from "../../core/errors.ts";
import type { Command } from "./command.ts";
import { STATE_OPTION, stateDirOf, stringOpt } from "./command.ts";

const USAGE = "weft ctl (list|show|create|set|delete) RESOURCE … — see: weft ctl --help";

/** `key=value` words → a JSON object; numbers and booleans are typed. */
export function parseAssignments(words: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const w of words) {
    const i = w.indexOf("=");
    if (i <= 0) throw new UsageError(`weft ctl: expected key=value, got "${w}"`);
    const v = w.slice(i + 1);
    out[w.slice(0, i)] = v === "true"
      ? true
      : v === "false"
      ? false
      : /^-?\d+$/.test(v)
      ? Number(v)
      : v;
  }
  return out;
}

/** The HTTP request a ctl invocation makes: method, path, body. */
export function requestOf(args: string[]): { method: string; path: string; body?: unknown } {
  const [verb, kind, ...rest] = args;
  const sw = (name?: string) => {
    if (!name) throw new UsageError(`weft ctl ${verb} ${kind}: expected a switch name`);
    return `/api/v1/switches/${encodeURIComponent(name)}`;
  };
  const port = (n?: string) => {
    if (!n || !/^\d+$/.test(n)) {
      throw new UsageError(`weft ctl ${verb} ${kind}: expected a port number`);
    }
    return n;
  };
  switch (`${verb} ${kind}`) {
    case "list switches":
      return { method: "GET", path: "/api/v1/switches" };
    case "list ports":
      return { method: "GET", path: `${sw(rest[0])}/ports` };
    case "list fdb":
      return { method: "GET", path: `${sw(rest[0])}/fdb` };
    case "show node":
      return { method: "GET", path: "/api/v1/node" };
    case "show switch":
      return { method: "GET", path: sw(rest[0]) };
    case "create switch":
      sw(rest[0]);
      return {
        method: "POST",
        path: "/api/v1/switches",
        body: { name: rest[0], ...parseAssignments(rest.slice(1)) },
      };
    case "set switch":
      return { method: "PATCH", path: sw(rest[0]), body: parseAssignments(rest.slice(1)) };
    case "set port":
      return {
        method: "PATCH",
        path: `${sw(rest[0])}/ports/${port(rest[1])}`,
        body: parseAssignments(rest.slice(2)),
      };
    case "delete switch":
      return { method: "DELETE", path: sw(rest[0]) };
    case "delete port":
      return { method: "DELETE", path: `${sw(rest[0])}/ports/${port(rest[1])}` };
    case "delete fdb":
      return { method: "DELETE", path: `${sw(rest[0])}/fdb` };
  }
  throw new UsageError(`weft ctl: unknown request "${args.join(" ")}". ${USAGE}`);
}

export async function tokenOf(stateDir: string): Promise<string> {
  const env = Deno.env.get("WEFT_TOKEN");
  if (env) return env;
  try {
    return (await Deno.readTextFile(`${stateDir}/api.token`)).trim();
  } catch {
    throw new ConfigError(
      `No API token: set WEFT_TOKEN or run where ${stateDir}/api.token exists (--state DIR)`,
    );
  }
}

export const ctlCommand: Command = {
  name: "ctl",
  summary: "Talk to a node's management API (list, show, create, set, delete)",
  positionals: "VERB RESOURCE [ARGS…]",
  description: [
    "  weft ctl list switches            weft ctl list ports sw0        weft ctl list fdb sw0",
    "  weft ctl show node                weft ctl show switch sw0",
    "  weft ctl create switch lab hub=true mtu=1500",
    "  weft ctl set switch lab ageingSec=60",
    "  weft ctl set port sw0 3 vlan=access:10 enabled=false",
    "  weft ctl delete switch lab        weft ctl delete port sw0 3     weft ctl delete fdb sw0",
    "Token: $WEFT_TOKEN, else STATE/api.token. Output: a table, or the API's JSON with --json.",
  ].join("\n"),
  options: {
    api: { type: "string", value: "URL", help: "The API (default http://127.0.0.1:7780)" },
    json: { type: "boolean", help: "Print the API's JSON answer as it is" },
    state: STATE_OPTION,
  },
  async run(p, ctx) {
    const req = requestOf(p.positionals);
    const base = (stringOpt(p, "api") ?? "http://127.0.0.1:7780").replace(/\/$/, "");
    const token = await tokenOf(stateDirOf(p));
    let res: Response;
    try {
      res = await fetch(`${base}${req.path}`, {
        method: req.method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(req.body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
      });
    } catch (e) {
      ctx.logger.log("error", "no answer from the API", { api: base, error: (e as Error).message });
      return 1;
    }
    const text = await res.text();
    if (!res.ok) {
      let msg = text;
      try {
        msg = JSON.parse(text).error ?? text;
      } catch {
        // not JSON: print as it is
      }
      Deno.stderr.writeSync(new TextEncoder().encode(`weft ctl: ${res.status} ${msg}\n`));
      return 1;
    }
    if (text === "") return 0;
    const body = JSON.parse(text);
    ctx.print(p.values.json ? JSON.stringify(body, null, 2) : render(body));
    return 0;
  },
};

/** A compact text view: arrays of objects as aligned columns, objects as key/value lines. */
export function render(body: unknown): string {
  if (Array.isArray(body)) {
    if (body.length === 0) return "(none)";
    const cols = Object.keys(body[0]).filter((k) => typeof body[0][k] !== "object");
    const rows = body.map((r) => cols.map((c) => String(r[c])));
    const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
    return [line(cols), ...rows.map(line)].join("\n");
  }
  if (body && typeof body === "object") {
    return Object.entries(body).map(([k, v]) =>
      `${k.padEnd(12)} ${typeof v === "object" ? JSON.stringify(v) : v}`
    ).join("\n");
  }
  return String(body);
}
