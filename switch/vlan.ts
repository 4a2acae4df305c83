/**
 * IEEE 802.1Q port membership: an access port carries one VLAN untagged; a trunk carries an allowed
 * list tagged, plus an optional native VLAN untagged. VLAN IDs 1..4094 (0 and 4095 are reserved,
 * 802.1Q-2018 Table 9-2).
 */

import { ConfigError, parseIntIn } from "../core/errors.ts";

export type VlanMode =
  | { kind: "access"; vid: number }
  | { kind: "trunk"; allowed: ReadonlySet<number> | "all"; native?: number };

/** Default for every port: untagged in VLAN 1, as on most switches. */
export const DEFAULT_VLAN: VlanMode = { kind: "access", vid: 1 };

export const TPID_8021Q = 0x8100;

function vid(text: string): number {
  return parseIntIn("VLAN ID", text, 1, 4094);
}

/** Parse `access:ID` or `trunk:IDS[,native:ID]` where IDS is `all` or `10,20,30-39`. */
export function parseVlanMode(text: string): VlanMode {
  const [kind, rest = ""] = splitOnce(text.trim(), ":");
  if (kind === "access") return { kind, vid: vid(rest) };
  if (kind === "trunk") {
    let native: number | undefined;
    const ids: string[] = [];
    for (const part of rest.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
      if (part.startsWith("native:")) native = vid(part.slice(7));
      else ids.push(part);
    }
    if (ids.length === 0) {
      throw new ConfigError(`Invalid VLAN mode "${text}": a trunk needs its VLAN list or "all"`);
    }
    if (ids.length === 1 && ids[0] === "all") return { kind, allowed: "all", native };
    const allowed = new Set<number>();
    for (const id of ids) {
      const [a, b] = splitOnce(id, "-");
      const lo = vid(a), hi = b === undefined ? lo : vid(b);
      if (hi < lo) throw new ConfigError(`Invalid VLAN range "${id}": ${hi} is below ${lo}`);
      for (let v = lo; v <= hi; v++) allowed.add(v);
    }
    return { kind, allowed, native };
  }
  throw new ConfigError(
    `Invalid VLAN mode "${text}": expected access:ID or trunk:IDS[,native:ID]`,
  );
}

/** Parse `PORT=MODE` as given to `weft switch --vlan`. */
export function parsePortVlan(text: string): { port: number; mode: VlanMode } {
  const [port, mode] = splitOnce(text, "=");
  if (mode === undefined) {
    throw new ConfigError(`Invalid --vlan "${text}": expected PORT=access:ID or PORT=trunk:IDS`);
  }
  return { port: parseIntIn("port number", port, 0, 65535), mode: parseVlanMode(mode) };
}

export function formatVlanMode(m: VlanMode): string {
  if (m.kind === "access") return `access:${m.vid}`;
  const ids = m.allowed === "all" ? "all" : [...m.allowed].sort((a, b) => a - b).join(",");
  return `trunk:${ids}${m.native === undefined ? "" : `,native:${m.native}`}`;
}

/** Whether a port in mode `m` carries VLAN `v`. */
export function isMember(m: VlanMode, v: number): boolean {
  if (m.kind === "access") return m.vid === v;
  return m.native === v || m.allowed === "all" || m.allowed.has(v);
}

/** Whether frames of VLAN `v` leave a port in mode `m` untagged. */
export function egressUntagged(m: VlanMode, v: number): boolean {
  return m.kind === "access" || m.native === v;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + sep.length)];
}
