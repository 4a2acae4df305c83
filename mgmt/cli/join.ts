/**
 * Joining two endpoints back to back: what `weft cable` and `weft plug` do. Each side's frames go
 * to the other's `send`; when either side closes, both close.
 */

import type { Endpoint } from "../../core/endpoint.ts";

export function join(a: Endpoint, b: Endpoint): Promise<void> {
  a.setSink((f) => void b.send(f));
  b.setSink((f) => void a.send(f));
  return Promise.race([a.closed, b.closed]).then(() => {
    a.close();
    b.close();
  });
}
