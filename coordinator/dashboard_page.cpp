#include "dashboard_page.hpp"

namespace dpool::internal {
namespace {

// Every value from the status goes into the page as text (textContent),
// never as markup: node and task names are whatever their owners chose.
constexpr std::string_view kPage = R"page(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dpool dashboard</title>
<style>
  :root { --fg: #1d2733; --muted: #6b7785; --line: #dde3ea; --bg: #f5f7fa; --card: #fff;
          --busy: #2f7de1; --idle: #d5dde7; --bad: #c9372c; --queue: #e08a1e; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
         color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 16px; padding: 12px 20px;
           background: #1d2733; color: #fff; }
  header h1 { margin: 0; font-size: 18px; font-weight: 600; }
  header .where { color: #aab6c4; font-family: ui-monospace, monospace; }
  header #state { margin-left: auto; font-size: 12px; color: #aab6c4; }
  header #state.bad { color: #ff8a80; }
  main { padding: 16px 20px; display: grid; gap: 16px; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 12px; }
  .tile, section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; }
  .tile { padding: 10px 12px; }
  .tile .label { color: var(--muted); font-size: 12px; }
  .tile .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
  section { padding: 10px 12px; overflow-x: auto; }
  section h2 { margin: 0 0 8px; font-size: 14px; font-weight: 600; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
  svg { width: 100%; height: 120px; display: block; }
  svg .grid { stroke: var(--line); stroke-width: 1; }
  svg text { fill: var(--muted); font-size: 10px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
           white-space: nowrap; }
  th { color: var(--muted); font-weight: 500; font-size: 12px; }
  td.num, th.num { text-align: right; }
  td.msg { white-space: normal; max-width: 480px; word-break: break-word; }
  .execs { display: inline-flex; flex-wrap: wrap; gap: 2px; max-width: 260px; vertical-align: middle; }
  .execs i { width: 10px; height: 10px; border-radius: 2px; background: var(--idle); }
  .execs i.busy { background: var(--busy); }
  .err { color: var(--bad); font-weight: 600; }
  .empty { color: var(--muted); }
  .legend { font-size: 12px; color: var(--muted); }
</style>
</head>
<body>
<header>
  <h1>dpool <span id="coordinator"></span></h1>
  <span class="where" id="endpoint"></span>
  <span class="where">up <span id="uptime">-</span></span>
  <span id="state">connecting...</span>
</header>
<main>
  <div class="tiles">
    <div class="tile"><div class="label">nodes</div><div class="value" id="nodes">-</div></div>
    <div class="tile"><div class="label">executors busy</div><div class="value" id="busy">-</div></div>
    <div class="tile"><div class="label">queued</div><div class="value" id="queued">-</div></div>
    <div class="tile"><div class="label">running</div><div class="value" id="running">-</div></div>
    <div class="tile"><div class="label">done</div><div class="value" id="done">-</div></div>
    <div class="tile"><div class="label">failed</div><div class="value" id="failed">-</div></div>
    <div class="tile"><div class="label">tasks/s (last minute)</div><div class="value" id="throughput">-</div></div>
    <div class="tile"><div class="label">manager objects</div><div class="value" id="objects">-</div></div>
  </div>
  <div class="charts">
    <section><h2>Tasks per second</h2><svg id="rate-chart" viewBox="0 0 600 120" preserveAspectRatio="none"></svg>
      <div class="legend">tasks finished per second, last 2 minutes</div></section>
    <section><h2>Queue depth</h2><svg id="queue-chart" viewBox="0 0 600 120" preserveAspectRatio="none"></svg>
      <div class="legend">tasks waiting for a node, last 2 minutes</div></section>
  </div>
  <section><h2>Nodes</h2><table id="nodes-table"><thead><tr>
    <th>node</th><th>address</th><th>executors (busy / idle)</th><th class="num">busy</th>
    <th class="num">waiting</th><th class="num">processes</th><th class="num">done</th>
    <th class="num">failed</th><th class="num">retried</th><th>heartbeat</th></tr></thead>
    <tbody></tbody></table></section>
  <section><h2>Longest-running tasks</h2><table id="slow-table"><thead><tr>
    <th>task</th><th>node</th><th>client</th><th class="num">running for</th></tr></thead>
    <tbody></tbody></table></section>
  <section><h2>Recent failures</h2><table id="failures-table"><thead><tr>
    <th>when</th><th>task</th><th>node</th><th>error</th><th>message</th></tr></thead>
    <tbody></tbody></table></section>
  <section><h2>Clients</h2><table id="clients-table"><thead><tr>
    <th>client</th><th>address</th><th class="num">queued</th><th class="num">running</th>
    <th class="num">done</th></tr></thead><tbody></tbody></table></section>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const headers = token ? { Authorization: "Bearer " + token } : {};
const kPoints = 120;
const rates = [], queues = [];
let previous = null;

function text(id, value) { document.getElementById(id).textContent = value; }

function duration(seconds) {
  if (seconds < 10) return Math.max(0, seconds).toFixed(1) + "s";
  const s = Math.floor(seconds);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor(s / 60) % 60).padStart(2, "0") + "m";
  return Math.floor(s / 86400) + "d" + String(Math.floor(s / 3600) % 24).padStart(2, "0") + "h";
}

function rate(v) { return v >= 10 ? v.toFixed(0) : v.toFixed(1); }

function cell(row, value, cls) {
  const td = row.insertCell();
  if (value instanceof Node) td.appendChild(value); else td.textContent = value;
  if (cls) td.className = cls;
  return td;
}

// Replaces a table's rows; `empty` is shown in one row when there are none.
function rows(id, items, columns, fill, empty) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren();
  if (!items.length) {
    const td = body.insertRow().insertCell();
    td.colSpan = columns;
    td.className = "empty";
    td.textContent = empty;
    return;
  }
  for (const item of items) fill(body.insertRow(), item);
}

function executors(n) {
  const box = document.createElement("span");
  box.className = "execs";
  box.title = n.busy + " busy, " + (n.executors - n.busy) + " idle";
  const shown = Math.min(n.executors, 64);
  for (let i = 0; i < shown; i++) {
    const sq = document.createElement("i");
    if (i < n.busy) sq.className = "busy";
    box.appendChild(sq);
  }
  return box;
}

function chart(id, values, color) {
  const svg = document.getElementById(id);
  svg.dataset.points = values.length;
  const max = Math.max(1, ...values);
  const step = 600 / (kPoints - 1);
  const x0 = 600 - (values.length - 1) * step;
  const points = values.map((v, i) => (x0 + i * step).toFixed(1) + "," + (115 - v / max * 95).toFixed(1)).join(" ");
  svg.innerHTML =
    '<line class="grid" x1="0" y1="10" x2="600" y2="10"/><line class="grid" x1="0" y1="115" x2="600" y2="115"/>' +
    '<polyline fill="none" stroke-width="2" stroke="' + color + '" points="' + points + '"/>';
  const label = document.createElementNS("http://www.w3.org/2000/svg", "text");
  label.setAttribute("x", "4");
  label.setAttribute("y", "22");
  label.textContent = "max " + rate(max);
  svg.appendChild(label);
}

// One point a second or more apart: tasks finished per second since the
// last point, and the queue's depth.
function sample(uptime, done, queued) {
  if (previous && uptime - previous.uptime < 1) return;
  if (previous && uptime > previous.uptime) {
    rates.push(Math.max(0, done - previous.done) / (uptime - previous.uptime));
    queues.push(queued);
    if (rates.length > kPoints) { rates.shift(); queues.shift(); }
  }
  previous = { uptime, done };
  chart("rate-chart", rates, "#2f7de1");
  chart("queue-chart", queues, "#e08a1e");
}

function render(s) {
  text("coordinator", s.coordinator);
  text("endpoint", s.endpoint || s.address || "in-process");
  text("uptime", duration(s.uptime_s));
  text("nodes", s.totals.nodes);
  text("busy", s.totals.busy + " / " + s.totals.executors);
  text("queued", s.totals.queued);
  text("running", s.totals.running);
  text("done", s.totals.done);
  text("failed", s.totals.failed);
  text("throughput", rate(s.throughput));
  text("objects", s.manager.objects);

  sample(s.uptime_s, s.totals.done, s.totals.queued);

  rows("nodes-table", s.nodes, 10, (r, n) => {
    r.dataset.node = n.name;
    cell(r, n.name);
    cell(r, n.address || "in-process");
    cell(r, executors(n));
    for (const k of ["busy", "waiting", "processes", "done", "failed", "retried"]) cell(r, n[k], "num");
    cell(r, n.heartbeat_age_s === null ? "in-process" : n.heartbeat_age_s.toFixed(1) + "s ago");
  }, "no nodes: start one with dpool worker --connect ...");
  rows("slow-table", s.longest_running, 4, (r, t) => {
    cell(r, t.task);
    cell(r, t.node);
    cell(r, t.client);
    cell(r, duration(t.running_s), "num");
  }, "nothing running");
  rows("failures-table", s.failures, 5, (r, f) => {
    cell(r, duration(f.age_s) + " ago");
    cell(r, f.task);
    cell(r, f.node);
    cell(r, f.error, "err");
    cell(r, f.message, "msg");
  }, "no failures");
  rows("clients-table", s.clients, 5, (r, c) => {
    cell(r, c.name);
    cell(r, c.address || "in-process");
    for (const k of ["queued", "running", "done"]) cell(r, c[k], "num");
  }, "no clients");
}

async function poll() {
  const state = document.getElementById("state");
  try {
    const response = await fetch("api/status", { headers, cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
    state.textContent = "live, updated " + new Date().toLocaleTimeString();
    state.className = "";
  } catch (e) {
    state.textContent = "no answer (" + e.message + "); retrying";
    state.className = "bad";
  } finally {
    setTimeout(poll, 1000);
  }
}
// The charts start with the coordinator's recent past, then the polls
// add to them.
fetch("api/history", { headers, cache: "no-store" })
  .then((r) => (r.ok ? r.json() : { samples: [] }))
  .catch(() => ({ samples: [] }))
  .then((h) => {
    for (const [uptime, done, queued] of h.samples) sample(uptime, done, queued);
    poll();
  });
</script>
</body>
</html>
)page";

}  // namespace

std::string_view dashboard_page() noexcept {
  return kPage;
}

}  // namespace dpool::internal
