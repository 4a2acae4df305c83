/**
 * Serving the management API from a long-running command (`weft switch`, `weft up`): the token
 * and node identity it needs, and the server itself, with the rules for a taken address.
 */

import { type Identity, loadOrCreateIdentity } from "../../cable/identity.ts";
import { type ApiToken, loadOrCreateToken } from "../auth.ts";
import { createApp } from "../app.ts";
import denoJson from "../../deno.json" with { type: "json" };
import {
  type ApiAddress,
  type ApiServer,
  DEFAULT_API,
  parseApiAddress,
  serveApi,
} from "../api_server.ts";
import { UsageError } from "../../core/errors.ts";
import { Node, SWITCH_NAME } from "../node.ts";
import type { CommandContext, OptionSpec, ParsedArgs } from "./command.ts";
import { stateDirOf, stringOpt } from "./command.ts";

export interface ApiSetup {
  token: ApiToken;
  nodeId: string;
  /** The certificate and key an HTTPS API serves with. */
  identity?: Identity;
}

/** The identity prepared with each token, so callers that pass only the token get HTTPS too. */
const identities = new WeakMap<ApiToken, Identity>();

/**
 * The token and identity the API needs. With the default address, a state directory that cannot
 * be written costs the API, not the switch (logged); with an explicit `--api` it is an error.
 */
export async function prepareApi(
  stateDir: string,
  explicit: boolean,
  ctx: CommandContext,
): Promise<ApiSetup | undefined> {
  try {
    const token = await loadOrCreateToken(stateDir);
    const identity = await loadOrCreateIdentity(stateDir);
    identities.set(token, identity);
    return { token, nodeId: identity.nodeId, identity };
  } catch (e) {
    if (explicit) throw e;
    ctx.logger.log("warn", "management API off: cannot prepare its token", {
      state: stateDir,
      error: e instanceof Error ? e.message : String(e),
    });
    return undefined;
  }
}

/**
 * Serve the API. The default port being taken (another `weft switch` on this host) leaves this
 * switch without an API, with a warning that says how to pick a port; a port the user asked for
 * being taken is an error.
 */
export function startApi(
  node: Node,
  addr: ApiAddress,
  token: ApiToken,
  explicit: boolean,
  ctx: CommandContext,
  identity?: Identity,
): ApiServer | undefined {
  const app = createApp(node, { token: token.token, logger: ctx.logger });
  try {
    identity ??= identities.get(token);
    const api = serveApi(addr, app.fetch, ctx.logger, identity);
    ctx.logger.log("info", "api ready", {
      url: api.url,
      token: token.path,
      // Beyond loopback: the pin clients give with --fp.
      ...(addr.tls && identity ? { fp: identity.fingerprint } : {}),
    });
    return api;
  } catch (e) {
    const where = `${addr.hostname}:${addr.port}`;
    if (e instanceof Deno.errors.AddrInUse && !explicit) {
      ctx.logger.log("warn", "management API off: address in use", {
        addr: where,
        hint: "pass --api 127.0.0.1:PORT (or :0 for any free port)",
      });
      return undefined;
    }
    throw new Error(`Cannot serve the API on ${where}: ${e instanceof Error ? e.message : e}`);
  }
}

/** The `--api` flag every long-running command shares (with `--state` for the token). */
export const API_OPTION: OptionSpec = {
  type: "string",
  value: "ADDR:PORT",
  help: `Serve the management API here (default ${DEFAULT_API}; beyond loopback: HTTPS; none: off)`,
};

/** A command's node and the API serving it, set up as `weft switch` does. */
export interface NodeWithApi {
  node: Node;
  /** Start serving (after the command registered what it runs); errors as startApi's. */
  serve(): void;
  /** Stop the API, then the node (which stops what it adopted). */
  close(): Promise<void>;
}

/**
 * Parse `--api` and `--state`, prepare the token and build the Node — before the command opens
 * anything, so a bad `--api` changes nothing. The command registers what it runs with the node
 * (`adoptStack`, `adoptGateway`, `createRouter`, `adoptJoin`), then calls `serve()`.
 */
export async function nodeWithApi(p: ParsedArgs, ctx: CommandContext): Promise<NodeWithApi> {
  const apiGiven = stringOpt(p, "api");
  const apiAddr = parseApiAddress(apiGiven ?? DEFAULT_API);
  const stateDir = stateDirOf(p);
  const explicit = apiGiven !== undefined;
  const setup = apiAddr ? await prepareApi(stateDir, explicit, ctx) : undefined;
  const node = new Node({
    id: setup?.nodeId ?? "unidentified",
    version: denoJson.version,
    logger: ctx.logger,
    stateDir,
  });
  let api: ApiServer | undefined;
  return {
    node,
    serve() {
      if (apiAddr && setup && !api) {
        api = startApi(node, apiAddr, setup.token, explicit, ctx, setup.identity);
      }
    },
    async close() {
      await api?.close();
      await node.close();
    },
  };
}

/** `--name`: checked before anything opens (the node would refuse it only after). */
export function nameOpt(p: ParsedArgs, command: string, dflt: string): string {
  const name = stringOpt(p, "name", dflt);
  if (!SWITCH_NAME.test(name)) {
    throw new UsageError(
      `weft ${command}: --name "${name}": expected 1 to 64 letters, digits, "_", "." or "-"`,
    );
  }
  return name;
}
