import { ManualClock } from "./core/clock.ts";
import { SeededRng } from "./core/rng.ts";
import { parse_addr, parse_cidr } from "./stack/addr.ts";
import { Stack } from "./stack/stack.ts";
import { runSim, SimLink } from "./tests/_harness/sim_link.ts";
const [loss, delay, jitter, mib] = Deno.args.map(Number);
const clock = new ManualClock(1000);
const link = new SimLink(clock, new SeededRng(5), { loss, delayMs: delay, jitterMs: jitter });
// deno-lint-ignore no-explicit-any
const mk = (ep: any, mac: number, ip: string, seed: number) => new Stack({ endpoint: ep, mac, ipv4: parse_cidr(ip)!, clock, rng: new SeededRng(seed), timers: "manual", mtu: 1500 });
const a = mk(link.a, 0x0200000000a, "10.9.0.1/24", 1), b = mk(link.b, 0x0200000000b, "10.9.0.2/24", 2);
const bytes = mib * 1048576; let received = 0, eof = false; const buf = new Uint8Array(65536);
b.tcpListen(80).onAccept = (c) => { c.onEvent = (ev) => { if (ev !== "readable") return; for (;;) { const n = c.recv(buf); if (n === -1) { eof = true; c.close(); } if (n <= 0) break; received += n; } }; };
const c = a.tcpConnect(parse_addr("10.9.0.2")!, 80); const data = new Uint8Array(bytes); let sent = 0;
const pump = () => { while (sent < bytes) { const n = c.send(data.subarray(sent)); if (!n) return; sent += n; } c.shutdownWrite(); };
c.onEvent = (ev) => { if (ev === "established" || ev === "writable") pump(); };
const ms = runSim(clock, [link], [a, b], () => eof, 3_600_000);
const s = a.tcp.stats;
console.log(`sim ${ms.toFixed(0)} ms, ${(received / 1048576 / (ms / 1000)).toFixed(2)} MiB/s`, JSON.stringify({ retrans: s.retransmits, rto: s.rtoTimeouts, fr: s.fastRecoveries, lost: link.stats.lost }));
