/**
 * `weft ctl`: the management API from the command line, for people and scripts.
 *
 *   weft ctl list switches | ports SWITCH | fdb SWITCH
 *   weft ctl show node | switch NAME
 *   weft ctl create switch NAME [--set key=value …]
 *   weft ctl set switch NAME key=value … | set port SWITCH N key=value …
 *   weft ctl delete switch NAME | port SWITCH N | fdb SWITCH
 *   weft ctl list stacks | show stack NAME | delete stack NAME
 *   weft ctl create stack NAME switch=SW ipv4=CIDR|dhcp [ipv6=auto,CIDR] [gateways=A,B]
 *            [service.kind=echo|dir|proxy service.port=N service.path=DIR service.target=H:P]
 *   weft ctl list cables | create cable SWITCH URL [direction=listen] | delete cable SWITCH URL
 *   weft ctl list gateways | show gateway NAME | delete gateway NAME
 *   weft ctl list routers | show router NAME | delete router NAME
 *   weft ctl create router NAME iface=IF=SWITCH|URL,CIDR[,CIDR6] … [route=DEST=VIA …] [ra=IF …]
 *   weft ctl create gateway NAME switch=SW cidr=10.0.2.0/24 [dhcp.start=A dhcp.end=B dns=true]
 *   weft ctl list forwards GW | list leases GW | delete forward GW ID
 *   weft ctl create forward GW proto=tcp hostAddr=127.0.0.1 hostPort=2222 guestAddr=A guestPort=22
 *
 * The token comes from --token-file, $WEFT_TOKEN or STATE/api.token; the API from --api (default
 * http://127.0.0.1:7780; https://HOST:PORT with --fp, the node's pinned certificate —
 * api_client.ts). Errors of the API are printed as its one-line message; exit 1.
 */

import { UsageError } from "../../core/errors.ts";
import { parseIfaceSpec, parseRouteSpec } from "../../router/config.ts";
import type { Command } from "./command.ts";
import { STATE_OPTION } from "./command.ts";
import { apiRequest, CLIENT_OPTIONS, errorOf, PinMismatchError, targetOf } from "./api_client.ts";

const USAGE = "weft ctl (list|show|create|set|delete) RESOURCE … — see: weft ctl --help";

/** Keys whose value is a list: `ipv6=auto,fd00::2/64`. */
const LIST_KEYS = new Set(["ipv6", "gateways"]);

/**
 * `key=value` words → a JSON object; numbers and booleans are typed, `a.b=v` nests
 * (`service.kind=echo`), and list keys split on commas.
 */
export function parseAssignments(words: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const w of words) {
    const i = w.indexOf("=");
    if (i <= 0) throw new UsageError(`weft ctl: expected key=value, got "${w}"`);
    const v = w.slice(i + 1);
    const path = w.slice(0, i).split(".");
    let into = out;
    for (const k of path.slice(0, -1)) {
      const next = into[k];
      if (next !== undefined && (typeof next !== "object" || next === null)) {
        throw new UsageError(`weft ctl: "${w}": ${k} is not an object`);
      }
      into = (into[k] ??= {}) as Record<string, unknown>;
    }
    const key = path[path.length - 1];
    if (LIST_KEYS.has(key)) {
      into[key] = v === "" ? [] : v.split(",");
      continue;
    }
    into[key] = v === "true" ? true : v === "false" ? false : /^-?\d+$/.test(v) ? Number(v) : v;
  }
  return out;
}

/**
 * `create router NAME iface=… route=… ra=…` → the RouterCreate body. The words are those of
 * `weft router`'s flags (router/config.ts parses them), except that an interface's place is a
 * switch of the node (a name: no ":") or an endpoint URL.
 */
export function routerBodyOf(name: string, words: string[]): Record<string, unknown> {
  const interfaces: Record<string, unknown>[] = [];
  const routes: { dest: string; via: string }[] = [];
  const ra: string[] = [];
  for (const w of words) {
    const eq = w.indexOf("=");
    const [key, value] = [w.slice(0, eq), w.slice(eq + 1)];
    try {
      if (key === "iface") {
        const { url, ...i } = parseIfaceSpec(value);
        interfaces.push(url.includes(":") ? { ...i, url } : { ...i, switch: url });
      } else if (key === "route") routes.push(parseRouteSpec(value));
      else if (key === "ra") ra.push(value);
      else throw new UsageError(`expected iface=…, route=DEST=VIA or ra=IFACE, got "${w}"`);
    } catch (e) {
      const msg = (e as Error).message.replace(/^--(iface|route) /, `$1=`);
      throw new UsageError(`weft ctl create router: ${msg}`);
    }
  }
  if (interfaces.length === 0) {
    throw new UsageError(
      "weft ctl create router: give at least one iface=NAME=SWITCH|URL,CIDR[,CIDR6]",
    );
  }
  for (const n of ra) {
    const i = interfaces.find((x) => x.name === n);
    if (!i) throw new UsageError(`weft ctl create router: ra=${n}: no iface of that name`);
    i.ra = true;
  }
  return { name, interfaces, ...(routes.length > 0 ? { routes } : {}) };
}

