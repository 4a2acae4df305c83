import { assertEquals } from "@std/assert";
import {
  announcedMtu,
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  frameLimit,
  REPLY_SIZE,
  REQ_NEW_PORT0,
  REQUEST_V3_HEADER,
  type RequestRefusal,
  VDE_DEFAULT_MTU,
} from "./vde_ctl.ts";

function fromHex(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// Captured with `strace -e sendto,recvfrom -x` of vdeplug4 4.0.1 (`vde_plug -D weft-capture
// vde:///tmp/cap`) attached to vde2 2.3.2's `vde_switch -s /tmp/cap` on Linux x86_64.
const REAL_REQUEST = fromHex(
  "cefaedfe030000000000000001002f746d702f6361702f2e30343830382d3030303030" +
    "00".repeat(87) +
    "776566742d6361707475726520757365723d726f6f74207069643d34383038",
);
const REAL_REPLY = fromHex("01002f746d702f6361702f3030312e36" + "00".repeat(94));

Deno.test("vde_ctl: the captured vdeplug4 request decodes", () => {
  assertEquals(REAL_REQUEST.length, 153);
  assertEquals(decodeRequest(REAL_REQUEST), {
    version: 3,
    port: undefined,
    path: "/tmp/cap/.04808-00000",
    description: "weft-capture user=root pid=4808",
  });
});

Deno.test("vde_ctl: encodeRequest reproduces the captured bytes exactly", () => {
  const b = encodeRequest({
    path: "/tmp/cap/.04808-00000",
    description: "weft-capture user=root pid=4808",
  });
  assertEquals(toHex(b), toHex(REAL_REQUEST));
});

Deno.test("vde_ctl: the captured vde_switch reply decodes, and encodeReply reproduces it", () => {
  assertEquals(REAL_REPLY.length, REPLY_SIZE);
  assertEquals(decodeReply(REAL_REPLY), { path: "/tmp/cap/001.6" });
  assertEquals(toHex(encodeReply("/tmp/cap/001.6")), toHex(REAL_REPLY));
});

Deno.test("vde_ctl: ports travel in the type field (type = port << 8; port 0 = REQ_NEW_PORT0)", () => {
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset);
  const p5 = encodeRequest({ path: "/x/.1", port: 5 });
  assertEquals(dv(p5).getUint32(8, true), 5 << 8);
  assertEquals((decodeRequest(p5) as { port: number }).port, 5);
  const p0 = encodeRequest({ path: "/x/.1", port: 0 });
  assertEquals(dv(p0).getUint32(8, true), REQ_NEW_PORT0);
  assertEquals((decodeRequest(p0) as { port: number }).port, 0);
});

Deno.test("vde_ctl: descriptions are cut at 128 bytes, stop at NUL, bad UTF-8 does not throw", () => {
  const long = encodeRequest({ path: "/x/.1", description: "d".repeat(300) });
  assertEquals(long.length, REQUEST_V3_HEADER + 128);
  assertEquals((decodeRequest(long) as { description: string }).description, "d".repeat(128));
  const withNul = new Uint8Array([...encodeRequest({ path: "/x/.1" }), 0x61, 0, 0x62]);
  assertEquals((decodeRequest(withNul) as { description: string }).description, "a");
  const bad = new Uint8Array([...encodeRequest({ path: "/x/.1" }), 0xff, 0xfe]);
  assertEquals((decodeRequest(bad) as { description: string }).description, "\ufffd\ufffd");
  // More than vde_switch's 256-byte read: the description is still at most 128 bytes.
  const huge = new Uint8Array(1000).fill(0x41);
  huge.set(encodeRequest({ path: "/x/.1" }));
  assertEquals((decodeRequest(huge) as { description: string }).description.length, 128);
});

