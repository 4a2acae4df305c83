import { Lab } from "../tests/_harness/lab.ts";
const kind = Deno.args[0] ?? "weft";
await using lab = await Lab.create("probe");
const sw = kind === "weft" ? await lab.weftSwitch() : await lab.vdeSwitch();
const a = await lab.host("pa", sw.dir, { ipv4: "10.79.0.1/24" });
const b = await lab.host("pb", sw.dir, { ipv4: "10.79.0.2/24" });
await a.ns.waitReachable(b.ipv4!);
const server = b.ns.spawn(["iperf3", "-s", "-1", "--forceflush", "-B", b.ipv4!]);
await server.waitForOutput(/Server listening/, 10_000);
function cpu(pid: number): number {
  try {
    const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch { return NaN; }
}
// Find pids: the switch process and vde_plug children.
const out = new TextDecoder().decode((await new Deno.Command("pgrep", { args: ["-f", "weft1|vde1|vde_plug"] }).output()).stdout);
const pids = out.trim().split("\n").map(Number).filter((p) => p !== Deno.pid);
const names = Object.fromEntries(pids.map((p) => [p, Deno.readTextFileSync(`/proc/${p}/cmdline`).replaceAll("\0", " ").slice(0, 60)]));
const before = Object.fromEntries(pids.map((p) => [p, cpu(p)]));
const t0 = performance.now();
const r = await a.ns.execOk(["iperf3", "-c", b.ipv4!, "-t", "5", "-J"], { timeoutMs: 30000 });
const secs = (performance.now() - t0) / 1000;
console.log(kind, (JSON.parse(r).end.sum_received.bits_per_second / 1e9).toFixed(2), "Gbit/s");
for (const p of pids) console.log(((cpu(p) - before[p]) / secs * 100).toFixed(0) + "%", names[p]);
