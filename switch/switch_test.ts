import { assert, assertEquals } from "@std/assert";
import { ManualClock } from "../core/clock.ts";
import { createPair, type PairEnd } from "../cable/pair.ts";
import { BROADCAST, collector, frame, mac } from "../tests/_harness/frames.ts";
import { Switch } from "./switch.ts";
import { parseVlanMode, type VlanMode } from "./vlan.ts";

/** A switch with `n` hosts; host i sends through `hosts[i].end` and receives into `rx[i]`. */
function setup(n: number, opts: { vlans?: VlanMode[]; hub?: boolean; macLimit?: number } = {}) {
  const clock = new ManualClock(0);
  const sw = new Switch({ clock, hub: opts.hub, macLimit: opts.macLimit });
  const hosts: { end: PairEnd; rx: Uint8Array[] }[] = [];
  for (let i = 0; i < n; i++) {
    const [a, b] = createPair(`h${i}`);
    const c = collector();
    b.setSink(c.sink);
    sw.attach(a, { vlan: opts.vlans?.[i] });
    hosts.push({ end: b, rx: c.frames });
  }
  return { sw, clock, hosts };
}

Deno.test("unknown unicast floods, then the learned port alone receives", () => {
  const { hosts } = setup(3);
  hosts[0].end.send(frame({ dst: mac(2), src: mac(1) }));
  assertEquals(hosts.map((h) => h.rx.length), [0, 1, 1]);
  hosts[1].end.send(frame({ dst: mac(1), src: mac(2) }));
  assertEquals(hosts.map((h) => h.rx.length), [1, 1, 1], "reply goes only to the learned port");
  hosts[0].end.send(frame({ dst: mac(2), src: mac(1) }));
  assertEquals(hosts.map((h) => h.rx.length), [1, 2, 1]);
});

Deno.test("broadcast and multicast flood to every other port", () => {
  const { hosts } = setup(4);
  hosts[2].end.send(frame({ dst: BROADCAST, src: mac(3) }));
  hosts[2].end.send(frame({ dst: new Uint8Array([0x01, 0, 0x5e, 0, 0, 1]), src: mac(3) }));
  assertEquals(hosts.map((h) => h.rx.length), [2, 2, 0, 2]);
});

Deno.test("frames arrive byte-exact and in order", () => {
  const { hosts } = setup(2);
  const sent = [];
  for (let i = 0; i < 100; i++) {
    const f = frame({ dst: mac(2), src: mac(1), seq: i, length: 60 + i });
    sent.push(f);
    hosts[0].end.send(f);
  }
  assertEquals(hosts[1].rx, sent);
});

Deno.test("entries age out lazily after the ageing time", async () => {
  const { hosts, clock, sw } = setup(3);
  sw.fdb.ageingSec = 10;
  hosts[1].end.send(frame({ dst: BROADCAST, src: mac(2) }));
  hosts[0].end.send(frame({ dst: mac(2), src: mac(1) }));
  assertEquals(hosts[2].rx.length, 1, "only the broadcast reached host 2");
  clock.advance(11_000);
  await Promise.resolve(); // the switch reads its clock once per event-loop turn
  hosts[0].end.send(frame({ dst: mac(2), src: mac(1) }));
  assertEquals(hosts[2].rx.length, 2, "aged entry: flooded again");
  assertEquals(sw.fdb.aged, 1);
});

Deno.test("a moved MAC follows its new port and emits mac.moved", () => {
  const { hosts, sw } = setup(3);
  const events: string[] = [];
  sw.events.on((e) => events.push(e.type));
  hosts[0].end.send(frame({ dst: BROADCAST, src: mac(9) }));
  hosts[1].end.send(frame({ dst: BROADCAST, src: mac(9) }));
  hosts[2].end.send(frame({ dst: mac(9), src: mac(3) }));
  assertEquals(hosts[1].rx.length, 2, "bcast from host 0 + unicast to the new port");
  assertEquals(hosts[0].rx.length, 1, "only the second broadcast");
  assert(events.includes("mac.moved"));
});

Deno.test("hub mode repeats every frame to every other port", () => {
  const { hosts } = setup(3, { hub: true });
  hosts[1].end.send(frame({ dst: BROADCAST, src: mac(2) }));
  hosts[0].end.send(frame({ dst: mac(2), src: mac(1) }));
  assertEquals(hosts.map((h) => h.rx.length), [1, 1, 2]);
});

Deno.test("the MAC table stays at its limit and counts refusals", () => {
  const { sw, hosts } = setup(2, { macLimit: 100 });
  for (let i = 0; i < 1000; i++) hosts[0].end.send(frame({ dst: BROADCAST, src: mac(1000 + i) }));
  assertEquals(sw.fdb.size, 100);
  assertEquals(sw.fdb.refusals, 900);
  assertEquals(hosts[1].rx.length, 1000, "refused sources are still forwarded");
});

