import { assertEquals } from "@std/assert";
import { ARP_OP_REPLY, ARP_OP_REQUEST, ArpView, emit_arp, parse_arp } from "./arp.ts";
import { format_ipv4 } from "./ipv4.ts";
import { format_mac } from "./ethernet.ts";
import { frame } from "./_captured.ts";

Deno.test("arp: captured request and reply parse and re-emit byte-exact", () => {
  for (const name of ["arp_request", "arp_reply"] as const) {
    const f = frame(name);
    const v = parse_arp(f, 14)!;
    const out = new Uint8Array(28);
    emit_arp(
      out,
      0,
      v.operation,
      v.sender_hardware_addr,
      v.sender_protocol_addr,
      v.target_hardware_addr,
      v.target_protocol_addr,
    );
    assertEquals(out, f.subarray(14), name);
  }
  const q = parse_arp(frame("arp_request"), 14)!;
  assertEquals(q.operation, ARP_OP_REQUEST);
  assertEquals(format_mac(q.sender_hardware_addr), "02:00:00:00:00:0b");
  assertEquals(format_ipv4(q.sender_protocol_addr), "10.55.0.2");
  assertEquals(q.target_hardware_addr, 0);
  assertEquals(format_ipv4(q.target_protocol_addr), "10.55.0.1");
  const r = parse_arp(frame("arp_reply"), 14)!;
  assertEquals(r.operation, ARP_OP_REPLY);
  assertEquals(format_mac(r.sender_hardware_addr), "02:00:00:00:00:0a");
  assertEquals(format_ipv4(r.sender_protocol_addr), "10.55.0.1");
});

Deno.test("arp: truncated at every length; other hardware/protocol types unsupported", () => {
  const f = frame("arp_request");
  const v = new ArpView();
  for (let n = 0; n < 28; n++) assertEquals(v.reset(f, 14, n), "truncated");
  for (const [i, x] of [[15, 6], [16, 0x86], [18, 8], [19, 16]]) {
    const g = frame("arp_request");
    g[i] = x;
    assertEquals(v.reset(g, 14), "unsupported", `byte ${i}`);
  }
  // Ethernet minimum-frame padding after the 28 bytes is fine.
  const padded = new Uint8Array(60);
  padded.set(f);
  assertEquals(v.reset(padded, 14), "ok");
});
