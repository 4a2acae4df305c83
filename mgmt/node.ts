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
import { type Level, type Logger, silentLogger } from "../core/log.ts";
import {
  type EndpointListener,
  listenEndpoints,
  type OpenContext,
  openEndpoint,
} from "../cable/mod.ts";
import { VdeServer } from "../cable/vde_server.ts";
import { MAX_MTU, Switch } from "../switch/switch.ts";
import type { Port } from "../switch/port.ts";
import { DEFAULT_VLAN, parseVlanMode, type VlanMode } from "../switch/vlan.ts";
import { createPair } from "../cable/pair.ts";
import { Stack } from "../stack/stack.ts";
import { format_addr } from "../stack/addr.ts";
import { formatMac } from "../core/mac.ts";
import {
  checkStackSpec,
  type RunningService,
  type StackSpec,
  startService,
} from "./stack_resource.ts";

import { Gateway } from "../router/gateway/gateway.ts";
import { Router } from "../router/router.ts";
import { type DhcpSpec, type ForwardSpec, validateGateway } from "../router/gateway/config.ts";
import { checkRouterSpec, type RouterSpec, routerSwitches } from "./router_resource.ts";

export type { StackSpec } from "./stack_resource.ts";
export type { RouterSpec } from "./router_resource.ts";

/** A gateway (router/gateway/gateway.ts: NAT to host sockets, DHCP, DNS, port forwards). */
export interface GatewaySpec {
  name: string;
  /** A switch of this node (exclusive with `url`). */
  switch?: string;
  url?: string;
  /** The LAN, e.g. `10.0.2.0/24`. */
  cidr: string;
  gatewayAddr?: string;
  ip6?: string;
  dhcp?: { start: string; end: string; leaseSeconds?: number };
  dns?: boolean;
  forwards?: ForwardSpec[];
}

export interface ManagedGateway {
  readonly name: string;
  readonly spec: GatewaySpec;
  readonly gateway: Gateway;
  readonly port?: Port;
}

/** A router the node runs, from a spec (API, topology file, `weft router` flags). */
export interface ManagedRouter {
  readonly name: string;
  /** Where each interface plugs in and its addresses, as given (for the API and `weft export`). */
  readonly spec: RouterSpec;
  readonly router: Router;
  /** The switch port of each interface on a switch of this node, by interface name. */
  readonly ports: ReadonlyMap<string, Port>;
}

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
  /**
   * The whole VLAN configuration, port → mode: kept for ports that attach later and applied to
   * the ports in use; ports not named get the default (access:1).
   */
  vlans?: Iterable<[number, VlanMode]>;
}

/** A user-space stack the node runs, with the spec it was created from (for `weft export`). */
export interface ManagedStack {
  readonly name: string;
  readonly spec: StackSpec;
  readonly stack: Stack;
  /** The switch port the stack is plugged into, when attached to a switch of this node. */
  readonly port?: Port;
  readonly service?: RunningService;
}

/**
 * A cable: a URL a switch dialled (`connect`) or accepts cables on (`listen`), or two endpoints
 * joined back to back without a switch (`join`: what `weft cable URL_A URL_B` runs).
 */
export type CableInfo =
  | {
    switch: string;
    direction: "connect" | "listen";
    url: string;
    /** The switch port a dialled cable is plugged into (while plugged in). */
    port?: Port;
    listener?: EndpointListener;
  }
  | {
    switch?: undefined;
    direction: "join";
    /** `url` is side A's, `peer` side B's. */
    url: string;
    peer: string;
    join: ManagedJoin;
  };