Deno.test("oversize and group-source frames are dropped and counted", () => {
  const { sw, hosts } = setup(2);
  sw.ports()[0].mtu = 1500;
  hosts[0].end.send(frame({ dst: BROADCAST, src: mac(1), length: 1514 }));
  hosts[0].end.send(frame({ dst: BROADCAST, src: mac(1), length: 1515 }));
  hosts[0].end.send(frame({ dst: BROADCAST, src: BROADCAST }));
  hosts[0].end.send(frame({ dst: mac(7), src: mac(1), length: 14 }));
  sw.ports()[0].endpoint.send(new Uint8Array(13)); // never leaves the pair: counted there
  assertEquals(hosts[1].rx.length, 2, "the 1514-byte frame and the header-only frame pass");
  const drops = sw.ports()[0].counters.drops;
  assertEquals(drops, { oversize: 1, groupSource: 1 });
});

Deno.test("frames up to 65,535 bytes cross the switch", () => {
  const { hosts } = setup(2);
  const big = frame({ dst: mac(2), src: mac(1), length: 65535 });
  hosts[0].end.send(big);
  assertEquals(hosts[1].rx, [big]);
});

Deno.test("access VLANs are isolated from each other", () => {
  const { hosts } = setup(3, {
    vlans: [parseVlanMode("access:10"), parseVlanMode("access:20"), parseVlanMode("access:10")],
  });
  hosts[0].end.send(frame({ dst: BROADCAST, src: mac(1) }));
  assertEquals(hosts.map((h) => h.rx.length), [0, 0, 1]);
  hosts[1].end.send(frame({ dst: mac(1), src: mac(2) }));
  assertEquals(hosts.map((h) => h.rx.length), [0, 0, 1], "VLAN 20 cannot reach VLAN 10");
});

Deno.test("a trunk adds and strips tags; the native VLAN stays untagged", () => {
  const { hosts } = setup(3, {
    vlans: [
      parseVlanMode("access:10"),
      parseVlanMode("trunk:10,20,native:30"),
      parseVlanMode("access:30"),
    ],
  });
  const untagged = frame({ dst: BROADCAST, src: mac(1), length: 100, seq: 7 });
  hosts[0].end.send(untagged);
  const tagged = frame({ dst: BROADCAST, src: mac(1), length: 104, seq: 7, vid: 10 });
  // Same payload bytes: the tagged variant is the untagged frame with a tag inserted.
  tagged.set(untagged.subarray(14), 18);
  assertEquals(hosts[1].rx, [tagged], "trunk receives the frame tagged with VLAN 10");
  hosts[1].end.send(tagged);
  assertEquals(hosts[0].rx, [untagged], "access port receives it untagged, byte-exact");
  hosts[1].end.send(untagged);
  assertEquals(hosts[2].rx, [untagged], "untagged on the trunk is the native VLAN 30");
  hosts[1].end.send(frame({ dst: BROADCAST, src: mac(5), vid: 99 }));
  assertEquals(hosts[0].rx.length + hosts[2].rx.length, 2, "VLAN 99 is not allowed");
});

Deno.test("tagged frames on an access port are dropped", () => {
  const { hosts, sw } = setup(2);
  hosts[0].end.send(frame({ dst: BROADCAST, src: mac(1), vid: 1 }));
  assertEquals(hosts[1].rx.length, 0);
  assertEquals(sw.ports()[0].counters.drops.vlanFiltered, 1);
});

Deno.test("detaching a port flushes its MAC entries and emits port.down", () => {
  const { sw, hosts } = setup(3);
  const events: string[] = [];
  hosts[1].end.send(frame({ dst: BROADCAST, src: mac(2) }));
  assertEquals(sw.fdb.size, 1);
  sw.events.on((e) => events.push(e.type));
  sw.detach(sw.ports()[1]);
  assertEquals(sw.fdb.size, 0);
  assertEquals(events, ["port.down"]);
});

Deno.test("a refusing endpoint counts its drops on the port and does not stop others", () => {
  const { sw, hosts } = setup(3);
  hosts[1].end.close(); // queueMicrotask closes the switch side later; send now is refused
  sw.ports()[1].endpoint.close();
  hosts[0].end.send(frame({ dst: BROADCAST, src: mac(1) }));
  assertEquals(hosts[2].rx.length, 1);
});

Deno.test("a port whose link goes down loses its MAC entries and reports the link state", () => {
  const { sw, hosts } = setup(2);
  let link: ((up: boolean) => void) | undefined;
  const [a, b] = createPair("cable");
  Object.assign(a, { setLinkListener: (l: (up: boolean) => void) => (link = l) });
  const port = sw.attach(a);
  b.send(frame({ dst: BROADCAST, src: mac(77) }));
  hosts[0].end.send(frame({ dst: BROADCAST, src: mac(1) }));
  assertEquals(sw.fdb.size, 2);
  const events: string[] = [];
  sw.events.on((e) => events.push(e.type));
  link!(false);
  assertEquals(port.linkUp, false);
  assertEquals(sw.fdb.entries(0).map((e) => e.port), [1], "only host 1's entry is left");
  link!(true);
  assertEquals(port.linkUp, true);
  assertEquals(events, ["port.link.down", "port.link.up"]);
});
