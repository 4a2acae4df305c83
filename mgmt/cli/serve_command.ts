import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { ConfigError, parseIntIn, UsageError } from "../../core/errors.ts";
import { format_addr } from "../../stack/addr.ts";
import { formatMac } from "../../core/mac.ts";
import { serve } from "../../stack/http/serve.ts";
import type { Stack } from "../../stack/stack.ts";
import type { Command, CommandContext, ParsedArgs } from "./command.ts";
import { expectPositionals, listOpt, stringOpt } from "./command.ts";
import { openStack, STACK_OPTIONS, stackConfigOf } from "./stack_options.ts";
import { staticFiles } from "../services/static_files.ts";
import { echo, relay } from "../../stack/socket/relay.ts";
import type { ServiceSpec, StackSpec } from "../stack_resource.ts";
import { API_OPTION, nameOpt, nodeWithApi } from "./api_setup.ts";
import { urlHost } from "../../core/host_port.ts";

type Handler = (req: Request, info: { remoteAddr: Deno.Addr }) => Response | Promise<Response>;

/** `weft serve`: a daemon on an IP of its own, on a user-space stack plugged into a switch. */
export const serveCommand: Command = {
  name: "serve",
  summary: "Run a service on its own IP: a user-space TCP/IP stack plugged into a switch",
  positionals: "",
  description: [
    "Starts a TCP/IP stack with its own MAC and addresses on the switch at --switch and serves one",
    "of: the files under --dir, a TCP relay to a local program (--proxy: an unmodified daemon gets",
    "its own IP), the fetch handler exported by a module (--app), or a TCP echo (--echo PORT).",
    "  weft serve --switch vde:///tmp/sw --ip 10.0.0.2/24 --dir ./public",
    "  weft serve --switch vde:///tmp/sw --ip dhcp --ip6 auto --proxy 127.0.0.1:8080 --port 80",
    "  weft serve --switch vde:///tmp/sw --ip 10.0.0.2/24 --app ./app.ts   (export default app)",
    "SIGUSR2 prints the stack's counters on stderr; SIGINT/SIGTERM stop it (releasing a DHCP lease).",
    "The management API (--api, default 127.0.0.1:7780) shows the stack at /api/v1/stacks/NAME;",
    "deleting it there stops the service.",
  ].join("\n"),
  options: {
    ...STACK_OPTIONS,
    name: { type: "string", value: "NAME", help: "Name of the stack in the API (default stack0)" },
    api: API_OPTION,
    dir: { type: "string", value: "PATH", help: "Serve the files under PATH over HTTP" },
    proxy: { type: "string", value: "HOST:PORT", help: "Relay each TCP connection to HOST:PORT" },
    app: {
      type: "string",
      value: "MODULE",
      help: "Serve the fetch handler a module exports (default export: a function or { fetch })",
    },
    echo: { type: "string", value: "PORT", help: "TCP echo service on PORT" },
    port: {
      type: "string",
      value: "PORT",
      help: "Port on the stack (default 80; --proxy: its port)",
    },
  },
  async run(p, ctx) {
    expectPositionals(this, p, 0);
    const cfg = stackConfigOf(this.name, p);
    const modes = ["dir", "proxy", "app", "echo"].filter((m) => stringOpt(p, m) !== undefined);
    if (modes.length !== 1) {
      throw new UsageError(
        `weft serve: choose exactly one of --dir, --proxy, --app, --echo (got ${
          modes.length || "none"
        })`,
      );
    }
    const mode = modes[0];
    const service = await prepare(mode, p);
    const name = nameOpt(p, this.name, "stack0");
    const managed = await nodeWithApi(p, ctx);
    let stack: Stack;
    try {
      stack = await openStack(cfg, p, ctx);
    } catch (e) {
      await managed.close();
      throw e;
    }
    // Stopped by a signal or by deleting the stack through the API.
    const stop = new AbortController();
    const abort = () => stop.abort();
    ctx.signal.addEventListener("abort", abort);
    const counter = { accepted: 0 };
    try {
      const spec: StackSpec = {
        name,
        url: cfg.url,
        ...(stringOpt(p, "ip") === undefined ? {} : { ipv4: stringOpt(p, "ip") }),
        ...(listOpt(p, "ip6").length ? { ipv6: listOpt(p, "ip6") } : {}),
        ...(listOpt(p, "gw").length ? { gateways: listOpt(p, "gw") } : {}),
        ...(service.spec ? { service: service.spec } : {}),
      };
      managed.node.adoptStack(spec, stack, {
        service: {
          get accepted() {
            return counter.accepted;
          },
          stop: () => Promise.resolve(stop.abort()),
        },
      });
      managed.serve();
      return await runService(stack, mode, service, ctx, stop.signal, counter);
    } finally {
      ctx.signal.removeEventListener("abort", abort);
      await managed.close();
      await stack.close();
    }
  },
};

