/**
 * The dashboard's HTML shell. Everything dynamic is filled in by client.ts from the API; the shell
 * itself holds no node data, which is why it can be served without the token.
 *
 * Layout: one screen (a laptop's 1280×720 viewport and up) as a CSS grid — the node bar, the
 * topology picture with the switch/port tables under it, and a side column with the MAC table,
 * stacks and the event log. Panels scroll inside themselves instead of the page.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>weft dashboard</title>
<link rel="stylesheet" href="/dashboard/style.css">
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<header class="bar">
  <h1>weft</h1>
  <dl class="node" aria-label="Node">
    <div><dt>node</dt><dd id="node-id">–</dd></div>
    <div><dt>version</dt><dd id="node-version">–</dd></div>
    <div><dt>roles</dt><dd id="node-roles">–</dd></div>
    <div><dt>uptime</dt><dd id="node-uptime">–</dd></div>
  </dl>
  <p class="status" role="status" aria-live="polite">
    <span id="live-dot" class="dot" aria-hidden="true"></span><span id="live-text">not connected</span>
  </p>
  <button type="button" id="logout" hidden>Forget token</button>
</header>

<dialog id="login" aria-labelledby="login-title">
  <form id="login-form" method="dialog">
    <h2 id="login-title">API token</h2>
    <p>The token is in <code>api.token</code> in the node's state directory. It is kept in this
      tab only (sessionStorage). You may also open <code>/dashboard#token=TOKEN</code>.</p>
    <label for="token-input">Bearer token</label>
    <input id="token-input" name="token" type="password" autocomplete="off" required
      minlength="16" spellcheck="false">
    <p id="login-error" class="error" role="alert"></p>
    <button type="submit">Connect</button>
  </form>
</dialog>

<main class="grid">
  <section class="panel topo" aria-labelledby="topo-title">
    <h2 id="topo-title">Topology</h2>
    <svg id="topology" role="img" aria-labelledby="topo-desc" preserveAspectRatio="xMidYMin meet">
      <title id="topo-desc">Switches and what is plugged into their ports</title>
    </svg>
  </section>

  <section class="panel switches" aria-labelledby="switches-title">
    <h2 id="switches-title">Switches and ports</h2>
    <div id="switches"><p class="empty">Waiting for data…</p></div>
  </section>

  <aside class="side">
    <section class="panel fdb" aria-labelledby="fdb-title">
      <h2 id="fdb-title">MAC table</h2>
      <label for="fdb-switch">Switch</label>
      <select id="fdb-switch"></select>
      <p id="fdb-count" class="muted"></p>
      <div class="scroll">
        <table id="fdb">
          <caption class="sr">Learned MAC addresses</caption>
          <thead><tr><th scope="col">MAC</th><th scope="col">VLAN</th><th scope="col">Port</th>
            <th scope="col">Age s</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
    <section class="panel stacks" id="stacks-panel" aria-labelledby="stacks-title" hidden>
      <h2 id="stacks-title">Stacks</h2>
      <ul id="stacks"></ul>
    </section>
    <section class="panel events" aria-labelledby="events-title">
      <h2 id="events-title">Events</h2>
      <ol id="events" role="log" aria-live="off"></ol>
    </section>
  </aside>
</main>
</body>
</html>
`;