/** Two endpoints joined back to back (`weft cable`), by name. */
export interface ManagedJoin {
  readonly name: string;
  readonly a: Endpoint;
  readonly b: Endpoint;
  /** Each side's link: false while a re-dialling side is down, and once either side closed. */
  readonly up: [boolean, boolean];
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
  /** The port each dialled URL got (cables dialled through `connect()`). */
  readonly connectPorts?: Map<string, Port>;
  /** The listener of each listen URL (listeners opened through `listen()`). */
  readonly listenersByUrl?: Map<string, EndpointListener>;
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
  /** HTTP requests the management API received (any route, any answer). */
  apiRequests = 0;
  #switches = new Map<string, ManagedSwitch>();
  /** Names being created (awaiting a socket): taken, so a concurrent create gets 409. */
  #pending = new Set<string>();
  #stacks = new Map<string, ManagedStack>();
  #pendingStacks = new Set<string>();
  #gateways = new Map<string, ManagedGateway>();
  #pendingGateways = new Set<string>();
  #routers = new Map<string, ManagedRouter>();
  #joins = new Map<string, ManagedJoin>();
  #pendingRouters = new Set<string>();

  constructor(opts: NodeOptions) {
    this.id = opts.id;
    this.version = opts.version;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.stateDir = opts.stateDir;
    this.startedAt = this.clock.now();
    // A dialled cable's link (a reconnecting cable losing and regaining its connection) is its
    // port's link: report it as the cable's too, by URL.
    this.events.on((e) => {
      if (e.type !== "port.link.up" && e.type !== "port.link.down") return;
      const m = this.#switches.get(e.switch as string);
      for (const [url, port] of m?.connectPorts ?? []) {
        if (port.number !== e.port || m!.switch.port(port.number) !== port) continue;
        this.events.emit({
          type: e.type === "port.link.up" ? "cable.up" : "cable.down",
          switch: e.switch,
          url,
          port: port.number,
        });
      }
    });
  }

  /** Seconds since the node started. */
  get uptimeSec(): number {
    return Math.floor((this.clock.now() - this.startedAt) / 1000);
  }

