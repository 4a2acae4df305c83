/**
 * The vde_switch control-socket handshake, as pure functions over bytes (docs/PROTOCOLS.md §1;
 * vde-2 `src/vde_switch/datasock.c` `struct request_v3` / `handle_io`, vdeplug4
 * `libvdeplug4/libvdeplug_vde.c` `vde_vde_open`).
 *
 * A client connects to `<dir>/ctl` (SOCK_STREAM) and writes one packed request in host byte
 * order (weft runs on little-endian machines only; the handshake never leaves the host):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 4 | magic 0xfeedface |
 * | 4 | 4 | version 3 |
 * | 8 | 4 | type: REQ_NEW_CONTROL 0 + (port << 8), or REQ_NEW_PORT0 1 |
 * | 12 | 110 | struct sockaddr_un of the client's bound datagram socket |
 * | 122 | ≤128 | description, not NUL-terminated on the wire |
 *
 * Versions 0 and 1 mean the legacy v1 layout (magic, type, 6-byte MAC, sockaddr_un,
 * description), which vde_switch still parses and so does `decodeRequest`; version 2 and > 3 are
 * refused, as by vde_switch. The switch answers with one raw 110-byte `struct sockaddr_un`: the
 * path of its data socket for this port.
 *
 * Decoders never throw: malformed input yields a short reason string (`badMagic`, `short`…),
 * which the server counts.
 */

import { AF_UNIX, decodeSockaddrUn, encodeSockaddrUn, SOCKADDR_UN_SIZE } from "./ffi/libc.ts";

export const SWITCH_MAGIC = 0xfeedface;
export const REQ_NEW_CONTROL = 0;
export const REQ_NEW_PORT0 = 1;
/** vdeplug4 and vde-2 `MAXDESCR`. */
export const MAX_DESCRIPTION = 128;
/** The fixed part of a v3 request: magic, version, type, sockaddr_un. */
export const REQUEST_V3_HEADER = 12 + SOCKADDR_UN_SIZE;
/** The fixed part of a v1 request: magic, type, MAC, sockaddr_un. */
export const REQUEST_V1_HEADER = 8 + 6 + SOCKADDR_UN_SIZE;
/** vde_switch reads a request with one read() of at most REQBUFLEN = 256 bytes. */
export const REQUEST_MAX = 256;
/** The reply: exactly one struct sockaddr_un. */
export const REPLY_SIZE = SOCKADDR_UN_SIZE;

export interface VdeRequest {
  /** 3, or 1 for the legacy layout (versions 0 and 1). */
  version: number;
  /** A specific port (`type >> 8`), 0 for REQ_NEW_PORT0, undefined for "any free port". */
  port: number | undefined;
  /** Absolute path of the client's bound datagram socket. */
  path: string;
  /** The client's description text (vdeplug4 adds ` user=NAME pid=N`). */
  description: string;
}

/** Why a request is refused; stable identifiers, counted by the server. */
export type RequestRefusal =
  | "short"
  | "badMagic"
  | "badVersion"
  | "badType"
  | "badFamily"
  | "emptyPath"
  | "abstractPath"
  | "relativePath"
  | "pathTooLong";

const encoder = new TextEncoder();
const decoder = new TextDecoder(); // replacement characters for bad UTF-8: never throws

export interface EncodeRequestOptions {
  /** Absolute path of the client's bound datagram socket. */
  path: string;
  /** A specific port; 0 asks for the management port (REQ_NEW_PORT0), as vdeplug4 does. */
  port?: number;
  description?: string;
}

/**
 * A v3 request, sized like vdeplug4's: the 122-byte header plus the description bytes (cut at
 * 128 bytes). Throws RangeError for a path that does not fit sun_path or a bad port number.
 */
