/**
 * Endpoint kinds by URL scheme, like vdeplug4's `vde_open`: `openEndpoint("vde:///run/sw")`.
 * Each kind registers itself with its syntax line, which `weft --help` and the README show.
 */

import type { Endpoint } from "../core/endpoint.ts";
import { ConfigError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { silentLogger } from "../core/log.ts";
import { type EndpointUrl, parseEndpointUrl } from "./url.ts";

export interface OpenContext {
  logger: Logger;
  /** The node's state directory (identity, tokens); kinds that need one refuse without it. */
  stateDir?: string;
}

export interface EndpointKind {
  scheme: string;
  /** One line: the URL syntax and what it is, e.g. `vde:///DIR[?port=N] — a VDE switch`. */
  syntax: string;
  /** Whether the query string belongs to the kind's own text (cmd:// keeps it). */
  keepQuery?: boolean;
  open(url: EndpointUrl, ctx: OpenContext): Promise<Endpoint>;
}

const kinds = new Map<string, EndpointKind>();

export function registerKind(kind: EndpointKind): void {
  kinds.set(kind.scheme, kind);
}

export function endpointKinds(): EndpointKind[] {
  return [...kinds.values()];
}

/** Open an endpoint by URL. Bad URLs and unknown schemes throw ConfigError. */
export function openEndpoint(
  text: string,
  ctx: OpenContext = { logger: silentLogger },
): Promise<Endpoint> {
  const scheme = parseEndpointUrl(text).scheme;
  const kind = kinds.get(scheme);
  if (!kind) {
    const known = [...kinds.keys()].sort().join(", ");
    throw new ConfigError(
      `Cannot open endpoint "${text}": unknown scheme "${scheme}" (known: ${known})`,
    );
  }
  return kind.open(parseEndpointUrl(text, !kind.keepQuery), ctx);
}
