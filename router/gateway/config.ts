/**
 * Validation of a gateway's configuration, before anything starts: the LAN prefix, the gateway
 * and DNS addresses, the DHCP pool and reservations, the IPv6 prefix and the port forwards. Every
 * error is a ConfigError naming the value and what was expected (ARCHITECTURE §5), so the CLI
 * exits 2 and the API answers 400 with nothing changed.
 */

import { ConfigError } from "../../core/errors.ts";
import {
  addr_from_v4,
  addr_v4,
  format_addr,
  type IpAddr,
  parse_addr,
  parse_cidr,
  prefix_match,
} from "../../stack/addr.ts";
import { parse_mac } from "../../stack/wire/mod.ts";
import { urlHost } from "../../core/host_port.ts";

export interface ForwardSpec {
  proto: "tcp" | "udp";
  hostAddr: string;
  hostPort: number;
  guestAddr: string;
  guestPort: number;
}

export interface DhcpSpec {
  start: string;
  end: string;
  reservations?: Array<{ mac: string; addr: string; name?: string }>;
  leaseSeconds?: number;
  leaseFile?: string;
  domain?: string;
  mtu?: number;
}

/** The options `validateGateway` checks (the address part of GatewayOptions). */
export interface GatewayAddressing {
  cidr: string;
  gatewayAddr?: string;
  dnsAddr?: string;
  ip6?: string;
  dhcp?: DhcpSpec | false;
  forwards?: ForwardSpec[];
  mtu?: number;
}

export interface ResolvedGateway {
  /** Network address (host bits zero) and prefix length. */
  net: IpAddr;
  prefix: number;
  gateway: IpAddr;
  dns: IpAddr;
  /** The IPv6 prefix (host bits zero), its length, and the gateway's address in it (::2). */
  net6?: IpAddr;
  prefix6?: number;
  gateway6?: IpAddr;
  dhcp?: { start: IpAddr; end: IpAddr };
  mtu?: number;
}

const MIN_MTU = 576; // RFC 791: every IPv4 host accepts 576-byte datagrams
const MAX_MTU = 65521;

/** Check everything; returns the resolved addresses or throws a ConfigError. */
export function validateGateway(o: GatewayAddressing): ResolvedGateway {
  const c = parse_cidr(o.cidr);
  if (!c || c.addr.length !== 4 || c.prefix < 8 || c.prefix > 30) {
    throw new ConfigError(
      `Invalid gateway cidr "${o.cidr}": expected an IPv4 prefix from /8 to /30 like 10.0.2.0/24`,
    );
  }
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  const netV = (addr_v4(c.addr) & mask) >>> 0;
  const bcastV = (netV | ~mask) >>> 0;
  const net = addr_from_v4(netV);
  const host = (what: string, text: string): IpAddr => {
    const a = parse_addr(text);
    if (!a || a.length !== 4) {
      throw new ConfigError(`Invalid ${what} "${text}": expected an IPv4 address`);
    }
    const v = addr_v4(a);
    if (((v & mask) >>> 0) !== netV || v === netV || v === bcastV) {
      throw new ConfigError(
        `Invalid ${what} "${text}": expected a host address inside ${format_addr(net)}/${c.prefix}`,
      );
    }
    return a;
  };
  const gateway = o.gatewayAddr === undefined
    ? addr_from_v4(netV + 2)
    : host("gateway address", o.gatewayAddr);
  const dns = o.dnsAddr === undefined ? gateway : host("DNS address", o.dnsAddr);
  const r: ResolvedGateway = { net, prefix: c.prefix, gateway, dns };

  if (o.ip6 !== undefined) {
    const c6 = parse_cidr(o.ip6);
    if (!c6 || c6.addr.length !== 16 || c6.prefix !== 64) {
      throw new ConfigError(
        `Invalid IPv6 prefix "${o.ip6}": expected a /64 like fd00:2::/64 (SLAAC needs 64 bits, RFC 4862)`,
      );
    }
    const net6 = c6.addr.slice();
    net6.fill(0, 8);
    const gw6 = net6.slice();
    gw6[15] = 2;
    Object.assign(r, { net6, prefix6: 64, gateway6: gw6 });
  }

  if (o.mtu !== undefined && !(Number.isInteger(o.mtu) && o.mtu >= MIN_MTU && o.mtu <= MAX_MTU)) {
    throw new ConfigError(
      `Invalid MTU "${o.mtu}": expected a whole number from ${MIN_MTU} to ${MAX_MTU}`,
    );
  }
  r.mtu = o.mtu;

  const fixed = [gateway, dns];
  if (o.dhcp) {
    const start = host("DHCP range start", o.dhcp.start);
    const end = host("DHCP range end", o.dhcp.end);
    const s = addr_v4(start), e = addr_v4(end);
    if (s > e) {
      throw new ConfigError(
        `Invalid DHCP range "${o.dhcp.start}-${o.dhcp.end}": the start is after the end`,
      );
    }
    for (const f of fixed) {
      const v = addr_v4(f);
      if (v >= s && v <= e) {
        throw new ConfigError(
          `Invalid DHCP range "${o.dhcp.start}-${o.dhcp.end}": it overlaps the gateway's own address ${
            format_addr(f)
          }`,
        );
      }
    }
    const macs = new Set<number>(), addrs = new Set<number>();
    for (const res of o.dhcp.reservations ?? []) {
      const mac = parse_mac(res.mac);
      if (mac === undefined || Math.floor(mac / 2 ** 40) & 1) {
        throw new ConfigError(
          `Invalid reservation MAC "${res.mac}": expected a unicast MAC like 52:54:00:12:34:56`,
        );
      }
      const a = addr_v4(host(`reservation address for ${res.mac}`, res.addr));
      if (fixed.some((f) => addr_v4(f) === a)) {
        throw new ConfigError(
          `Invalid reservation "${res.mac}=${res.addr}": that is the gateway's own address`,
        );
      }
      if (macs.has(mac) || addrs.has(a)) {
        throw new ConfigError(
          `Invalid reservation "${res.mac}=${res.addr}": the MAC or the address is reserved twice`,
        );
      }
      macs.add(mac);
      addrs.add(a);
    }
    if (
      o.dhcp.leaseSeconds !== undefined &&
      !(Number.isInteger(o.dhcp.leaseSeconds) && o.dhcp.leaseSeconds >= 60)
    ) {
      throw new ConfigError(
        `Invalid lease time "${o.dhcp.leaseSeconds}": expected whole seconds, at least 60`,
      );
    }
    r.dhcp = { start, end };
  }

  const seen = new Set<string>();
  for (const f of o.forwards ?? []) {
    checkForward(f, r);
    const key = `${f.proto}:${format_addr(parse_addr(f.hostAddr)!)}:${f.hostPort}`;
    if (seen.has(key)) {
      throw new ConfigError(`Invalid forward "${formatForward(f)}": host port forwarded twice`);
    }
    seen.add(key);
  }
  return r;
}