interface Prepared {
  port: number;
  handler?: Handler;
  target?: { hostname: string; port: number };
  what: string;
  /** The service as the API shows it (`--app` has no such form). */
  spec?: ServiceSpec;
}

/** Validate the service before the stack starts, so bad input changes nothing. */
async function prepare(mode: string, p: ParsedArgs): Promise<Prepared> {
  const portText = stringOpt(p, "port");
  const port = (dflt: number) =>
    portText === undefined ? dflt : parseIntIn("--port", portText, 1, 65535);
  switch (mode) {
    case "dir": {
      const dir = stringOpt(p, "dir")!;
      const info = await Deno.stat(dir).catch(() => undefined);
      if (!info?.isDirectory) throw new ConfigError(`weft serve: --dir "${dir}": not a directory`);
      return {
        port: port(80),
        handler: staticFiles(dir),
        what: `files under ${resolve(dir)}`,
        spec: { kind: "dir", port: port(80), path: resolve(dir) },
      };
    }
    case "proxy": {
      const text = stringOpt(p, "proxy")!;
      const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
      if (!m) throw new UsageError(`weft serve: --proxy "${text}": expected HOST:PORT`);
      const target = {
        hostname: m[1].replace(/^\[|\]$/g, ""),
        port: parseIntIn("--proxy port", m[2], 1, 65535),
      };
      return {
        port: port(target.port),
        target,
        what: `relay to ${text}`,
        spec: { kind: "proxy", port: port(target.port), target: text },
      };
    }
    case "app": {
      const path = stringOpt(p, "app")!;
      let mod: Record<string, unknown>;
      try {
        mod = await import(pathToFileURL(resolve(path)).href);
      } catch (e) {
        throw new ConfigError(
          `weft serve: --app "${path}": cannot load: ${(e as Error).message.split("\n")[0]}`,
        );
      }
      const d = mod.default as { fetch?: unknown } | ((...a: unknown[]) => unknown) | undefined;
      const fn = typeof d === "function"
        ? d
        : typeof d?.fetch === "function"
        ? d.fetch.bind(d)
        : mod.fetch;
      if (typeof fn !== "function") {
        throw new ConfigError(
          `weft serve: --app "${path}": expected a default export that is a fetch handler or has .fetch`,
        );
      }
      return { port: port(80), handler: fn as Handler, what: `the app in ${resolve(path)}` };
    }
    default: {
      const echoPort = parseIntIn("--echo", stringOpt(p, "echo")!, 1, 65535);
      return { port: echoPort, what: "TCP echo", spec: { kind: "echo", port: echoPort } };
    }
  }
}

async function runService(
  stack: Stack,
  mode: string,
  s: Prepared,
  ctx: CommandContext,
  signal: AbortSignal,
  counter: { accepted: number },
): Promise<number> {
  const listener = stack.listen({ port: s.port });
  const addrs = stack.addressTexts();
  ctx.print(
    `weft serve: ${s.what} on port ${s.port}, MAC ${
      formatMac(stack.mac)
    }, via ${stack.endpoint.url}`,
  );
  for (const a of addrs) {
    ctx.print(
      `  ${mode === "echo" || mode === "proxy" ? "tcp" : "http"}://${cidrUrlHost(a)}:${s.port}/`,
    );
  }
  if (stack.lease) {
    ctx.print(
      `  DHCP lease from ${format_addr(stack.lease.server)} for ${stack.lease.leaseSeconds} s`,
    );
  }
  ctx.print("weft serve: ready");
  // Not SIGUSR1: in Deno that also opens the V8 inspector.
  const report = () => ctx.logger.log("info", `counters ${JSON.stringify(stack.counters())}`);
  Deno.addSignalListener("SIGUSR2", report);
  signal.addEventListener("abort", () => Deno.removeSignalListener("SIGUSR2", report));
  signal.addEventListener("abort", () => listener.close());
  if (s.handler) {
    const handler = s.handler;
    const server = serve(listener, (req, info) => (counter.accepted++, handler(req, info)), {
      signal,
      onError: (e) => {
        ctx.logger.log("warn", "handler failed", { error: String(e) });
        return new Response("internal error\n", { status: 500 });
      },
    });
    await server.finished;
    return 0;
  }
  try {
    for await (const conn of listener) {
      counter.accepted++;
      if (mode === "echo") echo(conn);
      else {
        Deno.connect(s.target!).then(
          (local) => relay(conn, local),
          (e) => {
            ctx.logger.log("warn", "proxy target refused", { error: String(e) });
            conn.close();
          },
        );
      }
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
  return 0;
}

/** The address of "ADDR/LEN", as a URL host. */
function cidrUrlHost(cidr: string): string {
  return urlHost(cidr.slice(0, cidr.indexOf("/")));
}