  /** What this node does, derived from what it runs (cables, stacks… join as they land). */
  get roles(): string[] {
    const roles: string[] = [];
    if (this.#switches.size > 0) roles.push("switch");
    if (this.#stacks.size > 0) roles.push("stack");
    if (this.#gateways.size > 0) roles.push("gateway");
    if (this.#routers.size > 0) roles.push("router");
    if (this.#joins.size > 0) roles.push("cable");
    return roles;
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
      const m: ManagedSwitch = {
        switch: sw,
        listeners: [],
        connects: [],
        listenUrls: [],
        connectPorts: new Map(),
        listenersByUrl: new Map(),
      };
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
    this.#checkNewName("switch", name, this.#switches.has(name) || this.#pending.has(name));
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
    for (const [port, mode] of spec.portVlans ?? []) {
      if (!Number.isSafeInteger(port) || port < 1 || port > sw.maxPorts) {
        throw new ConfigError(
          `Invalid VLAN port ${port} of switch "${name}": expected 1 to ${sw.maxPorts}`,
        );
      }
      sw.portVlans.set(port, mode);
    }
    return sw;
  }

  /** Accept cables on a listen URL for a switch, each as a new port. */
  async listen(name: string, url: string): Promise<EndpointListener> {
    const m = this.get(name);
    const sw = m.switch;
    if (m.listenUrls.includes(url)) {
      throw new ConflictError(`Switch "${name}" already listens on "${url}"`);
    }
    const l = await listenEndpoints(url, {
      ...this.openContext,
      accept: (endpoint, description) => void sw.attach(endpoint, { description }),
      // A missing or wrong token (cable/tcp.ts) is the cable auth failure the API reports.
      onRefused: (reason, peer) =>
        this.events.emit({
          type: reason === "noToken" || reason === "badToken"
            ? "cable.auth.failed"
            : "cable.refused",
          switch: name,
          url,
          peer,
          reason,
        }),
    });
    m.listeners.push(l);
    m.listenUrls.push(url);
    m.listenersByUrl?.set(url, l);
    return l;
  }

  /** Dial a cable and plug it into a switch; the URL is kept for `weft export`. */
  async connect(name: string, url: string): Promise<Port> {
    const m = this.get(name);
    if (m.connects.includes(url)) {
      throw new ConflictError(`Switch "${name}" already has a cable to "${url}"`);
    }
    const ep = await openEndpoint(url, this.openContext);
    try {
      const port = m.switch.attach(ep);
      m.connects.push(url);
      m.connectPorts?.set(url, port);
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

  /** Every cable of every switch: the URLs dialled, then the URLs listened on. */
  cables(): CableInfo[] {
    const out: CableInfo[] = [];
    for (const m of this.list()) {
      const name = m.switch.name;
      for (const url of m.connects) {
        const port = m.connectPorts?.get(url);
        out.push({
          switch: name,
          direction: "connect",
          url,
          port: port && m.switch.port(port.number) === port ? port : undefined,
        });
      }
      for (const url of m.listenUrls) {
        out.push({ switch: name, direction: "listen", url, listener: m.listenersByUrl?.get(url) });
      }
    }
    for (const j of this.#joins.values()) {
      out.push({ direction: "join", url: j.a.url, peer: j.b.url, join: j });
    }
    return out;
  }

  /**
   * Register two endpoints a command joined back to back (`weft cable`): the API lists them
   * among the cables with their counters and re-dial state; closing the node closes both.
   */
  adoptJoin(name: string, a: Endpoint, b: Endpoint): ManagedJoin {
    this.#checkNewName("cable", name, this.#joins.has(name));
    const j: ManagedJoin = { name, a, b, up: [true, true] };
    const report = (up: boolean, url: string) =>
      this.events.emit({ type: up ? "cable.up" : "cable.down", cable: name, url });
    [a, b].forEach((ep, side) =>
      ep.setLinkListener?.((up) => {
        j.up[side] = up;
        report(up, ep.url);
      })
    );
    Promise.race([a.closed, b.closed]).then(() => {
      j.up[0] = j.up[1] = false;
      if (this.#joins.get(name) === j) report(false, a.url);
    });
    this.#joins.set(name, j);
    report(true, a.url);
    return j;
  }

  /**
   * Drop a cable: a dialled one is unplugged (its endpoint closed, so a reconnecting cable stops
   * trying); a listener stops accepting (cables it accepted stay plugged in as ports).
   */
  deleteCable(name: string, url: string, direction?: "connect" | "listen"): void {
    const m = this.get(name);
    const ci = direction === "listen" ? -1 : m.connects.indexOf(url);
    const li = direction === "connect" ? -1 : m.listenUrls.indexOf(url);
    if (ci < 0 && li < 0) {
      throw new NotFoundError(`Switch "${name}" has no cable "${url}"`);
    }
    if (ci >= 0) {
      m.connects.splice(ci, 1);
      const port = m.connectPorts?.get(url) ??
        m.switch.ports().find((p) => p.endpoint.url === url);
      m.connectPorts?.delete(url);
      if (port && m.switch.port(port.number) === port) m.switch.detach(port);
      return;
    }
    m.listenUrls.splice(li, 1);
    const l = m.listenersByUrl?.get(url);
    m.listenersByUrl?.delete(url);
    if (l) {
      const i = m.listeners.indexOf(l);
      if (i >= 0) m.listeners.splice(i, 1);
      l.close();
    }
  }

  /** Stop a switch: its listeners and VDE server close, every port's endpoint is closed. */
  deleteSwitch(name: string): void {
    const m = this.get(name);
    const users = [
      ...this.listStacks().filter((s) => s.spec.switch === name).map((s) => `stack ${s.name}`),
      ...this.listGateways().filter((g) => g.spec.switch === name).map((g) => `gateway ${g.name}`),
      ...this.listRouters().filter((r) => routerSwitches(r.spec).includes(name)).map((r) =>
        `router ${r.name}`
      ),
    ];
    if (users.length > 0) {
      throw new ConflictError(`Switch "${name}" carries ${users.join(", ")}: delete them first`);
    }
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
    const vlans = patch.vlans === undefined ? undefined : new Map<number, VlanMode>(patch.vlans);
    for (const port of vlans?.keys() ?? []) {
      if (!Number.isSafeInteger(port) || port < 1 || port > sw.maxPorts) {
        throw new ConfigError(
          `Invalid VLAN port ${port} of switch "${name}": expected 1 to ${sw.maxPorts}`,
        );
      }
    }
    if (vlans) {
      sw.portVlans.clear();
      for (const [port, mode] of vlans) sw.portVlans.set(port, mode);
      for (const p of sw.ports()) sw.setVlan(p, vlans.get(p.number) ?? DEFAULT_VLAN);
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
   * Start a user-space stack: on a switch of this node (through an in-process pair cable) or on
   * any endpoint URL, with static, DHCP and/or SLAAC addresses and optionally one service. All
   * input is checked before anything opens; a failure while starting closes what was opened.
   * Addresses from DHCP or SLAAC appear later (the stack's view shows them as they come).
   */
  async createStack(spec: StackSpec): Promise<ManagedStack> {
    const name = spec.name;
    const taken = () => this.#stacks.has(name) || this.#pendingStacks.has(name);
    this.#checkNewName("stack", name, taken());
    const checked = await checkStackSpec(spec);
    const m = spec.switch === undefined ? undefined : this.get(spec.switch);
    // Checking the spec awaited (a directory's stat): another create may have taken the name.
    this.#checkNewName("stack", name, taken());
    this.#pendingStacks.add(name);
    let endpoint: Endpoint | undefined;
    let port: Port | undefined;
    let stack: Stack | undefined;
    try {
      ({ endpoint, port } = await this.#plugIn(`stack ${name}`, m, spec.url));
      // The stack keeps real time even on a node with a test clock: ARP, DAD and TCP timers run
      // on its own timer (stack/stack.ts), and the API only reads its state.
      stack = new Stack({
        endpoint,
        ipv4: checked.ipv4,
        ipv6: checked.ipv6,
        gateways: checked.gateways,
      });
      const service = spec.service
        ? startService(stack, spec.service, checked, this.logger)
        : undefined;
      const ms: ManagedStack = { name, spec: structuredClone(spec), stack, port, service };
      this.#stacks.set(name, ms);
      this.events.emit({ type: "stack.created", stack: name });
      if (spec.service) {
        this.events.emit({
          type: "service.started",
          stack: name,
          kind: spec.service.kind,
          port: spec.service.port,
        });
      }
      return ms;
    } catch (e) {
      if (stack) await stack.close();
      else endpoint?.close();
      throw e;
    } finally {
      this.#pendingStacks.delete(name);
    }
  }

  getStack(name: string): ManagedStack {
    const s = this.#stacks.get(name);
    if (!s) throw new NotFoundError(`No stack named "${name}"`);
    return s;
  }

  listStacks(): ManagedStack[] {
    return [...this.#stacks.values()];
  }

  /**
   * Take over a stack a command already runs (`weft serve`), so the API shows it and deleting it
   * (or closing the node) stops it like one the node created. `spec` describes it for the API and
   * `weft export`; its service, if any, is the command's own (`service` stops it).
   */
  adoptStack(
    spec: StackSpec,
    stack: Stack,
    extra: { service?: RunningService; port?: Port } = {},
  ): ManagedStack {
    this.#checkNewName(
      "stack",
      spec.name,
      this.#stacks.has(spec.name) || this.#pendingStacks.has(spec.name),
    );
    const ms: ManagedStack = { name: spec.name, spec: structuredClone(spec), stack, ...extra };
    this.#stacks.set(spec.name, ms);
    this.events.emit({ type: "stack.created", stack: spec.name });
    if (spec.service) {
      this.events.emit({
        type: "service.started",
        stack: spec.name,
        kind: spec.service.kind,
        port: spec.service.port,
      });
    }
    return ms;
  }

  /** A new name of `kind`: safe in URLs, labels and logs (SWITCH_NAME), and not taken (409). */
  #checkNewName(kind: string, name: string, taken: boolean): void {
    if (!SWITCH_NAME.test(name)) {
      throw new ConfigError(
        `Invalid ${kind} name "${name}": expected 1 to 64 letters, digits, "_", "." or "-", ` +
          `starting with a letter or digit`,
      );
    }
    if (taken) {
      throw new ConflictError(`${kind[0].toUpperCase()}${kind.slice(1)} "${name}" already exists`);
    }
  }

  /**
   * Stop a stack: its service stops accepting, a DHCP lease is released, and its NIC closes (a
   * stack on a switch of this node leaves its port). The name is free again at once.
   */
  async deleteStack(name: string): Promise<void> {
    const s = this.getStack(name);
    this.#stacks.delete(name);
    const stopping = s.service?.stop().catch(() => {});
    await s.stack.close();
    // A keep-alive HTTP connection may hold the service open: bounded.
    if (stopping) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([stopping, new Promise((r) => timer = setTimeout(r, 500))]);
      clearTimeout(timer);
    }
    if (s.spec.service) {
      this.events.emit({ type: "service.stopped", stack: name, kind: s.spec.service.kind });
    }
    this.events.emit({ type: "stack.deleted", stack: name });
  }

  /**
   * Start a gateway on a switch of this node (in-process pair cable) or any endpoint URL. The
   * addressing and forwards are checked (router/gateway/config.ts) before anything opens.
   */
  async createGateway(spec: GatewaySpec): Promise<ManagedGateway> {
    const name = spec.name;
    this.#checkNewName(
      "gateway",
      name,
      this.#gateways.has(name) || this.#pendingGateways.has(name),
    );
    if ((spec.switch === undefined) === (spec.url === undefined)) {
      throw new ConfigError(
        `Invalid gateway "${name}": give exactly one of switch (a switch name) or url`,
      );
    }
    const dhcp: DhcpSpec | false = spec.dhcp ? { ...spec.dhcp } : false;
    validateGateway({ ...spec, dhcp });
    const m = spec.switch === undefined ? undefined : this.get(spec.switch);
    this.#pendingGateways.add(name);
    let endpoint: Endpoint | undefined;
    let port: Port | undefined;
    try {
      ({ endpoint, port } = await this.#plugIn(`gateway ${name}`, m, spec.url));
      const gateway = await Gateway.start({
        endpoint,
        cidr: spec.cidr,
        gatewayAddr: spec.gatewayAddr,
        ip6: spec.ip6,
        dhcp,
        dns: spec.dns ?? false,
        forwards: spec.forwards,
        logger: (level, msg, fields) =>
          this.logger.log(level as Level, msg, { gateway: name, ...fields }),
      });
      const mg: ManagedGateway = { name, spec: structuredClone(spec), gateway, port };
      this.#watchLeases(name, gateway);
      this.#gateways.set(name, mg);
      this.events.emit({ type: "gateway.created", gateway: name });
      return mg;
    } catch (e) {
      endpoint?.close();
      throw e;
    } finally {
      this.#pendingGateways.delete(name);
    }
  }

  getGateway(name: string): ManagedGateway {
    const g = this.#gateways.get(name);
    if (!g) throw new NotFoundError(`No gateway named "${name}"`);
    return g;
  }

  listGateways(): ManagedGateway[] {
    return [...this.#gateways.values()];
  }

  /**
   * Take over a gateway a command already runs (`weft gateway`): the API lists it, adds and
   * removes its forwards and shows its leases; deleting it (or closing the node) stops it.
   */
  adoptGateway(spec: GatewaySpec, gateway: Gateway): ManagedGateway {
    const name = spec.name;
    this.#checkNewName(
      "gateway",
      name,
      this.#gateways.has(name) || this.#pendingGateways.has(name),
    );
    const mg: ManagedGateway = { name, spec: structuredClone(spec), gateway };
    this.#watchLeases(name, gateway);
    this.#gateways.set(name, mg);
    this.events.emit({ type: "gateway.created", gateway: name });
    return mg;
  }

  /** `lease.granted`, `lease.released`, `lease.expired` events from a gateway's DHCP server. */
  #watchLeases(name: string, gateway: Gateway): void {
    gateway.onLease = (e) =>
      this.events.emit({
        type: `lease.${e.type}`,
        gateway: name,
        mac: formatMac(e.mac),
        addr: format_addr(e.addr),
        ...(e.name === undefined ? {} : { name: e.name }),
      });
  }

  /**
   * The endpoint a stack, gateway or router interface uses: one end of an in-process pair cable
   * whose other end is attached to switch `m` (its port returned too), or `url` opened.
   */
  async #plugIn(
    description: string,
    m: ManagedSwitch | undefined,
    url: string | undefined,
  ): Promise<{ endpoint: Endpoint; port?: Port }> {
    if (!m) return { endpoint: await openEndpoint(url!, this.openContext) };
    const [ours, theirs] = createPair(description.replace(" ", ":"));
    try {
      return { endpoint: theirs, port: m.switch.attach(ours, { description }) };
    } catch (e) {
      ours.close();
      throw e;
    }
  }

  /**
   * Start a router (router/router.ts) whose interfaces plug into switches of this node or
   * endpoint URLs. The whole spec is checked (router_resource.ts) and every switch looked up
   * before anything opens; a failure while plugging in closes what was opened.
   */
  async createRouter(spec: RouterSpec): Promise<ManagedRouter> {
    const name = spec.name;
    this.#checkNewName(
      "router",
      name,
      this.#routers.has(name) || this.#pendingRouters.has(name),
    );
    const cfg = checkRouterSpec(spec);
    const switches = spec.interfaces.map((i) =>
      i.switch === undefined ? undefined : this.get(i.switch)
    );
    this.#pendingRouters.add(name);
    const endpoints: Endpoint[] = [];
    const ports = new Map<string, Port>();
    try {
      for (const [k, i] of spec.interfaces.entries()) {
        const plugged = await this.#plugIn(`router ${name}.${i.name}`, switches[k], i.url);
        endpoints.push(plugged.endpoint);
        if (plugged.port) ports.set(i.name, plugged.port);
      }
      const router = new Router({
        interfaces: cfg.interfaces.map((i, k) => ({
          name: i.name,
          endpoint: endpoints[k],
          ipv4: i.ipv4,
          ipv6: i.ipv6,
          ra: i.ra,
        })),
        routes: cfg.routes,
      });
      const mr: ManagedRouter = { name, spec: structuredClone(spec), router, ports };
      this.#routers.set(name, mr);
      this.events.emit({ type: "router.created", router: name });
      return mr;
    } catch (e) {
      for (const ep of endpoints) ep.close();
      throw e;
    } finally {
      this.#pendingRouters.delete(name);
    }
  }

  /** Stop a router: its interfaces close (those on a switch of this node leave their ports). */
  async deleteRouter(name: string): Promise<void> {
    const r = this.getRouter(name);
    this.#routers.delete(name);
    await r.router.close();
    this.events.emit({ type: "router.deleted", router: name });
  }

  getRouter(name: string): ManagedRouter {
    const r = this.#routers.get(name);
    if (!r) throw new NotFoundError(`No router named "${name}"`);
    return r;
  }

  listRouters(): ManagedRouter[] {
    return [...this.#routers.values()];
  }

  /** Stop a gateway: its forwards stop listening on the host, its NIC closes. */
  async deleteGateway(name: string): Promise<void> {
    const g = this.getGateway(name);
    this.#gateways.delete(name);
    await g.gateway.close();
    this.events.emit({ type: "gateway.deleted", gateway: name });
  }

  /**
   * Stop everything (idempotent) and wait, bounded, for the VDE servers and listeners to finish
   * (a VDE server removes the directory it created), so a process can exit right after.
   */
  async close(timeoutMs = 2000): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const s of this.listStacks()) closing.push(this.deleteStack(s.name));
    for (const g of this.listGateways()) closing.push(this.deleteGateway(g.name));
    for (const r of this.listRouters()) closing.push(this.deleteRouter(r.name));
    for (const j of this.#joins.values()) {
      this.#joins.delete(j.name);
      j.a.close();
      j.b.close();
      closing.push(j.a.closed, j.b.closed);
    }
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
