/**
 * The live dashboard page served at GET /dashboard: one self-contained HTML
 * document (inline style and script, no external resource, no framework)
 * that polls GET /v1/dashboard and redraws: per SKU stock, place and order
 * rates with a two-minute sparkline drawn from the server's history (so a
 * page loaded mid-sale shows the last two minutes at once), p50/p99
 * place→answer latency, answers
 * by code, open connections. Server data reaches the DOM through
 * textContent only, never as markup.
 *
 * The Content-Security-Policy allows exactly this script and this style (by
 * hash) and fetches to the same origin: the page cannot load anything else.
 */
import { createHash } from 'node:crypto';

/** How often the page polls: four times a second, as fast as a person reads a changing number. */
const dashboardPollMs = 250;

const style = `
  :root { color-scheme: light dark; --ok: #2e7d32; --bad: #c62828; --muted: #888; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; max-width: 70rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  #status { color: var(--muted); }
  #status.live { color: var(--ok); }
  #status.down { color: var(--bad); }
  .tiles { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
  .tile { border: 1px solid #8884; border-radius: 6px; padding: .5rem .8rem; min-width: 9rem; }
  .tile .label { color: var(--muted); font-size: .8rem; }
  .tile .value { font-size: 1.6rem; font-variant-numeric: tabular-nums; }
  table { border-collapse: collapse; margin: .5rem 0 1.2rem; }
  th, td { padding: .2rem .7rem; text-align: right; font-variant-numeric: tabular-nums; }
  th:first-child, td:first-child { text-align: left; }
  thead th { border-bottom: 1px solid #8886; font-weight: 600; }
  .bar { display: flex; width: 14rem; height: .8rem; background: #8882; }
  .bar div { height: 100%; }
  .bar .sold { background: #1565c0; } .bar .reserved { background: #f9a825; } .bar .available { background: #43a047; }
  canvas { width: 100%; max-width: 56rem; height: 6rem; border: 1px solid #8884; }
  .legend span { margin-right: 1rem; } .legend .places { color: #1565c0; } .legend .orders { color: #43a047; }
  .muted { color: var(--muted); }
`;

