/**
 * The node: the one owner of everything a weft process runs — switches by name, the VDE servers
 * and cable listeners that feed them, and the event bus they all report to. The CLI and the
 * management API both go through these methods, so a change made over HTTP and one made by flags
 * follow the same rules (names, ranges, what can change live) and fail with the same errors.
 *
 * Errors are domain errors (core/errors.ts): ConfigError for bad values (HTTP 400), ConflictError
 * for names or ports in use and changes a running switch cannot take (409), NotFoundError (404).
 * Every method validates all of its input before it changes anything, so a refusal leaves the
 * node as it was.
 */

import type { Endpoint } from "../core/endpoint.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { ConfigError, ConflictError, NotFoundError } from "../core/errors.ts";
import { EventBus } from "../core/events.ts";
import { type Logger, silentLogger } from "../core/log.ts";
import {
  type EndpointListener,
  listenEndpoints,
  type OpenContext,
  openEndpoint,
} from "../cable/mod.ts";
import { VdeServer } from "../cable/vde_server.ts";
import { MAX_MTU, Switch } from "../switch/switch.ts";
import type { Port } from "../switch/port.ts";
import { parseVlanMode, type VlanMode } from "../switch/vlan.ts";

/** Switch names: safe in URLs, metric labels and logs without escaping. */
export const SWITCH_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Ranges shared by the CLI flags and the API schemas. */
export const LIMITS = {
  ports: { min: 1, max: 65535, dflt: 32 },
  mtu: { min: 68, max: MAX_MTU, dflt: MAX_MTU },
  macLimit: { min: 1, max: 16_777_216, dflt: 65536 },
  ageingSec: { min: 1, max: 1_000_000, dflt: 300 },
} as const;

export interface SwitchSpec {
  name: string;
  ports?: number;
  hub?: boolean;
  mtu?: number;
  macLimit?: number;
  ageingSec?: number;
  /** Modes for ports that attach later, by port number (`--vlan PORT=MODE`). */
  portVlans?: Iterable<[number, VlanMode]>;
}

/** What may change on a running switch. */
export interface SwitchPatch {
  hub?: boolean;
  mtu?: number;
  ageingSec?: number;
  macLimit?: number;
  ports?: number;
}

export interface PortPatch {
  /** `access:ID` or `trunk:IDS[,native:ID]`. */
  vlan?: string;
  enabled?: boolean;
}

/** A switch and what the node runs for it. */
export interface ManagedSwitch {
  readonly switch: Switch;
  /** The VDE ctl server, when the switch serves a directory. */
  server?: VdeServer;
  readonly listeners: EndpointListener[];
  /** The URLs this switch dialled and listens on, as given (for `weft export`). */
  readonly connects: string[];
  readonly listenUrls: string[];
}

export interface NodeOptions {
  /** The node's stable id (from its identity), shown by the API. */
  id: string;
  version: string;
  logger?: Logger;
  clock?: Clock;
  /** For cable kinds that need the identity or tokens. */
  stateDir?: string;
}

export class Node {
  readonly id: string;
  readonly version: string;
  readonly events = new EventBus();
  readonly clock: Clock;
  readonly logger: Logger;
  readonly stateDir: string | undefined;
  readonly startedAt: number;
  #switches = new Map<string, ManagedSwitch>();
  /** Names being created (awaiting a socket): taken, so a concurrent create gets 409. */
  #pending = new Set<string>();

  constructor(opts: NodeOptions) {
    this.id = opts.id;
    this.version = opts.version;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.stateDir = opts.stateDir;
    this.startedAt = this.clock.now();
  }

  /** Seconds since the node started. */
  get uptimeSec(): number {
    return Math.floor((this.clock.now() - this.startedAt) / 1000);
  }

  /** What this node does, derived from what it runs (cables, stacks… join as they land). */
  get roles(): string[] {
    return this.#switches.size > 0 ? ["switch"] : [];
  }

