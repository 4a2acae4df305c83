/**
 * `stdio:` — this process's stdin/stdout with vde_plug's 2-byte big-endian length framing
 * (PROTOCOLS §2), so `weft plug` works in pipes, `dpipe`/`socat` chains and over `ssh`.
 * EOF on stdin closes the endpoint.
 */

import { MAX_FRAME } from "../core/endpoint.ts";
import type { EndpointKind } from "./registry.ts";
import { StreamEndpoint } from "./stream.ts";

export function openStdio(
  mtu = MAX_FRAME,
  onError?: (message: string) => void,
): StreamEndpoint {
  return new StreamEndpoint("stdio:", Deno.stdin, Deno.stdout, { headerBytes: 2, mtu, onError });
}

export const stdioKind: EndpointKind = {
  scheme: "stdio",
  syntax: "stdio: — stdin/stdout, vde_plug 2-byte big-endian length framing",
  open: () => Promise.resolve(openStdio()),
};