/** The HTTP request a ctl invocation makes: method, path, body. */
export function requestOf(args: string[]): { method: string; path: string; body?: unknown } {
  const [verb, kind, ...rest] = args;
  const sw = (name?: string) => {
    if (!name) throw new UsageError(`weft ctl ${verb} ${kind}: expected a switch name`);
    return `/api/v1/switches/${encodeURIComponent(name)}`;
  };
  const stack = (name?: string) => {
    if (!name) throw new UsageError(`weft ctl ${verb} ${kind}: expected a stack name`);
    return `/api/v1/stacks/${encodeURIComponent(name)}`;
  };
  const gw = (name?: string) => {
    if (!name) throw new UsageError(`weft ctl ${verb} ${kind}: expected a gateway name`);
    return `/api/v1/gateways/${encodeURIComponent(name)}`;
  };
  const router = (name?: string) => {
    if (!name) throw new UsageError(`weft ctl ${verb} ${kind}: expected a router name`);
    return `/api/v1/routers/${encodeURIComponent(name)}`;
  };
  const url = (u?: string) => {
    if (!u) throw new UsageError(`weft ctl ${verb} ${kind}: expected a cable URL`);
    return u;
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
    case "list stacks":
      return { method: "GET", path: "/api/v1/stacks" };
    case "show stack":
      return { method: "GET", path: stack(rest[0]) };
    case "create stack":
      stack(rest[0]);
      return {
        method: "POST",
        path: "/api/v1/stacks",
        body: { name: rest[0], ...parseAssignments(rest.slice(1)) },
      };
    case "delete stack":
      return { method: "DELETE", path: stack(rest[0]) };
    case "list cables":
      return { method: "GET", path: "/api/v1/cables" };
    case "create cable":
      sw(rest[0]);
      return {
        method: "POST",
        path: "/api/v1/cables",
        body: { switch: rest[0], url: url(rest[1]), ...parseAssignments(rest.slice(2)) },
      };
    case "list gateways":
      return { method: "GET", path: "/api/v1/gateways" };
    case "list routers":
      return { method: "GET", path: "/api/v1/routers" };
    case "show router":
      return { method: "GET", path: router(rest[0]) };
    case "create router":
      router(rest[0]);
      return {
        method: "POST",
        path: "/api/v1/routers",
        body: routerBodyOf(rest[0], rest.slice(1)),
      };
    case "delete router":
      return { method: "DELETE", path: router(rest[0]) };
    case "show gateway":
      return { method: "GET", path: gw(rest[0]) };
    case "create gateway":
      gw(rest[0]);
      return {
        method: "POST",
        path: "/api/v1/gateways",
        body: { name: rest[0], ...parseAssignments(rest.slice(1)) },
      };
    case "delete gateway":
      return { method: "DELETE", path: gw(rest[0]) };
    case "list forwards":
      return { method: "GET", path: `${gw(rest[0])}/forwards` };
    case "create forward":
      return {
        method: "POST",
        path: `${gw(rest[0])}/forwards`,
        body: parseAssignments(rest.slice(1)),
      };
    case "delete forward":
      if (!rest[1]) throw new UsageError(`weft ctl delete forward: expected GATEWAY ID`);
      return { method: "DELETE", path: `${gw(rest[0])}/forwards/${encodeURIComponent(rest[1])}` };
    case "list leases":
      return { method: "GET", path: `${gw(rest[0])}/leases` };
    case "delete cable": {
      sw(rest[0]);
      const q = new URLSearchParams({ switch: rest[0], url: url(rest[1]) });
      const extra = parseAssignments(rest.slice(2));
      if (typeof extra.direction === "string") q.set("direction", extra.direction);
      return { method: "DELETE", path: `/api/v1/cables?${q}` };
    }
  }
  throw new UsageError(`weft ctl: unknown request "${args.join(" ")}". ${USAGE}`);
}

export { tokenOf } from "./api_client.ts";

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
    "  weft ctl create stack web switch=sw0 ipv4=10.0.0.2/24 ipv6=auto \\",
    "      service.kind=dir service.port=80 service.path=/srv/www",
    "  weft ctl list stacks              weft ctl show stack web        weft ctl delete stack web",
    "  weft ctl create cable sw0 tcp://hostB:7000   (direction=listen: accept cables on a URL)",
    "  weft ctl list cables              weft ctl delete cable sw0 tcp://hostB:7000",
    "  weft ctl create gateway gw switch=sw0 cidr=10.0.2.0/24 dhcp.start=10.0.2.15 \\",
    "      dhcp.end=10.0.2.99 dns=true",
    "  weft ctl create forward gw proto=tcp hostAddr=127.0.0.1 hostPort=2222 \\",
    "      guestAddr=10.0.2.15 guestPort=22",
    "  weft ctl list forwards gw         weft ctl delete forward gw fwd1  weft ctl list leases gw",
    "  weft ctl create router r1 iface=a=sw0,10.1.0.1/24 iface=b=sw1,10.2.0.1/24,fd02::1/64 \\",
    "      ra=b route=10.9.0.0/16=10.2.0.254   (an iface on a switch of the node, or a URL)",
    "  weft ctl list routers             weft ctl show router r1        weft ctl delete router r1",
    "Remote: weft ctl --api https://HOST:7780 --fp sha256:… --token-file F list switches",
    "Token: --token-file, $WEFT_TOKEN, else STATE/api.token. Output: a table, or --json.",
  ].join("\n"),
  options: {
    ...CLIENT_OPTIONS,
    json: { type: "boolean", help: "Print the API's JSON answer as it is" },
    state: STATE_OPTION,
  },
  async run(p, ctx) {
    const req = requestOf(p.positionals);
    const target = await targetOf("ctl", p);
    let res;
    try {
      res = await apiRequest(target, req.method, req.path, req.body);
    } catch (e) {
      if (e instanceof PinMismatchError) {
        Deno.stderr.writeSync(new TextEncoder().encode(`weft ctl: ${e.message}\n`));
        return 1;
      }
      ctx.logger.log("error", "no answer from the API", {
        api: target.base,
        error: (e as Error).message,
      });
      return 1;
    }
    if (res.status >= 300) {
      Deno.stderr.writeSync(new TextEncoder().encode(`weft ctl: ${res.status} ${errorOf(res)}\n`));
      return 1;
    }
    if (res.text === "") return 0;
    const body = JSON.parse(res.text);
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
