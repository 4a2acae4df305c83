import { MAX_FRAME } from "../core/endpoint.ts";
import { endpointContract } from "../tests/_harness/endpoint_contract.ts";
import { createPair } from "./pair.ts";

endpointContract("pair", () => {
  const [a, b] = createPair("t", 1514);
  return Promise.resolve({ a, b, cleanup: () => a.close() });
}, { mtu: 1514, closePropagates: true });

endpointContract("pair (max frame)", () => {
  const [a, b] = createPair("t");
  return Promise.resolve({ a, b, cleanup: () => a.close() });
}, { mtu: MAX_FRAME, closePropagates: true });
