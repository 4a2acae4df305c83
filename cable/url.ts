/**
 * Endpoint URLs: `scheme:rest`. Parsed by hand rather than with `URL`, because some kinds carry
 * text that WHATWG URLs reject or rewrite (`cmd://ssh host weft plug vde:///b` has spaces, and
 * `vde://relative/dir` would lose its first segment to the host field).
 */

import { ConfigError } from "../core/errors.ts";

export interface EndpointUrl {
  /** The whole URL as given. */
  text: string;
  /** Lower-case scheme without the colon: `vde`, `stdio`, `cmd`. */
  scheme: string;
  /** What follows `scheme:` with a leading `//` removed and the query split off. */
  rest: string;
  /** Query parameters (`?fp=…&port=3`); empty when there is none. */
  params: URLSearchParams;
}

export function parseEndpointUrl(text: string, splitQuery = true): EndpointUrl {
  const m = /^([a-z][a-z0-9+.-]*):(.*)$/is.exec(text.trim());
  if (!m) {
    throw new ConfigError(`Invalid endpoint URL "${text}": expected SCHEME:…, e.g. vde:///run/sw`);
  }
  let rest = m[2].startsWith("//") ? m[2].slice(2) : m[2];
  let params = new URLSearchParams();
  const q = rest.lastIndexOf("?");
  if (splitQuery && q >= 0) {
    params = new URLSearchParams(rest.slice(q + 1));
    rest = rest.slice(0, q);
  }
  return { text, scheme: m[1].toLowerCase(), rest, params };
}
