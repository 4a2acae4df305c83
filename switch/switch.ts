/**
 * The L2 learning switch (IEEE 802.1Q bridge without STP, or a hub).
 *
 * The frame path is synchronous and allocation-free: a port's endpoint hands a borrowed frame to
 * `#input`, which classifies its VLAN, learns the source, looks up the destination and calls
 * `send` on the output endpoints, which copy what they keep. A frame whose tag must be added or
 * stripped for some outputs is rewritten once into a scratch buffer shared by all of them.
 */

import type { Endpoint } from "../core/endpoint.ts";
import { MAX_FRAME, MIN_FRAME } from "../core/endpoint.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { ConfigError, ConflictError } from "../core/errors.ts";
import { EventBus } from "../core/events.ts";
import { formatMac, hiAt, isGroupMacAt, loAt, macAt } from "../core/mac.ts";
import { LEARN_REFUSED, LEARNED_NEW, MacTable } from "./mac_table.ts";
import { Port } from "./port.ts";
import { DEFAULT_VLAN, egressUntagged, isMember, TPID_8021Q, type VlanMode } from "./vlan.ts";

export interface SwitchOptions {
  name?: string;
  /** Highest port number (ports are 1..ports; 0 is reserved as in vde_switch). */
  ports?: number;
  hub?: boolean;
  /** Default per-port MTU: the largest payload of a frame, Ethernet header and tag excluded. */
  mtu?: number;
  macLimit?: number;
  ageingSec?: number;
  clock?: Clock;
  events?: EventBus;
}

export interface AttachOptions {
  /** A specific port number; the lowest free one otherwise. */
  port?: number;
  vlan?: VlanMode;
  mtu?: number;
  description?: string;
}

/** Ethernet II header: destination, source, EtherType (IEEE 802.3 §3.1.1). */
const ETH_HEADER = 14;
/** The largest MTU: a 65,535-byte untagged frame (ARCHITECTURE §3, passt's ETH_MAX_MTU). */
export const MAX_MTU = MAX_FRAME - ETH_HEADER;

/** Number of 802.1Q VLAN IDs; index of `#members`. */
const VLAN_IDS = 4096;

export class Switch {
  readonly name: string;
  readonly maxPorts: number;
  hub: boolean;
  mtu: number;
  readonly fdb: MacTable;
  readonly events: EventBus;
  readonly clock: Clock;
  /** Per-VLAN default modes for ports that attach later (from `--vlan PORT=MODE`). */
  readonly portVlans = new Map<number, VlanMode>();
  #ports: (Port | undefined)[] = [];
  /** Ports carrying each VLAN, rebuilt when ports or their modes change. */
  #members: (Port[] | undefined)[] = new Array(VLAN_IDS);
  #tagged = new Uint8Array(MAX_FRAME + 4);
  #untagged = new Uint8Array(MAX_FRAME);

  constructor(opts: SwitchOptions = {}) {
    this.name = opts.name ?? "sw0";
    this.maxPorts = opts.ports ?? 32;
    this.hub = opts.hub ?? false;
    this.mtu = opts.mtu ?? MAX_MTU;
    this.clock = opts.clock ?? systemClock;
    this.events = opts.events ?? new EventBus();
    this.fdb = new MacTable(opts.macLimit ?? 65536, opts.ageingSec ?? 300);
  }

