/**
 * The dashboard's one page: HTML, its style and its script, all inline (no request leaves the
 * coordinator's origin). The script reads the client API (`/api/v1/status`, `attestation`,
 * `manifest`, `activations`, `update`, and `history` where the coordinator has one) every few
 * seconds and builds the page with `textContent` only: whatever a manifest holds is shown as
 * text, never parsed as HTML (the Content-Security-Policy of dashboard.ts forbids such sinks).
 */

export const DASHBOARD_STYLE = `
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6473; --line: #d9dee7; --panel: #ffffff; --back: #f3f5f9; --sim: #b3261e; --ok: #1e7b34; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--back); }
header { display: flex; align-items: center; gap: 12px; padding: 14px 24px; background: #1d2330; color: #fff; }
header h1 { margin: 0; font-size: 18px; font-weight: 600; }
header .where { color: #b8c0cc; font-family: ui-monospace, monospace; }
header .refreshed { margin-left: auto; color: #b8c0cc; font-size: 12px; }
.banner { padding: 8px 24px; background: var(--sim); color: #fff; font-weight: 600; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; padding: 16px 24px 32px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { display: flex; align-items: center; gap: 8px; margin: 0 0 10px; font-size: 15px; }
.sim { display: inline-block; padding: 1px 7px; border-radius: 4px; background: var(--sim); color: #fff; font-size: 11px; font-weight: 700; letter-spacing: .04em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
table { width: 100%; border-collapse: collapse; margin-top: 6px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: break-word; }
th { color: var(--muted); font-weight: 600; font-size: 12px; white-space: nowrap; }
td.mono { overflow-wrap: anywhere; }
td.count { font-variant-numeric: tabular-nums; font-weight: 600; }
.status-UpToDate { color: var(--ok); font-weight: 600; }
.status-other { color: var(--warn); font-weight: 600; }
.note { color: var(--muted); font-size: 12.5px; margin: 10px 0 0; }
.command { display: block; margin-top: 4px; padding: 6px 8px; background: var(--back); border-radius: 4px; overflow-wrap: anywhere; }
.error { color: var(--sim); }
`;