  get openContext(): OpenContext {
    return { logger: this.logger, stateDir: this.stateDir };
  }

  /**
   * Create a switch. With `sock`, it also serves the VDE ctl protocol in that directory; the
   * switch exists only once that succeeded (a failed create leaves nothing behind).
   */
  async createSwitch(spec: SwitchSpec, sock?: string): Promise<ManagedSwitch> {
    const sw = this.#newSwitch(spec);
    this.#pending.add(sw.name);
    try {
      const m: ManagedSwitch = { switch: sw, listeners: [], connects: [], listenUrls: [] };
      if (sock !== undefined) {
        m.server = await VdeServer.listen(sock, {
          logger: this.logger,
          attach: (endpoint, port, description) =>
            sw.attach(endpoint, { port, description }).number,
        });
      }
      this.#switches.set(sw.name, m);
      return m;
    } finally {
      this.#pending.delete(sw.name);
    }
  }

  #newSwitch(spec: SwitchSpec): Switch {
    const name = spec.name;
    if (!SWITCH_NAME.test(name)) {
      throw new ConfigError(
        `Invalid switch name "${name}": expected 1 to 64 letters, digits, "_", "." or "-", ` +
          `starting with a letter or digit`,
      );
    }
    if (this.#switches.has(name) || this.#pending.has(name)) {
      throw new ConflictError(`Switch "${name}" already exists`);
    }
    const sw = new Switch({
      name,
      ports: inRange("ports", spec.ports, LIMITS.ports),
      hub: spec.hub ?? false,
      mtu: inRange("mtu", spec.mtu, LIMITS.mtu),
      macLimit: inRange("macLimit", spec.macLimit, LIMITS.macLimit),
      ageingSec: inRange("ageingSec", spec.ageingSec, LIMITS.ageingSec),
      clock: this.clock,
      events: this.events,
    });
    for (const [port, mode] of spec.portVlans ?? []) sw.portVlans.set(port, mode);
    return sw;
  }

  /** Accept cables on a listen URL for a switch, each as a new port. */
  async listen(name: string, url: string): Promise<EndpointListener> {
    const m = this.get(name);
    const sw = m.switch;
    const l = await listenEndpoints(url, {
      ...this.openContext,
      accept: (endpoint, description) => void sw.attach(endpoint, { description }),
    });
    m.listeners.push(l);
    m.listenUrls.push(url);
    return l;
  }

  /** Dial a cable and plug it into a switch; the URL is kept for `weft export`. */
  async connect(name: string, url: string): Promise<Port> {
    const m = this.get(name);
    const ep = await openEndpoint(url, this.openContext);
    try {
      const port = m.switch.attach(ep);
      m.connects.push(url);
      return port;
    } catch (e) {
      ep.close();
      throw e;
    }
  }

  /** Plug an endpoint into a switch port (the lowest free one unless `port` is given). */
  attach(name: string, endpoint: Endpoint, port?: number): Port {
    return this.get(name).switch.attach(endpoint, port === undefined ? {} : { port });
  }

  get(name: string): ManagedSwitch {
    const m = this.#switches.get(name);
    if (!m) throw new NotFoundError(`No switch named "${name}"`);
    return m;
  }

  list(): ManagedSwitch[] {
    return [...this.#switches.values()];
  }

  /** Stop a switch: its listeners and VDE server close, every port's endpoint is closed. */
  deleteSwitch(name: string): void {
    const m = this.get(name);
    this.#switches.delete(name);
    for (const l of m.listeners) l.close();
    m.server?.close();
    m.switch.close();
  }

  /**
   * Change a running switch, all or nothing. `hub`, `mtu` (also applied to the ports already
   * plugged in, within what each endpoint can carry) and `ageingSec` change live; the MAC table
   * is allocated for its limit and the port array for its size at creation, so `macLimit` and
   * `ports` can only be "changed" to their current value — anything else is a ConflictError that
   * says to recreate the switch.
   */
  configureSwitch(name: string, patch: SwitchPatch): Switch {
    const sw = this.get(name).switch;
    const mtu = patch.mtu === undefined ? undefined : inRange("mtu", patch.mtu, LIMITS.mtu);
    const ageing = patch.ageingSec === undefined
      ? undefined
      : inRange("ageingSec", patch.ageingSec, LIMITS.ageingSec);
    if (patch.macLimit !== undefined && patch.macLimit !== sw.fdb.limit) {
      throw new ConflictError(
        `Cannot change macLimit of running switch "${name}" from ${sw.fdb.limit} to ` +
          `${patch.macLimit}: the MAC table is sized when the switch is created; delete and ` +
          `create it again`,
      );
    }
    if (patch.ports !== undefined && patch.ports !== sw.maxPorts) {
      throw new ConflictError(
        `Cannot change ports of running switch "${name}" from ${sw.maxPorts} to ${patch.ports}: ` +
          `the port count is fixed when the switch is created; delete and create it again`,
      );
    }
    if (patch.hub !== undefined && patch.hub !== sw.hub) {
      sw.hub = patch.hub;
      // Entries learned before a hub period may be stale after it.
      sw.fdb.flush();
    }
    if (ageing !== undefined) sw.fdb.ageingSec = ageing;
    if (mtu !== undefined) {
      sw.mtu = mtu;
      for (const p of sw.ports()) p.mtu = Math.min(mtu, p.endpoint.mtu - 14);
    }
    return sw;
  }

  /** A plugged-in port, or NotFoundError. */
  port(name: string, number: number): Port {
    const sw = this.get(name).switch;
    const p = sw.port(number);
    if (!p) throw new NotFoundError(`Switch "${name}" has no port ${number} in use`);
    return p;
  }

  /** Change a port's VLAN mode and/or enable it, all or nothing. */
  configurePort(name: string, number: number, patch: PortPatch): Port {
    const sw = this.get(name).switch;
    const p = this.port(name, number);
    const mode = patch.vlan === undefined ? undefined : parseVlanMode(patch.vlan);
    if (mode !== undefined) sw.setVlan(p, mode);
    if (patch.enabled !== undefined && patch.enabled !== p.enabled) {
      p.enabled = patch.enabled;
      // Hosts behind a disabled port are unreachable: flood rather than black-hole to them.
      if (!p.enabled) sw.fdb.flush(number);
      this.events.emit({
        type: p.enabled ? "port.enabled" : "port.disabled",
        switch: name,
        port: number,
      });
    }
    return p;
  }

  /** Unplug a port: its endpoint is closed (a VDE client sees its data socket go away). */
  detachPort(name: string, number: number): void {
    const p = this.port(name, number);
    this.get(name).switch.detach(p);
  }

  /** Forget learned MACs of a switch: all, or one port's. Returns how many were removed. */
  flushFdb(name: string, port?: number): number {
    return this.get(name).switch.fdb.flush(port);
  }

  /**
   * Stop everything (idempotent) and wait, bounded, for the VDE servers and listeners to finish
   * (a VDE server removes the directory it created), so a process can exit right after.
   */
  async close(timeoutMs = 2000): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const m of this.list()) {
      closing.push(...m.listeners.map((l) => l.closed));
      if (m.server) closing.push(m.server.closed);
      this.deleteSwitch(m.switch.name);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(closing),
      new Promise((r) => timer = setTimeout(r, timeoutMs)),
    ]);
    clearTimeout(timer);
  }
}

function inRange(
  what: string,
  v: number | undefined,
  r: { min: number; max: number; dflt: number },
): number {
  if (v === undefined) return r.dflt;
  if (!Number.isSafeInteger(v) || v < r.min || v > r.max) {
    throw new ConfigError(
      `Invalid ${what} ${v}: expected a whole number from ${r.min} to ${r.max}`,
    );
  }
  return v;
}
