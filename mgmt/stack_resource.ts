/**
 * Stacks as a node resource: the spec a user gives (API, topology file), its validation, and the
 * service a stack runs. Validation is separate from starting so the node can refuse bad input
 * before it opens anything (a refusal changes nothing).
 *
 * A service is one of:
 * - `echo` on PORT: each TCP connection is echoed back (RFC 862 in spirit, on any port);
 * - `dir` on PORT with `path`: the files under `path` over HTTP (mgmt/services/static_files.ts);
 * - `proxy` on PORT with `target` HOST:PORT: each connection relayed to a host socket, so an
 *   unmodified local daemon answers on the stack's own IP.
 */

import { ConfigError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { type Cidr, type IpAddr, parse_addr, parse_cidr } from "../stack/addr.ts";
import { serve } from "../stack/http/serve.ts";
import { echo, relay } from "../stack/socket/relay.ts";
import type { Stack } from "../stack/stack.ts";
import { staticFiles } from "./services/static_files.ts";

export type ServiceKind = "echo" | "dir" | "proxy";

export interface ServiceSpec {
  kind: ServiceKind;
  port: number;
  /** `dir`: the directory served. */
  path?: string;
  /** `proxy`: HOST:PORT on this host. */
  target?: string;
}

/** A stack as given: by the API (JSON) or the topology file. Addresses as text. */
export interface StackSpec {
  name: string;
  /** A switch of this node, attached in-process (exclusive with `url`). */
  switch?: string;
  /** Any endpoint URL (vde://…, tap://…, tcp://…). */
  url?: string;
  /** `10.0.0.2/24` or `dhcp`. */
  ipv4?: string;
  /** `auto` (SLAAC) and/or `fd00::2/64`. */
  ipv6?: string[];
  gateways?: string[];
  service?: ServiceSpec;
}

export interface CheckedStack {
  ipv4: Cidr | "dhcp" | undefined;
  ipv6: Array<Cidr | "auto">;
  gateways: IpAddr[];
  proxyTarget?: { hostname: string; port: number };
}

/** Check every address and the service of a spec; ConfigError naming the bad value. */
export async function checkStackSpec(spec: StackSpec): Promise<CheckedStack> {
  const checked = checkStackText(spec);
  const s = spec.service;
  if (s?.kind === "dir") {
    const info = await Deno.stat(s.path!).catch(() => undefined);
    if (!info?.isDirectory) {
      throw new ConfigError(
        `Invalid service path "${s.path}" of stack "${spec.name}": not a directory`,
      );
    }
  }
  return checked;
}

/** The checks that need no I/O (the topology parser runs them to report line and column). */
export function checkStackText(spec: StackSpec): CheckedStack {
  const where = `stack "${spec.name}"`;
  if ((spec.switch === undefined) === (spec.url === undefined)) {
    throw new ConfigError(`Invalid ${where}: give exactly one of switch (a switch name) or url`);
  }
  let ipv4: Cidr | "dhcp" | undefined;
  if (spec.ipv4 === "dhcp") ipv4 = "dhcp";
  else if (spec.ipv4 !== undefined) {
    const c = parse_cidr(spec.ipv4);
    if (!c || c.addr.length !== 4) {
      throw new ConfigError(
        `Invalid ipv4 "${spec.ipv4}" of ${where}: expected IPv4/prefix like 10.0.0.2/24, or dhcp`,
      );
    }
    ipv4 = c;
  }
  const ipv6: Array<Cidr | "auto"> = [];
  for (const t of spec.ipv6 ?? []) {
    if (t === "auto") {
      ipv6.push("auto");
      continue;
    }
    const c = parse_cidr(t);
    if (!c || c.addr.length !== 16) {
      throw new ConfigError(
        `Invalid ipv6 "${t}" of ${where}: expected IPv6/prefix like fd00::2/64, or auto`,
      );
    }
    ipv6.push(c);
  }
  if (ipv4 === undefined && ipv6.length === 0) {
    throw new ConfigError(`Invalid ${where}: give it an address: ipv4 and/or ipv6`);
  }
  const gateways = (spec.gateways ?? []).map((t) => {
    const a = parse_addr(t);
    if (!a) throw new ConfigError(`Invalid gateway "${t}" of ${where}: expected an IP address`);
    return a;
  });
  const out: CheckedStack = { ipv4, ipv6, gateways };
  const s = spec.service;
  if (s) {
    if (!Number.isSafeInteger(s.port) || s.port < 1 || s.port > 65535) {
      throw new ConfigError(`Invalid service port ${s.port} of ${where}: expected 1 to 65535`);
    }
    if (s.kind === "dir") {
      if (!s.path) throw new ConfigError(`Invalid service of ${where}: dir needs a path`);
    } else if (s.kind === "proxy") {
      const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(s.target ?? "");
      const port = m ? Number(m[2]) : 0;
      if (!m || port < 1 || port > 65535) {
        throw new ConfigError(
          `Invalid service target "${s.target ?? ""}" of ${where}: expected HOST:PORT`,
        );
      }
      out.proxyTarget = { hostname: m[1].replace(/^\[|\]$/g, ""), port };
    } else if (s.kind !== "echo") {
      throw new ConfigError(
        `Invalid service kind "${s.kind}" of ${where}: expected echo, dir or proxy`,
      );
    }
  }
  return out;
}

export interface RunningService {
  /** Connections accepted so far. */
  readonly accepted: number;
  stop(): Promise<void>;
}

/** Start a checked service on a stack; the port is bound synchronously (a taken port throws). */
export function startService(
  stack: Stack,
  s: ServiceSpec,
  checked: CheckedStack,
  logger: Logger,
): RunningService {
  const listener = stack.listen({ port: s.port });
  let accepted = 0;
  if (s.kind === "dir") {
    const files = staticFiles(s.path!);
    const server = serve(listener, (req) => (accepted++, files(req)), {
      onError: (e) => {
        logger.log("warn", "service handler failed", { error: String(e) });
        return new Response("internal error\n", { status: 500 });
      },
    });
    return {
      get accepted() {
        return accepted;
      },
      stop: () => server.shutdown(),
    };
  }
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        if (s.kind === "echo") {
          echo(conn).catch(() => {});
          continue;
        }
        Deno.connect(checked.proxyTarget!).then(
          (local) => relay(conn, local).catch(() => {}),
          (e) => {
            logger.log("warn", "proxy target refused", { target: s.target, error: String(e) });
            conn.close();
          },
        );
      }
    } catch {
      // The listener closed under the loop: the service is stopping.
    }
  })();
  return {
    get accepted() {
      return accepted;
    },
    stop: async () => {
      listener.close();
      await loop;
    },
  };
}
