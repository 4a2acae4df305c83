/** The dashboard's stylesheet: one screen, panels scroll inside, light and dark schemes. */

export const DASHBOARD_CSS = `:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #fff; --fg: #1b1f24; --muted: #5b6470; --line: #d5d9df;
  --up: #1a7f37; --down: #b42318; --off: #8a8f98; --accent: #0b5cad;
  font: 13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #111418; --panel: #1a1f25; --fg: #e6e8eb; --muted: #9aa3ad; --line: #2d343c;
    --up: #3fb950; --down: #f85149; --accent: #58a6ff; }
}
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { background: var(--bg); color: var(--fg); display: grid; grid-template-rows: auto 1fr;
  overflow: hidden; }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 14px; margin: 0 0 6px; }
.bar { display: flex; align-items: center; gap: 20px; padding: 8px 14px;
  border-bottom: 1px solid var(--line); background: var(--panel); }
.node { display: flex; gap: 16px; margin: 0; }
.node div { display: flex; gap: 4px; }
.node dt { color: var(--muted); }
.node dd { margin: 0; font-variant-numeric: tabular-nums; }
.status { margin: 0 0 0 auto; display: flex; align-items: center; gap: 6px; }
.dot { width: 10px; height: 10px; border-radius: 50%; background: var(--off); }
.dot.live { background: var(--up); }
.dot.error { background: var(--down); }
button { font: inherit; padding: 3px 10px; border: 1px solid var(--line); border-radius: 4px;
  background: var(--panel); color: var(--fg); cursor: pointer; }
button:focus-visible, select:focus-visible, input:focus-visible { outline: 2px solid var(--accent);
  outline-offset: 1px; }
.grid { display: grid; gap: 10px; padding: 10px; min-height: 0;
  grid-template-columns: minmax(0, 1fr) minmax(280px, 30%);
  grid-template-rows: minmax(140px, 38%) minmax(0, 1fr);
  grid-template-areas: "topo side" "switches side"; }
.topo { grid-area: topo; }
.switches { grid-area: switches; overflow: auto; }
.side { grid-area: side; display: grid; gap: 10px; min-height: 0; min-width: 0;
  grid-template-rows: minmax(0, 1.2fr) auto minmax(0, 1fr); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
  min-height: 0; min-width: 0; display: flex; flex-direction: column; }
.panel[hidden] { display: none; }
.scroll, .events ol { overflow: auto; min-height: 0; flex: 1; }
#topology { width: 100%; flex: 1; min-height: 0; }
#topology text { fill: var(--fg); font-size: 11px; }
#topology .sw rect { fill: var(--panel); stroke: var(--accent); stroke-width: 2; }
#topology .sw text.name { font-weight: 600; font-size: 13px; }
#topology line { stroke: var(--line); stroke-width: 2; }
#topology line.up { stroke: var(--up); }
#topology circle { fill: var(--off); }
#topology circle.up { fill: var(--up); }
#topology circle.down { fill: var(--down); }
#topology circle.disabled { fill: var(--off); }
#topology .stack rect { fill: var(--panel); stroke: var(--muted); stroke-dasharray: 3 2; }
#topology .gateway rect, #topology .router rect { fill: var(--panel); stroke: var(--muted); stroke-width: 2; }
#topology .cable rect { fill: none; stroke: var(--muted); }
#topology .cable.up rect, #topology .cable.listening rect { stroke: var(--up); }
#topology .cable.down rect, #topology .cable.unplugged rect { stroke: var(--down); }
.switch { margin-bottom: 12px; }
.switch h3 { font-size: 13px; margin: 0 0 4px; }
.switch .meta { color: var(--muted); font-weight: normal; margin-left: 8px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; position: sticky; top: 0; background: var(--panel); }
td.num, th.num { text-align: right; }
td.ep { max-width: 22ch; overflow: hidden; text-overflow: ellipsis; }
.link-up { color: var(--up); }
.link-down { color: var(--down); }
.muted, .empty { color: var(--muted); margin: 4px 0; }
.events ol { list-style: none; margin: 0; padding: 0; font-family: ui-monospace, monospace;
  font-size: 12px; }
.events li { padding: 1px 0; border-bottom: 1px dotted var(--line); white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.events time { color: var(--muted); margin-right: 6px; }
.stacks ul { margin: 0; padding-left: 16px; }
select { font: inherit; margin: 0 0 4px 6px; max-width: 60%; }
dialog { border: 1px solid var(--line); border-radius: 8px; background: var(--panel); color: var(--fg);
  max-width: 440px; }
dialog input { width: 100%; font: inherit; padding: 4px; margin: 4px 0 8px; }
.error { color: var(--down); min-height: 1em; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
`;