Deno.test("vde_ctl: the legacy v1 layout (version word 0/1 = type) still decodes", () => {
  const v1 = new Uint8Array(124 + 3);
  const dv = new DataView(v1.buffer);
  dv.setUint32(0, 0xfeedface, true);
  dv.setUint32(4, 0, true); // REQ_NEW_CONTROL
  v1.set([2, 0, 0, 0, 0, 1], 8); // the MAC nobody uses
  v1.set(encodeReply("/tmp/old/.1"), 14);
  v1.set([0x6f, 0x6c, 0x64], 124);
  assertEquals(decodeRequest(v1), {
    version: 1,
    port: undefined,
    path: "/tmp/old/.1",
    description: "old",
  });
});

Deno.test("vde_ctl: malformed requests give a reason, never an exception", () => {
  const good = () => REAL_REQUEST.slice();
  const set32 = (b: Uint8Array, at: number, v: number) => {
    new DataView(b.buffer).setUint32(at, v, true);
    return b;
  };
  const cases: [RequestRefusal, Uint8Array][] = [
    ["short", new Uint8Array(0)],
    ["short", good().subarray(0, 7)],
    ["short", good().subarray(0, 121)],
    ["badMagic", set32(good(), 0, 0xcefaedfe)], // big-endian magic
    ["badMagic", new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")],
    ["badVersion", set32(good(), 4, 2)],
    ["badVersion", set32(good(), 4, 4)],
    ["badVersion", set32(good(), 4, 0xffffffff)],
    ["badType", set32(good(), 8, 2)],
    ["badType", set32(good(), 8, 7 << 8 | 3)],
    ["short", set32(good(), 4, 1).subarray(0, 123)], // v1 needs 124
  ];
  const fam = good();
  fam[12] = 2; // AF_INET
  cases.push(["badFamily", fam]);
  const empty = good();
  empty.fill(0, 14, 122);
  cases.push(["emptyPath", empty]);
  const abs = good();
  abs[14] = 0; // "\0tmp/cap/…": a Linux abstract name
  cases.push(["abstractPath", abs]);
  cases.push(["relativePath", encodeRequestRaw("tmp/x")]);
  const full = good();
  full.fill(0x61, 14, 122); // 108 bytes, no NUL
  full[14] = 0x2f;
  cases.push(["pathTooLong", full]);
  for (const [why, bytes] of cases) assertEquals(decodeRequest(bytes), why, toHex(bytes));
  // Every truncation of a good request: a reason or a request, no exception.
  for (let n = 0; n <= REAL_REQUEST.length; n++) decodeRequest(REAL_REQUEST.subarray(0, n));
});

Deno.test("vde_ctl: malformed replies give a reason", () => {
  assertEquals(decodeReply(REAL_REPLY.subarray(0, 109)), "short");
  assertEquals(decodeReply(new Uint8Array(110)), "badFamily");
  const empty = REAL_REPLY.slice();
  empty.fill(0, 2);
  assertEquals(decodeReply(empty), "emptyPath");
  const rel = REAL_REPLY.slice();
  rel[2] = 0x74;
  assertEquals(decodeReply(rel), "relativePath");
});

/** A v3 request whose sun_path is `path` as given (encodeRequest itself accepts any path). */
function encodeRequestRaw(path: string): Uint8Array {
  const b = encodeRequest({ path: "/placeholder" });
  b.fill(0, 14, 122);
  b.set(new TextEncoder().encode(path), 14);
  return b;
}

Deno.test("vde_ctl: a client's announced mtu=N, or the classic 1500", () => {
  assertEquals(announcedMtu("weft mtu=9000 user=root pid=1"), 9000);
  assertEquals(announcedMtu("user=root pid=42"), VDE_DEFAULT_MTU);
  assertEquals(announcedMtu("mtu=70000"), VDE_DEFAULT_MTU, "out of range: ignored");
  assertEquals(announcedMtu("xmtu=9000"), VDE_DEFAULT_MTU, "only the whole word counts");
  assertEquals(frameLimit(1500), 1518);
  assertEquals(frameLimit(65521), 65535);
});
