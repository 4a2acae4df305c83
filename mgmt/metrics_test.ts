import { assert, assertEquals, assertMatch } from "@std/assert";
import { apiFixture } from "../tests/_harness/api.ts";
import { BROADCAST, frame, mac } from "../tests/_harness/frames.ts";
import { run } from "../tests/_harness/process.ts";
import { gate } from "../tests/_harness/requirements.ts";
import { escapeLabel } from "./metrics.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the text exposition format 0.0.4 as far as /metrics uses it: HELP and TYPE
 * once per family and before its samples, families not interleaved, valid names and labels,
 * escaped label values, no duplicate series, counters named `_total`, a final newline.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  assert(text.endsWith("\n"), "ends with a newline");
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const closed = new Set<string>();
  const series = new Set<string>();
  const samples: Sample[] = [];
  let current = "";
  const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  for (const line of text.slice(0, -1).split("\n")) {
    const help = new RegExp(`^# HELP (${NAME}) (.+)$`).exec(line);
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge)$`).exec(line);
    if (help || type) {
      const name = (help ?? type)![1];
      assert(!closed.has(name), `family ${name} is not interleaved`);
      if (name !== current && current) closed.add(current);
      current = name;
      if (help) {
        assert(!helps.has(name), `one HELP for ${name}`);
        helps.add(name);
      } else {
        assert(!types.has(name), `one TYPE for ${name}`);
        types.set(name, type![2]);
        if (type![2] === "counter") assertMatch(name, /_total$/);
      }
      continue;
    }
    const m = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    assert(m, `a sample line: ${JSON.stringify(line)}`);
    const [, name, labelText = "", valueText] = m;
    assertEquals(name, current, `sample ${name} follows its TYPE`);
    assert(types.has(name), `TYPE before ${name}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
    let at = 0;
    while (at < labelText.length) {
      re.lastIndex = at;
      const l = re.exec(labelText);
      assert(l, `labels of ${line}`);
      assert(!(l[1] in labels), `label ${l[1]} once`);
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
      at = re.lastIndex;
    }
    const value = Number(valueText);
    assert(!Number.isNaN(value) || valueText === "NaN", `value of ${line}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert(!series.has(key), `series ${key} once`);
    series.add(key);
    samples.push({ name, labels, value });
  }
  return { types, samples };
}

async function scrape() {
  const fx = await apiFixture();
  // Drops for two reasons: a group source address, and a frame to its own segment.
  fx.hosts[0].end.send(frame({ dst: mac(2), src: BROADCAST }));
  fx.hosts[0].end.send(frame({ dst: mac(1), src: mac(1) }));
  const r = await fx.call("GET", "/metrics");
  await fx.node.close();
  return r;
}

Deno.test("metrics: Prometheus text with per-port frames, bytes, drops, MAC table, memory", async () => {
  const r = await scrape();
  assertEquals(r.status, 200);
  assertEquals(r.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const { types, samples } = parseExposition(r.text);
  const get = (name: string, labels: Record<string, string>) =>
    samples.find((s) =>
      s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    )?.value;
  const p1 = { switch: "sw0", port: "1" };
  assertEquals(get("weft_port_frames_total", { ...p1, direction: "in" }), 3);
  assertEquals(get("weft_port_bytes_total", { ...p1, direction: "in" }), 3 * 64);
  assertEquals(get("weft_port_frames_total", { ...p1, direction: "out" }), 1);
  assertEquals(get("weft_port_drops_total", { ...p1, reason: "sameSegment" }), 1);
  assertEquals(get("weft_port_drops_total", { ...p1, reason: "groupSource" }), 1);
  assertEquals(get("weft_port_up", p1), 1);
  assertEquals(get("weft_fdb_entries", { switch: "sw0" }), 2);
  assertEquals(get("weft_fdb_limit", { switch: "sw0" }), 65536);
  assert(get("process_resident_memory_bytes", {})! > 1e6);
  assertEquals(types.get("weft_port_drops_total"), "counter");
  assertEquals(types.get("weft_fdb_entries"), "gauge");
});

Deno.test("metrics: label values are escaped", () => {
  assertEquals(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
});

Deno.test("metrics: the checker refuses what Prometheus would", () => {
  const bad = [
    "x_total 1\n", // no TYPE
    "# TYPE x counter\nx 1\n", // counter without _total
    '# TYPE x_total counter\nx_total{a="1"} 1\nx_total{a="1"} 2\n', // duplicate series
    '# TYPE g gauge\ng{a="x"y"} 1\n', // unescaped quote
    "# TYPE g gauge\ng 1", // no final newline
  ];
  for (const text of bad) {
    let threw = false;
    try {
      parseExposition(text);
    } catch {
      threw = true;
    }
    assert(threw, `refused: ${JSON.stringify(text)}`);
  }
});

const promtool = gate({ root: false, tools: ["promtool"] });
Deno.test({
  name: promtool.name("metrics: promtool check metrics accepts /metrics"),
  ignore: promtool.ignore,
  fn: async () => {
    const r = await scrape();
    const check = await run(["promtool", "check", "metrics"], { stdin: r.text, timeoutMs: 10_000 });
    assertEquals(check.code, 0, `${check.stdout}${check.stderr}`);
    // promtool prints lint problems even when it exits 0 for some of them.
    assertEquals((check.stdout + check.stderr).trim(), "");
  },
});
