/**
 * A switch port: the endpoint plugged into it, its VLAN membership, its MTU and its counters.
 * `in` counts frames the switch received from the endpoint; `out` counts frames the endpoint
 * accepted from the switch. Drops are counted on the port where the frame was lost.
 */

import type { Endpoint } from "../core/endpoint.ts";
import { FrameCounters } from "../core/counters.ts";
import type { VlanMode } from "./vlan.ts";

export class Port {
  readonly counters = new FrameCounters();
  enabled = true;
  /** False while a reconnecting endpoint (a cable between hosts) is down. */
  linkUp = true;

  constructor(
    readonly number: number,
    readonly endpoint: Endpoint,
    public vlan: VlanMode,
    /** Largest payload accepted in or out, in bytes: the frame less its header and 802.1Q tag. */
    public mtu: number,
    /** Free text for people: who is plugged in (a vde_plug description, a cable URL). */
    readonly description: string,
  ) {}
}