/** Check one forward against the resolved addressing; throws a ConfigError naming it. */
export function checkForward(f: ForwardSpec, r: ResolvedGateway): void {
  const text = formatForward(f);
  if (f.proto !== "tcp" && f.proto !== "udp") {
    throw new ConfigError(`Invalid forward "${text}": protocol must be tcp or udp`);
  }
  // Host port 0: the host picks one (reported by Gateway.forwards()).
  for (
    const [what, p, min] of [["host port", f.hostPort, 0], ["guest port", f.guestPort, 1]] as const
  ) {
    if (!(Number.isInteger(p) && p >= min && p <= 65535)) {
      throw new ConfigError(`Invalid forward "${text}": ${what} must be ${min}-65535`);
    }
  }
  if (parse_addr(f.hostAddr) === undefined) {
    throw new ConfigError(`Invalid forward "${text}": host address "${f.hostAddr}" is not an IP`);
  }
  const g = parse_addr(f.guestAddr);
  const inside = g !== undefined &&
    (g.length === 4
      ? prefix_match(g, r.net, r.prefix)
      : r.net6 !== undefined && prefix_match(g, r.net6, 64));
  if (!inside) {
    throw new ConfigError(
      `Invalid forward "${text}": guest address "${f.guestAddr}" is not inside ${
        format_addr(r.net)
      }/${r.prefix}${r.net6 ? ` or ${format_addr(r.net6)}/64` : ""}`,
    );
  }
}

/** "tcp:127.0.0.1:8080:10.0.2.15:80" */
export function formatForward(f: ForwardSpec): string {
  return `${f.proto}:${urlHost(f.hostAddr)}:${f.hostPort}:${urlHost(f.guestAddr)}:${f.guestPort}`;
}

/**
 * Parse "tcp|udp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT" (IPv6 addresses in brackets). The guest
 * address is checked against the LAN later (`checkForward`).
 */
export function parseForward(text: string): ForwardSpec {
  const addr = String.raw`(\[[0-9a-fA-F:.]+\]|[0-9.]+)`;
  const m = new RegExp(`^(tcp|udp):${addr}:(\\d{1,5}):${addr}:(\\d{1,5})$`).exec(text);
  const bad = (why: string) =>
    new ConfigError(
      `Invalid forward "${text}": ${why} (expected tcp|udp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT)`,
    );
  if (!m) throw bad("wrong shape");
  const strip = (s: string) => s.replace(/^\[|\]$/g, "");
  const f: ForwardSpec = {
    proto: m[1] as "tcp" | "udp",
    hostAddr: strip(m[2]),
    hostPort: Number(m[3]),
    guestAddr: strip(m[4]),
    guestPort: Number(m[5]),
  };
  if (parse_addr(f.hostAddr) === undefined) throw bad(`"${f.hostAddr}" is not an IP address`);
  if (parse_addr(f.guestAddr) === undefined) throw bad(`"${f.guestAddr}" is not an IP address`);
  for (const p of [f.hostPort, f.guestPort]) {
    if (p < 1 || p > 65535) throw bad(`port ${p} not 1-65535`);
  }
  return f;
}
