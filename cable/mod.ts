/**
 * The cable layer's public face: registers every endpoint kind and re-exports the registry.
 * Importing this module is what makes `openEndpoint("vde:///…")` know its schemes.
 */

import { registerKind } from "./registry.ts";
import { stdioKind } from "./stdio.ts";
import { cmdKind } from "./cmd.ts";
import { vdeKind } from "./vde.ts";
import { tapKind } from "./tap.ts";
import { tcpKind, tcpListener, tlsKind, tlsListener } from "./tcp.ts";
import { registerListener } from "./listener.ts";
import { qemuKind, qemuListenerKind } from "./qemu.ts";
import { wsKinds, wsListenerKinds } from "./ws.ts";
import { vxlanKind } from "./vxlan.ts";

registerKind(stdioKind);
registerKind(cmdKind);
registerKind(vdeKind);
registerKind(tapKind);
registerKind(tcpKind);
registerKind(tlsKind);
registerListener(tcpListener);
registerListener(tlsListener);
registerKind(qemuKind);
registerListener(qemuListenerKind);
for (const k of wsKinds) registerKind(k);
for (const k of wsListenerKinds) registerListener(k);
registerKind(vxlanKind);

export { endpointKinds, type OpenContext, openEndpoint } from "./registry.ts";
export {
  type EndpointListener,
  type ListenContext,
  listenEndpoints,
  listenerKinds,
} from "./listener.ts";
export { createPair } from "./pair.ts";
export { StreamEndpoint } from "./stream.ts";