export function encodeRequest(opts: EncodeRequestOptions): Uint8Array {
  let descr = encoder.encode(opts.description ?? "");
  if (descr.length > MAX_DESCRIPTION) descr = descr.subarray(0, MAX_DESCRIPTION);
  const out = new Uint8Array(REQUEST_V3_HEADER + descr.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, SWITCH_MAGIC, true);
  dv.setUint32(4, 3, true);
  const port = opts.port;
  let type = REQ_NEW_CONTROL;
  if (port !== undefined) {
    if (!Number.isInteger(port) || port < 0 || port > 0xffffff) {
      throw new RangeError(`VDE port ${port} must be a whole number from 0 to ${0xffffff}`);
    }
    type = port === 0 ? REQ_NEW_PORT0 : REQ_NEW_CONTROL + port * 256;
  }
  dv.setUint32(8, type, true);
  encodeSockaddrUn(opts.path, out.subarray(12, 12 + SOCKADDR_UN_SIZE));
  out.set(descr, REQUEST_V3_HEADER);
  return out;
}

/** Decode a request (the bytes of the client's first write). A reason string when malformed. */
export function decodeRequest(bytes: Uint8Array): VdeRequest | RequestRefusal {
  if (bytes.length < 8) return "short";
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== SWITCH_MAGIC) return "badMagic";
  const version = dv.getUint32(4, true);
  let typeAt: number;
  let sockAt: number;
  let descrAt: number;
  if (version === 3) {
    [typeAt, sockAt, descrAt] = [8, 12, REQUEST_V3_HEADER];
  } else if (version === 0 || version === 1) {
    // Legacy v1: the "version" word is the type; then a 6-byte MAC nobody uses any more.
    [typeAt, sockAt, descrAt] = [4, 14, REQUEST_V1_HEADER];
  } else {
    return "badVersion";
  }
  if (bytes.length < descrAt) return "short";
  const type = dv.getUint32(typeAt, true);
  const kind = type & 0xff;
  let port: number | undefined;
  if (kind === REQ_NEW_PORT0) port = 0;
  else if (kind === REQ_NEW_CONTROL) port = type >>> 8 || undefined;
  else return "badType";
  const sun = decodeSockaddrUn(bytes, sockAt)!;
  if (sun.family !== AF_UNIX) return "badFamily";
  if (sun.abstract) return "abstractPath";
  if (sun.path === "") return "emptyPath";
  if (sun.unterminated) return "pathTooLong";
  if (!sun.path.startsWith("/")) return "relativePath";
  let descr = bytes.subarray(descrAt, Math.min(bytes.length, descrAt + MAX_DESCRIPTION));
  const nul = descr.indexOf(0);
  if (nul >= 0) descr = descr.subarray(0, nul);
  return {
    version: version === 3 ? 3 : 1,
    port,
    path: sun.path,
    description: decoder.decode(descr),
  };
}

/** The switch's reply: the data socket path as a struct sockaddr_un. */
export function encodeReply(path: string): Uint8Array {
  return encodeSockaddrUn(path);
}

/** Decode the reply; a reason string when it is not a usable absolute path. */
export function decodeReply(bytes: Uint8Array): { path: string } | string {
  const sun = decodeSockaddrUn(bytes);
  if (sun === undefined) return "short";
  if (sun.family !== AF_UNIX) return "badFamily";
  if (sun.abstract) return "abstractPath";
  if (sun.path === "") return "emptyPath";
  if (sun.unterminated) return "pathTooLong";
  if (!sun.path.startsWith("/")) return "relativePath";
  return { path: sun.path };
}

/**
 * The MTU a VDE client gets unless it announces another: vde2's vde_switch carries frames of at
 * most 1,518 bytes (`struct packet`, vde-2 `src/vde_switch/port.h`), i.e. 1,500 bytes of payload
 * behind an Ethernet header and one 802.1Q tag.
 */
export const VDE_DEFAULT_MTU = 1500;

/** Ethernet header plus one 802.1Q tag: what a frame adds to its payload at most. */
const FRAME_OVERHEAD = 14 + 4;

/** The largest frame for a payload MTU (at most 65,535 bytes). */
export function frameLimit(mtu: number): number {
  return Math.min(65535, mtu + FRAME_OVERHEAD);
}

/**
 * The MTU a client announces in its description as `mtu=N` (a weft convention; other words of
 * the description are left alone), or VDE_DEFAULT_MTU. Never throws: the description is wire input.
 */
export function announcedMtu(description: string): number {
  const m = /(?:^|\s)mtu=(\d{1,5})(?:\s|$)/.exec(description);
  const n = m ? Number(m[1]) : NaN;
  return n >= 68 && n <= 65521 ? n : VDE_DEFAULT_MTU;
}
