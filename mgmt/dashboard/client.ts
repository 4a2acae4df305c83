/**
 * The dashboard's script (plain ES2020, no build step, no third-party code), served as
 * /dashboard/app.js. Kept as a string so the node serves it from memory: the single-file
 * build (build.ts) bundles modules, not files read at run time.
 *
 * How it gets data:
 * - The token: from `#token=…` in the URL (then removed from the address bar and history) or
 *   typed once into a dialog; kept in sessionStorage (this tab only), never put in a URL query
 *   string, so it does not reach server logs, Referer headers or the browser history.
 * - Live events: `GET /events` with fetch() and the Authorization header, the SSE stream read from
 *   the response body (EventSource cannot send headers). Reconnects with back-off.
 * - Counters: a GET of switches and ports once a second (events say what changed, not the
 *   counters, which move with every frame), plus the MAC table of one switch every 2 s and
 *   after mac.* events. `/api/v1/stacks` is asked for and a 404 (a node without that route)
 *   just hides the panel.
 *
 * Everything from the node is put into the page with textContent/attributes, never innerHTML:
 * port descriptions and endpoint URLs come from whoever plugged in.
 *
 * The source avoids backticks and dollar-brace so it can live in a TS template literal as is.
 */

export const DASHBOARD_JS = String.raw`"use strict";
(function () {
  var KEY = "weft.token";
  var POLL_MS = 1000, FDB_MS = 2000, STACKS_RETRY_MS = 30000, MAX_EVENTS = 200, MAX_FDB_ROWS = 500;
  var token = null;
  var switches = [];
  var portsBy = {};
  var stacks = null;
  var stacksCheckedAt = -Infinity;
  // Gateways, routers and cables (whose far ends are other nodes): optional like stacks.
  var attached = { gateways: null, routers: null, cables: null };
  var fdbSwitch = "";
  var fdbAt = -Infinity;
  var lastSample = {};
  var pollTimer = 0, sseAbort = null, generation = 0;
  var SVGNS = "http://www.w3.org/2000/svg";

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function human(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(2) + " G";
    if (n >= 1e6) return (n / 1e6).toFixed(2) + " M";
    if (n >= 1e4) return (n / 1e3).toFixed(1) + " k";
    return String(n);
  }
  function duration(s) {
    var d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + Math.floor(s % 60) + "s";
  }

  // ---- token -------------------------------------------------------------------------------
  function takeTokenFromFragment() {
    var m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (!m) return;
    try { sessionStorage.setItem(KEY, decodeURIComponent(m[1])); } catch (_) { /* storage off */ }
    // Drop the secret from the address bar and from this history entry.
    history.replaceState(null, "", location.pathname + location.search);
  }
  function askToken(message) {
    stop();
    token = null;
    try { sessionStorage.removeItem(KEY); } catch (_) { /* storage off */ }
    $("logout").hidden = true;
    $("login-error").textContent = message || "";
    setLive("error", message ? "token refused" : "no token");
    var d = $("login");
    if (!d.open) d.showModal();
    $("token-input").focus();
  }
  function useToken(t) {
    token = t;
    $("logout").hidden = false;
    start();
  }

  // ---- API ---------------------------------------------------------------------------------
  function Unauthorized() {}
  async function api(path) {
    var r = await fetch(path, {
      headers: { authorization: "Bearer " + token, accept: "application/json" },
      cache: "no-store",
    });
    if (r.status === 401) throw new Unauthorized();
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return await r.json();
  }

  async function refresh(gen) {
    var node = await api("/api/v1/node");
    var list = (await api("/api/v1/switches")) || [];
    var ports = await Promise.all(list.map(function (s) {
      return api("/api/v1/switches/" + encodeURIComponent(s.name) + "/ports");
    }));
    var now = performance.now();
    if (now - stacksCheckedAt > (stacks === null ? STACKS_RETRY_MS : 0)) {
      stacksCheckedAt = now;
      var optional = function (path) {
        return api(path).catch(function (e) {
          if (e instanceof Unauthorized) throw e;
          return null; // a broken optional panel must not stop the rest
        });
      };
      var got = await Promise.all([
        optional("/api/v1/stacks"),
        optional("/api/v1/gateways"),
        optional("/api/v1/routers"),
        optional("/api/v1/cables"),
      ]);
      stacks = got[0];
      attached = { gateways: got[1], routers: got[2], cables: got[3] };
    }
    if (gen !== generation) return;
    switches = list;
    portsBy = {};
    list.forEach(function (s, i) { portsBy[s.name] = ports[i] || []; });
    if (node) renderNode(node);
    renderSwitches(now);
    renderTopology();
    renderStacks();
    syncFdbChoice();
    if (fdbSwitch && now - fdbAt > FDB_MS) await refreshFdb(gen);
  }

  async function refreshFdb(gen) {
    fdbAt = performance.now();
    var rows = fdbSwitch ? await api("/api/v1/switches/" + encodeURIComponent(fdbSwitch) + "/fdb") : [];
    if (gen === generation) renderFdb(rows || []);
  }

  async function pollLoop(gen) {
    while (gen === generation) {
      try {
        await refresh(gen);
      } catch (e) {
        if (e instanceof Unauthorized) return askToken("The node refused this token.");
        setLive("error", "API unreachable");
      }
      await sleep(POLL_MS);
    }
  }

  // ---- events over SSE (fetch, so the Authorization header can be sent) -------------------
  async function eventLoop(gen) {
    var backoff = 500;
    while (gen === generation) {
      var ctl = new AbortController();
      sseAbort = ctl;
      try {
        var r = await fetch("/events", {
          headers: { authorization: "Bearer " + token, accept: "text/event-stream" },
          cache: "no-store",
          signal: ctl.signal,
        });
        if (r.status === 401) return askToken("The node refused this token.");
        if (!r.ok || !r.body) throw new Error("HTTP " + r.status);
        backoff = 500;
        setLive("live", "live");
        var reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        var buf = "";
        for (;;) {
          var chunk = await reader.read();
          if (chunk.done) break;
          buf += chunk.value.replace(/\r\n?/g, "\n");
          var i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            onMessage(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
      }
      if (gen !== generation) return;
      setLive("error", "event stream lost, retrying");
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 10000);
    }
  }

  function onMessage(block) {
    var type = "message", data = [];
    block.split("\n").forEach(function (line) {
      if (line === "" || line[0] === ":") return; // comment (keep-alive)
      var c = line.indexOf(":");
      var field = c < 0 ? line : line.slice(0, c);
      var value = c < 0 ? "" : line.slice(c + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    });
    var payload = {};
    try { payload = JSON.parse(data.join("\n") || "{}"); } catch (_) { /* keep {} */ }
    if (type === "hello") return;
    logEvent(type, payload);
    if (/^(port|switch|vde)\./.test(type)) soon();
    if (/^mac\./.test(type) && payload.switch === fdbSwitch) fdbAt = -Infinity;
  }

  var soonTimer = 0;
  function soon() {
    if (soonTimer) return;
    var gen = generation;
    soonTimer = setTimeout(function () {
      soonTimer = 0;
      refresh(gen).catch(function () { /* the poll loop reports */ });
    }, 150);
  }

  // ---- rendering ---------------------------------------------------------------------------
  function setLive(kind, text) {
    $("live-dot").className = "dot " + kind;
    $("live-text").textContent = text;
  }

  function renderNode(n) {
    $("node-id").textContent = n.id;
    $("node-version").textContent = n.version;
    $("node-roles").textContent = (n.roles || []).join(", ") || "–";
    $("node-uptime").textContent = duration(n.uptimeSec || 0);
  }

  var COUNTERS = ["framesIn", "framesOut", "bytesIn", "bytesOut"];
  function dropsOf(p) {
    var t = 0, k;
    for (k in p.drops || {}) t += p.drops[k];
    for (k in p.endpointDrops || {}) t += p.endpointDrops[k];
    return t;
  }

  function renderSwitches(now) {
    var box = $("switches");
    box.replaceChildren();
    if (switches.length === 0) {
      box.append(el("p", { class: "empty" }, "No switches on this node."));
      return;
    }
    var seen = {};
    switches.forEach(function (s) {
      var sec = el("section", { class: "switch", "data-switch": s.name, "aria-label": "Switch " + s.name });
      var h = el("h3", null, s.name);
      h.append(el("span", { class: "meta" },
        (s.hub ? "hub" : "switch") + " · " + s.portsInUse + "/" + s.maxPorts + " ports · FDB " +
          s.fdbSize + (s.macLimit ? "/" + s.macLimit : "") + " · MTU " + s.mtu +
          (s.sock ? " · " + s.sock : "")));
      var fdb = el("span", { class: "sr", "data-fdb-size": "" }, String(s.fdbSize));
      h.append(fdb);
      sec.append(h);
      var ports = portsBy[s.name] || [];
      if (ports.length === 0) {
        sec.append(el("p", { class: "empty" }, "No ports in use."));
        box.append(sec);
        return;
      }
      var t = el("table");
      t.append(el("caption", { class: "sr" }, "Ports of switch " + s.name));
      var head = el("tr");
      [["Port"], ["Endpoint"], ["Link"], ["VLAN"], ["Frames in", 1], ["Frames out", 1],
        ["Bytes in", 1], ["Bytes out", 1], ["frames/s", 1], ["Drops", 1]].forEach(function (c) {
        head.append(el("th", { scope: "col", class: c[1] ? "num" : "" }, c[0]));
      });
      var thead = el("thead");
      thead.append(head);
      t.append(thead);
      var body = el("tbody");
      ports.forEach(function (p) {
        var key = s.name + "/" + p.port;
        seen[key] = true;
        var prev = lastSample[key];
        var total = p.framesIn + p.framesOut;
        var rate = prev && now > prev.t ? (total - prev.frames) * 1000 / (now - prev.t) : 0;
        lastSample[key] = { t: now, frames: total };
        var tr = el("tr", { "data-port": String(p.port) });
        tr.append(el("th", { scope: "row" }, p.port));
        tr.append(el("td", { class: "ep", title: p.endpoint }, p.description || p.endpoint));
        var link = !p.enabled ? "disabled" : p.link;
        tr.append(el("td", { class: "link-" + link, "data-link": link }, link));
        tr.append(el("td", null, p.vlan));
        COUNTERS.forEach(function (c) {
          tr.append(el("td", { class: "num", "data-counter": c, "data-value": String(p[c]) }, human(p[c])));
        });
        tr.append(el("td", { class: "num" }, human(Math.max(0, Math.round(rate)))));
        tr.append(el("td", { class: "num", "data-counter": "drops" }, human(dropsOf(p))));
        body.append(tr);
      });
      t.append(body);
      sec.append(t);
      box.append(sec);
    });
    for (var k in lastSample) if (!seen[k]) delete lastSample[k];
  }

  function renderTopology() {
    var root = $("topology");
    var title = root.querySelector("title");
    root.replaceChildren(title);
    var swW = 150, swH = 34, portGap = 110, y0 = 14, yPort = 120, margin = 20;
    var items = [];
    var width = margin;
    switches.forEach(function (s) {
      var n = Math.max(1, (portsBy[s.name] || []).length);
      var w = Math.max(swW + 20, n * portGap);
      items.push({ s: s, x: width, w: w });
      width += w + 30;
    });
    // The row under the switches: stacks, gateways, routers, and the cables to other nodes.
    var list = function (x) { return Array.isArray(x) ? x : []; };
    var stackList = list(stacks).map(function (st) {
      var addr = (st.addresses || st.ipv4 || [])[0];
      return { kind: "stack", label: (st.name || "stack") + (addr ? " " + addr : "") };
    }).concat(list(attached.gateways).map(function (g) {
      return { kind: "gateway", label: "gw " + g.name + (g.cidr ? " " + g.cidr : "") };
    }), list(attached.routers).map(function (r) {
      return { kind: "router", label: "router " + r.name + " (" + (r.interfaces || []).length + " if)" };
    }), list(attached.cables).map(function (c) {
      if (c.direction === "join") {
        return { kind: "cable " + (c.link || ""), label: c.url + " \u21c4 " + c.peer };
      }
      var arrow = c.direction === "listen" ? "\u21e0 " : "\u21e2 ";
      return { kind: "cable " + (c.link || ""), label: c.switch + " " + arrow + c.url };
    }));
    var stackRowY = yPort + 54;
    var height = stackList.length ? stackRowY + 40 : yPort + 46;
    // At least 640 wide so that a small topology is not blown up to fill the panel; centred.
    var W = Math.max(640, width - 30 + margin, 10 + stackList.length * 170);
    var shift = Math.max(0, (W - (width - 30 + margin)) / 2);
    items.forEach(function (it) { it.x += shift; });
    root.setAttribute("viewBox", "0 0 " + W + " " + height);
    items.forEach(function (it) {
      var cx = it.x + it.w / 2;
      var ports = portsBy[it.s.name] || [];
      ports.forEach(function (p, i) {
        var px = it.x + portGap / 2 + i * ((it.w - portGap) / Math.max(1, ports.length - 1 || 1));
        if (ports.length === 1) px = cx;
        var state = !p.enabled ? "disabled" : p.link;
        root.append(svg("line", { x1: cx, y1: y0 + swH, x2: px, y2: yPort - 8, class: state }));
        var c = svg("circle", { cx: px, cy: yPort, r: 7, class: state });
        c.append(svg("title", {}, "port " + p.port + " " + state + ": " + p.endpoint));
        root.append(c);
        root.append(svg("text", { x: px, y: yPort + 22, "text-anchor": "middle" }, "#" + p.port));
        var label = p.description || p.endpoint || "";
        if (label.length > 15) label = label.slice(0, 14) + "\u2026";
        root.append(svg("text", { x: px, y: yPort + 36, "text-anchor": "middle" }, label));
      });
      var g = svg("g", { class: "sw" });
      g.append(svg("rect", { x: cx - swW / 2, y: y0, width: swW, height: swH, rx: 6 }));
      g.append(svg("text", { x: cx, y: y0 + 22, "text-anchor": "middle", class: "name" }, it.s.name));
      root.append(g);
    });
    stackList.forEach(function (it, i) {
      var g = svg("g", { class: it.kind });
      var x = 10 + i * 170;
      g.append(svg("rect", { x: x, y: stackRowY, width: 160, height: 30, rx: 4 }));
      var label = it.label.length > 24 ? it.label.slice(0, 23) + "\u2026" : it.label;
      var t = svg("text", { x: x + 8, y: stackRowY + 19 }, label);
      t.append(svg("title", {}, it.label));
      g.append(t);
      root.append(g);
    });
    if (switches.length === 0) {
      root.append(svg("text", { x: 20, y: 40 }, "No switches yet."));
    }
  }

  function renderStacks() {
    var panel = $("stacks-panel");
    if (!Array.isArray(stacks)) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    var ul = $("stacks");
    ul.replaceChildren();
    if (stacks.length === 0) ul.append(el("li", { class: "empty" }, "No stacks."));
    stacks.forEach(function (st) {
      var bits = [st.name || st.id || "stack"];
      if (st.mac) bits.push(st.mac);
      var addrs = st.addresses || [];
      if (addrs.length) bits.push(addrs.map(function (a) { return a.address || a; }).join(", "));
      if (st.switch) bits.push("on " + st.switch + (st.port ? " port " + st.port : ""));
      if (st.tcpConnections !== undefined) bits.push(st.tcpConnections + " TCP");
      ul.append(el("li", null, bits.join(" · ")));
    });
  }

  function syncFdbChoice() {
    var sel = $("fdb-switch");
    var names = switches.map(function (s) { return s.name; });
    var current = Array.prototype.map.call(sel.options, function (o) { return o.value; });
    if (names.join("\n") !== current.join("\n")) {
      sel.replaceChildren();
      names.forEach(function (n) { sel.append(el("option", { value: n }, n)); });
    }
    if (names.indexOf(fdbSwitch) < 0) {
      fdbSwitch = names[0] || "";
      fdbAt = -Infinity;
    }
    sel.value = fdbSwitch;
  }

  function renderFdb(rows) {
    var body = $("fdb").tBodies[0];
    body.replaceChildren();
    rows.slice(0, MAX_FDB_ROWS).forEach(function (r) {
      var tr = el("tr");
      tr.append(el("td", null, r.mac), el("td", null, r.vlan), el("td", null, r.port),
        el("td", null, r.ageSec));
      body.append(tr);
    });
    $("fdb-count").textContent = rows.length + " entr" + (rows.length === 1 ? "y" : "ies") +
      (rows.length > MAX_FDB_ROWS ? " (first " + MAX_FDB_ROWS + " shown)" : "");
  }

  function logEvent(type, e) {
    var ol = $("events");
    var li = el("li", { "data-type": type });
    var t = new Date();
    li.append(el("time", { datetime: t.toISOString() }, t.toLocaleTimeString()));
    var rest = [];
    for (var k in e) if (k !== "type") rest.push(k + "=" + (typeof e[k] === "object" ? JSON.stringify(e[k]) : e[k]));
    li.append(document.createTextNode(type + " " + rest.join(" ")));
    li.title = li.textContent;
    ol.prepend(li);
    while (ol.children.length > MAX_EVENTS) ol.lastChild.remove();
  }

  // ---- lifecycle ---------------------------------------------------------------------------
  function stop() {
    generation++;
    if (sseAbort) sseAbort.abort();
    sseAbort = null;
    clearTimeout(pollTimer);
  }
  function start() {
    stop();
    var gen = generation;
    stacks = null;
    attached = { gateways: null, routers: null, cables: null };
    stacksCheckedAt = -Infinity;
    setLive("", "connecting…");
    pollLoop(gen);
    eventLoop(gen);
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("login-form").addEventListener("submit", function () {
      var t = $("token-input").value.trim();
      $("token-input").value = "";
      try { sessionStorage.setItem(KEY, t); } catch (_) { /* storage off: this page only */ }
      useToken(t);
    });
    $("logout").addEventListener("click", function () { askToken(""); });
    $("fdb-switch").addEventListener("change", function (ev) {
      fdbSwitch = ev.target.value;
      fdbAt = -Infinity;
      refreshFdb(generation).catch(function () { /* the poll loop reports */ });
    });
    window.addEventListener("hashchange", function () {
      takeTokenFromFragment();
      var t = sessionStorage.getItem(KEY);
      if (t) { if ($("login").open) $("login").close(); useToken(t); }
    });
    takeTokenFromFragment();
    var saved = null;
    try { saved = sessionStorage.getItem(KEY); } catch (_) { /* storage off */ }
    if (saved) useToken(saved);
    else askToken("");
  });
})();
`;
