/**
 * busybox udhcpc as a real DHCP client in a namespace: a script that prints what the server said
 * (one `WEFT key=value …` line) and configures the address, and a bounded one-shot run.
 */

import { assert } from "@std/assert";
import type { Netns } from "./netns.ts";
import { describeFailure } from "./process.ts";

/** udhcpc's script: print what it was told, configure the address (for the DNS checks). */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    echo "WEFT ip=$ip subnet=$subnet router=$router dns=$dns domain=$domain mtu=$mtu lease=$lease serverid=$serverid"
    ip addr flush dev "$interface"
    ip addr add "$ip/$subnet" dev "$interface"
    ;;
  deconfig) ip addr flush dev "$interface" ;;
esac
exit 0
`;

/** One udhcpc run on `wt0` (`-n -q`: give up or quit once bound); the values it printed. */
export async function udhcpc(
  ns: Netns,
  script: string,
  extra: string[] = [],
): Promise<Record<string, string>> {
  const r = await ns.exec([
    "busybox",
    "udhcpc",
    "-i",
    "wt0",
    "-n",
    "-q",
    "-f",
    "-t",
    "4",
    "-T",
    "1",
    "-s",
    script,
    ...extra,
  ], { timeoutMs: 20_000 });
  const m = /^WEFT (.*)$/m.exec(r.stdout);
  assert(r.success && m !== null, describeFailure(r));
  return Object.fromEntries(m[1].split(" ").map((kv) => kv.split("=", 2) as [string, string]));
}
