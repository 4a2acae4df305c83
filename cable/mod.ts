/**
 * The cable layer's public face: registers every endpoint kind and re-exports the registry.
 * Importing this module is what makes `openEndpoint("vde:///…")` know its schemes.
 */

import { registerKind } from "./registry.ts";
import { stdioKind } from "./stdio.ts";
import { cmdKind } from "./cmd.ts";
import { vdeKind } from "./vde.ts";
import { tcpKind, tcpListener, tlsKind, tlsListener } from "./tcp.ts";
import { registerListener } from "./listener.ts";

registerKind(stdioKind);
registerKind(cmdKind);
registerKind(vdeKind);
registerKind(tcpKind);
registerKind(tlsKind);
registerListener(tcpListener);
registerListener(tlsListener);

export { endpointKinds, type OpenContext, openEndpoint } from "./registry.ts";
export {
  type EndpointListener,
  type ListenContext,
  listenEndpoints,
  listenerKinds,
} from "./listener.ts";
export { createPair } from "./pair.ts";
export { StreamEndpoint } from "./stream.ts";