  /** Plug an endpoint into a port. Throws ConflictError when the port is taken or none is free. */
  attach(endpoint: Endpoint, opts: AttachOptions = {}): Port {
    const number = opts.port ?? this.#freePort();
    if (number < 1 || number > this.maxPorts) {
      throw new ConfigError(`Invalid port ${number}: this switch has ports 1 to ${this.maxPorts}`);
    }
    if (this.#ports[number]) throw new ConflictError(`Port ${number} is already in use`);
    const vlan = opts.vlan ?? this.portVlans.get(number) ?? DEFAULT_VLAN;
    const port = new Port(
      number,
      endpoint,
      vlan,
      // An endpoint that cannot carry the switch's MTU gets the largest untagged payload it can.
      opts.mtu ?? Math.min(this.mtu, endpoint.mtu - ETH_HEADER),
      opts.description ?? endpoint.url,
    );
    this.#ports[number] = port;
    this.#rebuildMembers();
    endpoint.setSink((frame) => this.#input(port, frame));
    endpoint.setLinkListener?.((up) => {
      // The hosts behind a link that went down may be elsewhere when it comes back.
      port.linkUp = up;
      if (!up) this.fdb.flush(number);
      this.events.emit({
        type: up ? "port.link.up" : "port.link.down",
        switch: this.name,
        port: number,
      });
    });
    endpoint.closed.then(() => this.detach(port));
    this.events.emit({
      type: "port.up",
      switch: this.name,
      port: number,
      endpoint: endpoint.url,
      description: port.description,
    });
    return port;
  }

  /** Unplug a port (idempotent): its MAC entries are flushed and its endpoint closed. */
  detach(port: Port): void {
    if (this.#ports[port.number] !== port) return;
    this.#ports[port.number] = undefined;
    this.#rebuildMembers();
    this.fdb.flush(port.number);
    port.endpoint.close();
    this.events.emit({ type: "port.down", switch: this.name, port: port.number });
  }

  setVlan(port: Port, mode: VlanMode): void {
    port.vlan = mode;
    this.fdb.flush(port.number);
    this.#rebuildMembers();
  }

  port(number: number): Port | undefined {
    return this.#ports[number];
  }

  ports(): Port[] {
    return this.#ports.filter((p): p is Port => p !== undefined);
  }

  close(): void {
    for (const p of this.ports()) this.detach(p);
  }

  #freePort(): number {
    for (let n = 1; n <= this.maxPorts; n++) if (!this.#ports[n]) return n;
    throw new ConflictError(`No free port: all ${this.maxPorts} ports are in use`);
  }

  #rebuildMembers(): void {
    this.#members = new Array(VLAN_IDS);
  }

  #membersOf(vid: number): Port[] {
    let m = this.#members[vid];
    if (m === undefined) {
      m = this.ports().filter((p) => isMember(p.vlan, vid));
      this.#members[vid] = m;
    }
    return m;
  }

  #input(port: Port, frame: Uint8Array): void {
    const c = port.counters;
    const len = frame.length;
    c.countIn(len);
    this.#stripSrc = this.#tagSrc = undefined;
    if (!port.enabled) return void c.drop("disabled");
    if (len < MIN_FRAME) return void c.drop("runt");
    if (isGroupMacAt(frame, 6)) return void c.drop("groupSource");

    // 802.1Q classification (IEEE 802.1Q-2018 §6.9): a tag with VID 0 is priority-only and
    // belongs to the port's untagged VLAN.
    const tagged = frame[12] === TPID_8021Q >> 8 && frame[13] === (TPID_8021Q & 0xff);
    const mode = port.vlan;
    let vid: number;
    if (tagged) {
      if (len < MIN_FRAME + 4) return void c.drop("runt");
      vid = ((frame[14] & 0x0f) << 8) | frame[15];
      if (vid === 0) vid = mode.kind === "access" ? mode.vid : mode.native ?? 0;
      else if (mode.kind === "access" || !isMember(mode, vid)) return void c.drop("vlanFiltered");
      if (vid === 0) return void c.drop("vlanFiltered");
      if (len - ETH_HEADER - 4 > port.mtu) return void c.drop("oversize");
    } else if (len - ETH_HEADER > port.mtu) {
      return void c.drop("oversize");
    } else if (mode.kind === "access") {
      vid = mode.vid;
    } else if (mode.native !== undefined) {
      vid = mode.native;
    } else {
      return void c.drop("untaggedOnTrunk");
    }

    if (!this.hub) {
      const now = this.#nowSec();
      const was = this.fdb.learn(vid, hiAt(frame, 6), loAt(frame, 6), port.number, now);
      if (was !== port.number && this.events.listening) {
        this.#learned(vid, macAt(frame, 6), port.number, was);
      }
      if (!isGroupMacAt(frame, 0)) {
        const out = this.fdb.lookup(vid, hiAt(frame, 0), loAt(frame, 0), now);
        if (out === port.number) return void c.drop("sameSegment");
        const target = out >= 0 ? this.#ports[out] : undefined;
        if (target !== undefined) return this.#output(target, frame, tagged, vid);
      }
    }
    const members = this.#membersOf(vid);
    for (let i = 0; i < members.length; i++) {
      if (members[i] !== port) this.#output(members[i], frame, tagged, vid);
    }
  }

  #output(port: Port, frame: Uint8Array, tagged: boolean, vid: number): void {
    const c = port.counters;
    if (!port.enabled) return void c.drop("disabled");
    let out = frame;
    const untagged = egressUntagged(port.vlan, vid);
    if (tagged && untagged) out = this.#strip(frame);
    else if (!tagged && !untagged) out = this.#addTag(frame, vid);
    if (out.length - ETH_HEADER - (untagged ? 0 : 4) > port.mtu) return void c.drop("oversize");
    if (port.endpoint.send(out)) c.countOut(out.length);
    else c.drop("endpoint");
  }

  // The rewritten variants are cached per input frame: a flood to many trunk ports builds the
  // tagged copy once. The cache key is the input view itself.
  #stripSrc: Uint8Array | undefined;
  #stripOut: Uint8Array | undefined;
  #tagSrc: Uint8Array | undefined;
  #tagOut: Uint8Array | undefined;

  #strip(frame: Uint8Array): Uint8Array {
    if (this.#stripSrc === frame && this.#stripOut) return this.#stripOut;
    const b = this.#untagged;
    b.set(frame.subarray(0, 12), 0);
    b.set(frame.subarray(16), 12);
    this.#stripSrc = frame;
    return this.#stripOut = b.subarray(0, frame.length - 4);
  }

  #addTag(frame: Uint8Array, vid: number): Uint8Array {
    if (this.#tagSrc === frame && this.#tagOut) return this.#tagOut;
    const b = this.#tagged;
    b.set(frame.subarray(0, 12), 0);
    b[12] = TPID_8021Q >> 8;
    b[13] = TPID_8021Q & 0xff;
    b[14] = vid >> 8;
    b[15] = vid & 0xff;
    b.set(frame.subarray(12), 16);
    this.#tagSrc = frame;
    return this.#tagOut = b.subarray(0, frame.length + 4);
  }

  /**
   * The clock in whole seconds, read once per event-loop turn rather than per frame: frames of one
   * read batch share a timestamp, which is all second-granular ageing needs.
   */
  #nowSec(): number {
    if (this.#now < 0) {
      this.#now = Math.floor(this.clock.now() / 1000);
      queueMicrotask(() => this.#now = -1);
    }
    return this.#now;
  }
  #now = -1;

  #learned(vlan: number, mac: number, port: number, was: number): void {
    if (was === LEARN_REFUSED) return; // counted in fdb.refusals, not an event per frame
    this.events.emit({
      type: was === LEARNED_NEW ? "mac.learned" : "mac.moved",
      switch: this.name,
      vlan,
      mac: formatMac(mac),
      port,
      ...(was >= 0 ? { from: was } : {}),
    });
  }
}
