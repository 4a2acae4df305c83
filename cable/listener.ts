/**
 * Listening endpoints by URL scheme: the accepting side of cables. `weft switch --listen URL`
 * plugs every accepted endpoint into a new port; `weft cable URL?listen …` waits for the first.
 * A kind's doc comment starts with its syntax, as for `openEndpoint` (registry.ts).
 */

import type { Endpoint } from "../core/endpoint.ts";
import { ConfigError } from "../core/errors.ts";
import type { OpenContext } from "./registry.ts";
import { type EndpointUrl, parseEndpointUrl } from "./url.ts";

export interface ListenContext extends OpenContext {
  /**
   * Take an accepted endpoint (plug it into a switch port). Throw to refuse it: the listener
   * closes it and counts the refusal as `attachRefused`.
   */
  accept(endpoint: Endpoint, description: string): void;
  /**
   * Told of each connection turned away (`authFailed`, `badHello`, `timeout`, …) with the peer's
   * address, where the listener kind reports it (tcp://, tls://), e.g. for events. Must not throw.
   */
  onRefused?(reason: string, peer: string): void;
}

export interface EndpointListener {
  /** Where it listens, as a URL with the actual port (e.g. after `:0`). */
  readonly url: string;
  /** Connections turned away, by reason (`badHello`, `authFailed`, `timeout`, …). */
  readonly refused: Record<string, number>;
  /** Endpoints accepted so far. */
  readonly accepted: number;
  close(): void;
  readonly closed: Promise<void>;
}

export interface ListenerKind {
  scheme: string;
  /** One line: the URL syntax and what it accepts. */
  syntax: string;
  listen(url: EndpointUrl, ctx: ListenContext): Promise<EndpointListener>;
}

const kinds = new Map<string, ListenerKind>();

export function registerListener(kind: ListenerKind): void {
  kinds.set(kind.scheme, kind);
}

export function listenerKinds(): ListenerKind[] {
  return [...kinds.values()];
}

/** Listen on a URL. Bad URLs and schemes that cannot listen throw ConfigError. */
export function listenEndpoints(text: string, ctx: ListenContext): Promise<EndpointListener> {
  const url = parseEndpointUrl(text);
  const kind = kinds.get(url.scheme);
  if (!kind) {
    const known = [...kinds.keys()].sort().join(", ") || "none";
    throw new ConfigError(
      `Cannot listen on "${text}": scheme "${url.scheme}" does not listen (these do: ${known})`,
    );
  }
  return kind.listen(url, ctx);
}

/** A refusal counter shared by listener kinds. */
export function countRefusal(refused: Record<string, number>, reason: string): void {
  refused[reason] = (refused[reason] ?? 0) + 1;
}