export const DASHBOARD_SCRIPT = `
'use strict';
const REFRESH_MS = 2000;

function node(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, value);
  for (const child of children) element.append(child instanceof Node ? child : String(child));
  return element;
}

async function get(path) {
  const response = await fetch(path, { cache: 'no-store', headers: { accept: 'application/json' } });
  let body;
  try {
    body = JSON.parse(await response.text());
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
}

function heading(text, simulation) {
  return node('h2', {}, text, ...(simulation ? [node('span', { class: 'sim', 'data-label': 'simulation' }, 'SIMULATION')] : []));
}

function list(rows) {
  const dl = node('dl');
  for (const [label, field, value, className] of rows)
    dl.append(node('dt', {}, label), node('dd', { 'data-field': field, ...(className ? { class: className } : {}) }, value));
  return dl;
}

function table(columns, rows, key) {
  const head = node('tr', {}, ...columns.map(([label]) => node('th', {}, label)));
  const body = rows.map((row) =>
    node('tr', key ? { 'data-row': key(row) } : {}, ...columns.map(([, field, value, className]) =>
      node('td', { 'data-field': field, ...(className ? { class: className } : {}) }, value(row)))),
  );
  return node('table', {}, node('thead', {}, head), node('tbody', {}, ...body));
}

const text = (value) => (value === undefined || value === null ? '—' : typeof value === 'object' ? JSON.stringify(value) : String(value));

function decodeManifest(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function attestationView(a, status) {
  const simulation = a.simulation === true;
  const identity = Object.entries(a.identity || {});
  const pinFlags = simulation
    ? ' --simulation'
    : a.identity && a.identity.mrenclave
      ? ' --mrenclave ' + a.identity.mrenclave
      : '';
  return [
    heading('Attestation', simulation),
    list([
      ['Platform', 'attestation.tee', a.tee + (simulation ? ' (simulated platform: no hardware protection)' : '')],
      ['TCB status', 'attestation.tcbStatus', a.tcbStatus, a.tcbStatus === 'UpToDate' ? 'status-UpToDate' : 'status-other'],
      ['Advisories', 'attestation.advisoryIds', (a.advisoryIds || []).join(', ') || 'none'],
      ...identity.map(([name, value]) => [name, 'attestation.identity.' + name, text(value), 'mono']),
      ['Root certificate', 'attestation.root.subject', a.root.subject],
      ['Root SHA-256', 'attestation.root.sha256', a.root.sha256, 'mono'],
      ['State', 'status.status', status.status],
    ]),
    node('p', { class: 'note' },
      'cloister verify pins this root certificate (compare its SHA-256 above with openssl x509 -fingerprint -sha256 -in the pinned file). This page is served by the coordinator it describes: it proves nothing by itself. Attest it yourself:',
      node('code', { class: 'command', 'data-field': 'attestation.command' }, 'cloister verify --coordinator ' + location.host + pinFlags)),
  ];
}

function manifestView(m, activations, update, simulation) {
  if (!m) return [heading('Manifest', simulation), node('p', { 'data-field': 'manifest.fingerprint' }, 'No manifest is set: the coordinator accepts one (cloister manifest set).')];
  const doc = decodeManifest(m.manifest);
  const packages = Object.entries(doc.Packages || {});
  const services = Object.entries(doc.Marbles || {});
  const identityOf = (p) => p.UniqueID ? 'UniqueID ' + p.UniqueID : p.SignerID ? 'SignerID ' + p.SignerID + ' ProductID ' + text(p.ProductID) + ' SecurityVersion ' + text(p.SecurityVersion) : p.MRTD ? 'MRTD ' + p.MRTD : p.Measurement ? 'Measurement ' + p.Measurement : '—';
  return [
    heading('Enforced manifest', simulation),
    list([
      ['Fingerprint', 'manifest.fingerprint', m.fingerprint, 'mono'],
      ['Pending update', 'manifest.update', update ? update.fingerprint + ' (acknowledged by ' + (update.acknowledged.join(', ') || 'no one') + '; waiting for ' + (update.missing.join(', ') || 'no one') + ')' : 'none'],
    ]),
    node('h3', {}, 'Services'),
    table([
      ['Service', 'service', ([name]) => name],
      ['Package', 'package', ([, s]) => text(s.Package)],
      ['Activations', 'activations', ([name]) => text(activations[name] ?? 0), 'count'],
      ['Max', 'maxActivations', ([, s]) => (s.MaxActivations ? String(s.MaxActivations) : 'unlimited')],
    ], services, ([name]) => name),
    node('h3', {}, 'Packages'),
    table([
      ['Package', 'package', ([name]) => name],
      ['TEE', 'tee', ([, p]) => text(p.TEE || 'sgx')],
      ['Identity', 'identity', ([, p]) => identityOf(p), 'mono'],
      ['Debug', 'debug', ([, p]) => (p.Debug ? 'yes' : 'no')],
    ], packages, ([name]) => name),
  ];
}

/** The fields of a history entry in the order shown; others follow, except the link to the entry before. */
const HISTORY_FIELDS = ['seq', 'time', 'kind', 'by', 'manifest', 'details', 'hash'];

function historyCell(name, value) {
  if (name === 'time' && typeof value === 'number') return new Date(value * 1000).toISOString();
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(', ') || '—';
  if (typeof value === 'string' && /^[0-9a-f]{64}$/.test(value)) return value.slice(0, 16) + '…';
  return text(value);
}

function historyView(body, simulation) {
  const entries = Array.isArray(body) ? body : (body && Array.isArray(body.entries) ? body.entries : Object.values(body || {}).find(Array.isArray)) || [];
  const shown = entries.slice(-50).reverse();
  const present = new Set(shown.flatMap((entry) => (entry && typeof entry === 'object' ? Object.keys(entry) : [])));
  const columns = [...HISTORY_FIELDS.filter((name) => present.has(name)), ...[...present].filter((name) => !HISTORY_FIELDS.includes(name) && name !== 'prev')];
  const head = body && body.head && typeof body.head === 'object' ? body.head : undefined;
  return [
    heading('History', simulation),
    node('p', { class: 'note', 'data-field': 'history.count' }, entries.length + ' entries' + (entries.length > shown.length ? ', the latest ' + shown.length + ' shown' : '') + ', newest first' + (head && head.hash ? '; head ' + String(head.hash).slice(0, 16) + '… (check it with cloister history verify)' : '')),
    table(columns.map((name) => [name, name, (entry) => historyCell(name, entry[name]), name === 'details' || name === 'hash' || name === 'manifest' ? 'mono' : '']), shown),
  ];
}

async function refresh() {
  const [status, attestation, manifest, activations, update, history] = await Promise.all(
    ['/api/v1/status', '/api/v1/attestation', '/api/v1/manifest', '/api/v1/activations', '/api/v1/update', '/api/v1/history'].map(get),
  );
  if (status.status !== 200 || attestation.status !== 200) throw new Error('the coordinator answered ' + status.status + ' to /api/v1/status and ' + attestation.status + ' to /api/v1/attestation');
  const simulation = attestation.body.simulation === true || status.body.simulation === true;
  document.title = 'cloister coordinator' + (simulation ? ' (SIMULATION)' : '');
  document.getElementById('banner').hidden = !simulation;
  document.getElementById('attestation').replaceChildren(...attestationView(attestation.body, status.body));
  document.getElementById('manifest').replaceChildren(
    ...manifestView(manifest.status === 200 ? manifest.body : undefined, activations.status === 200 ? activations.body.activations : {}, update.status === 200 ? update.body : undefined, simulation),
  );
  const historySection = document.getElementById('history');
  // The history section exists where the coordinator serves GET /api/v1/history.
  historySection.hidden = history.status !== 200;
  if (history.status === 200) historySection.replaceChildren(...historyView(history.body, simulation));
  document.getElementById('refreshed').textContent = 'updated ' + new Date().toLocaleTimeString();
  document.getElementById('error').textContent = '';
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
}

async function loop() {
  try {
    await refresh();
  } catch (error) {
    document.getElementById('error').textContent = 'cannot read the coordinator: ' + (error instanceof Error ? error.message : String(error));
  }
  setTimeout(loop, REFRESH_MS);
}

document.getElementById('where').textContent = location.host;
loop();
`;

/** The page; the style and the script are the constants above, verbatim (the policy names their hashes). */
export function dashboardHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>cloister coordinator</title>
<style>${DASHBOARD_STYLE}</style>
</head>
<body>
<header><h1>cloister coordinator</h1><span class="where" id="where"></span><span class="refreshed" id="refreshed">loading…</span></header>
<div class="banner" id="banner" data-label="simulation" hidden>SIMULATION: this coordinator and its services run on the simulated platform. Nothing here is protected by hardware.</div>
<p class="error" id="error"></p>
<main>
<section id="attestation"><h2>Attestation</h2><p>loading…</p></section>
<section id="manifest"><h2>Enforced manifest</h2><p>loading…</p></section>
<section id="history" class="wide" hidden></section>
</main>
<noscript>This page needs JavaScript (inline, served by the coordinator itself). The same data: GET /api/v1/status, /api/v1/attestation, /api/v1/manifest, /api/v1/activations.</noscript>
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
}