const script = `
'use strict';
const pollMs = ${dashboardPollMs};
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const $ = (id) => document.getElementById(id);

function cell(row, field, text) {
  let td = row.querySelector('[data-field="' + field + '"]');
  if (td === null) {
    td = document.createElement('td');
    td.dataset.field = field;
    row.appendChild(td);
  }
  td.textContent = text;
  return td;
}

function rowFor(tbody, key, value) {
  let row = tbody.querySelector('tr[data-' + key + '="' + CSS.escape(String(value)) + '"]');
  if (row === null) {
    row = document.createElement('tr');
    row.dataset[key] = String(value);
    tbody.appendChild(row);
  }
  return row;
}

function prune(tbody, keep) {
  for (const row of [...tbody.rows]) if (!keep.has(row)) row.remove();
}

function latency(ms) {
  return ms === null ? '\\u2014' : ms.toFixed(2) + ' ms';
}

function renderSkus(stats) {
  const tbody = $('skus').tBodies[0];
  const keep = new Set();
  for (const sku of stats.skus) {
    const row = rowFor(tbody, 'sku', sku.skuId);
    keep.add(row);
    cell(row, 'sku', String(sku.skuId));
    cell(row, 'name', sku.name ?? '');
    cell(row, 'stock', integer.format(sku.stockTotal));
    cell(row, 'available', integer.format(sku.available));
    cell(row, 'reserved', integer.format(sku.reserved));
    cell(row, 'sold', integer.format(sku.sold));
    const barCell = cell(row, 'bar', '');
    const bar = document.createElement('div');
    bar.className = 'bar';
    for (const part of ['sold', 'reserved', 'available']) {
      const piece = document.createElement('div');
      piece.className = part;
      piece.style.width = (sku.stockTotal > 0 ? (100 * sku[part]) / sku.stockTotal : 0) + '%';
      bar.appendChild(piece);
    }
    barCell.appendChild(bar);
  }
  prune(tbody, keep);
  $('sku-note').textContent =
    stats.skuCount > stats.skus.length
      ? 'first ' + stats.skus.length + ' of ' + integer.format(stats.skuCount) + ' SKUs'
      : stats.skuCount === 0 ? 'no products yet' : '';
}

function renderAnswers(stats) {
  const tbody = $('answers').tBodies[0];
  const keep = new Set();
  const codes = Object.keys(stats.answersByCode).sort();
  for (const code of codes) {
    const row = rowFor(tbody, 'code', code);
    keep.add(row);
    cell(row, 'code', code);
    cell(row, 'count', integer.format(stats.answersByCode[code]));
  }
  prune(tbody, keep);
}

function drawSparkline(history) {
  const canvas = $('sparkline');
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext('2d');
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const places = history.placesPerSecond;
  const orders = history.ordersPerSecond;
  const peak = Math.max(1, ...places, ...orders);
  const line = (values, colour) => {
    g.strokeStyle = colour;
    g.lineWidth = 1.5;
    g.beginPath();
    values.forEach((v, i) => {
      const x = width - ((values.length - 1 - i) / Math.max(1, values.length - 1)) * width; // newest at the right
      const y = height - 2 - (v / peak) * (height - 4);
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.stroke();
  };
  line(places, '#1565c0');
  line(orders, '#43a047');
  $('sparkline-peak').textContent = 'peak ' + integer.format(peak) + '/s';
  const seconds = history.slotMs / 1000;
  const total = (values) => values.reduce((sum, v) => sum + v * seconds, 0);
  $('sparkline-totals').textContent =
    'last ' + Math.round((places.length * seconds) / 60) + ' min: ' +
    integer.format(total(places)) + ' answered, ' + integer.format(total(orders)) + ' placed';
}

function render(stats) {
  const w = stats.window;
  $('places-per-second').textContent = integer.format(w.placesPerSecond);
  $('orders-per-second').textContent = integer.format(w.ordersPerSecond);
  $('latency-p99').textContent = latency(w.latencyMsP99);
  $('latency-p50').textContent = 'p50 ' + latency(w.latencyMsP50) + ', max ' + latency(w.latencyMsMax);
  $('window').textContent = 'over the last ' + (w.windowMs / 1000).toFixed(1) + ' s';
  $('places-total').textContent = integer.format(stats.placesAnsweredTotal) + ' answered in all';
  $('orders-total').textContent = integer.format(stats.ordersPlacedTotal) + ' placed in all';
  $('connections').textContent = integer.format(stats.connections.open);
  $('connections-total').textContent =
    integer.format(stats.connections.openedTotal) + ' opened, ' +
    integer.format(stats.connections.closedTotal) + ' closed';
  renderSkus(stats);
  renderAnswers(stats);
  drawSparkline(stats.history);
  $('updated').textContent = new Date(stats.atMs).toLocaleTimeString();
}

function status(text, className) {
  const el = $('status');
  el.textContent = text;
  el.className = className;
}

async function poll() {
  try {
    const response = await fetch('/v1/dashboard', { cache: 'no-store' });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    render(await response.json());
    status('live', 'live');
  } catch (error) {
    status('not updating: ' + (error instanceof Error ? error.message : String(error)), 'down');
  } finally {
    setTimeout(poll, pollMs);
  }
}
poll();
`;

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stampede \u2014 live sale</title>
<link rel="icon" href="data:,">
<style>${style}</style>
</head>
<body>
<h1>Stampede \u2014 live sale</h1>
<div><span id="status">connecting\u2026</span> <span class="muted">updated <span id="updated">\u2014</span></span></div>
<div class="tiles">
  <div class="tile"><div class="label">place answers/s</div><div class="value" id="places-per-second">\u2014</div><div class="label" id="places-total"></div></div>
  <div class="tile"><div class="label">orders/s</div><div class="value" id="orders-per-second">\u2014</div><div class="label" id="orders-total"></div></div>
  <div class="tile"><div class="label">p99 place\u2192answer</div><div class="value" id="latency-p99">\u2014</div><div class="label" id="latency-p50"></div></div>
  <div class="tile"><div class="label">open connections</div><div class="value" id="connections">\u2014</div><div class="label" id="connections-total"></div></div>
</div>
<div class="muted">rates and latency <span id="window"></span></div>
<canvas id="sparkline"></canvas>
<div class="legend muted"><span class="places">\u25a0 place answers/s</span><span class="orders">\u25a0 orders/s</span><span id="sparkline-peak"></span><span id="sparkline-totals"></span></div>
<h2>Stock</h2>
<table id="skus">
  <thead><tr><th>SKU</th><th>name</th><th>stock</th><th>available</th><th>reserved</th><th>sold</th><th></th></tr></thead>
  <tbody></tbody>
</table>
<div class="muted" id="sku-note"></div>
<h2>Answers by code</h2>
<table id="answers">
  <thead><tr><th>code</th><th>count</th></tr></thead>
  <tbody></tbody>
</table>
<script>${script}</script>
</body>
</html>
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

export const dashboardPage = {
  html,
  /** Only this page's own script and style, and fetches back to this server. */
  contentSecurityPolicy: [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(style)}`,
    "connect-src 'self'",
    // The empty data: icon keeps the browser from asking this server for /favicon.ico.
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
} as const;
