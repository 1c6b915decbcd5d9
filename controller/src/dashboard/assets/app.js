// Rudder dashboard: classify photos through a pool's VIP, watch the load balancer's backends, switch a
// pool's algorithm, and see the switches, links and hosts. Plain JS, no framework, no inline handlers
// (the page's Content-Security-Policy allows only this file).
'use strict';

const TOKEN_KEY = 'rudder-api-token';
const THEME_KEY = 'rudder-theme';
const STATS_EVERY_MS = 1000;
const NETWORK_EVERY_MS = 3000;

const $ = (id) => document.getElementById(id);
let algorithms = [];
let lastStats = [];
let previewUrl = null;
const poolViews = new Map();   // pool name -> {root, summary, select, msg, tbody, busy, current}
const lastCounts = new Map();  // "pool/ip:port" -> {t, served, flows}

// el('td', {className: 'num', text: '3'}, child...) builds an element; no HTML strings anywhere.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'text') node.textContent = value;
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// An error's message from either error shape of the API: {"error", "field"} or {"error", "detail"}.
function errorText(status, body) {
  if (body && typeof body === 'object' && body.error) {
    let text = body.detail ? `${body.error}: ${body.detail}` : body.error;
    if (body.field) text += ` (field: ${body.field})`;
    return text;
  }
  return `HTTP ${status}${typeof body === 'string' && body ? `: ${body.slice(0, 200)}` : ''}`;
}

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && options.method && options.method !== 'GET') headers.set('Authorization', `Bearer ${token}`);
  const response = await fetch(path, { ...options, headers });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  if (!response.ok) {
    const error = new Error(errorText(response.status, body));
    error.status = response.status;
    throw error;
  }
  return body;
}

// ---- theme and token -------------------------------------------------------------------------------
function isDark() {
  const chosen = document.documentElement.dataset.theme;
  return chosen ? chosen === 'dark' : window.matchMedia('(prefers-color-scheme: dark)').matches;
}

function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  $('theme-toggle').setAttribute('aria-pressed', String(isDark()));
}

function setupChrome() {
  applyTheme(localStorage.getItem(THEME_KEY));
  $('theme-toggle').addEventListener('click', () => {
    const next = isDark() ? 'light' : 'dark';
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
  });
  const input = $('token-input');
  input.value = sessionStorage.getItem(TOKEN_KEY) || '';
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value.trim()) sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    else sessionStorage.removeItem(TOKEN_KEY);
  });
  $('token-clear').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    input.value = '';
  });
}

function setConnection(ok, text) {
  const status = $('conn-status');
  status.textContent = text;
  status.classList.toggle('bad', !ok);
}

// ---- classify ----------------------------------------------------------------------------------------
async function loadPoolChoices() {
  try {
    const pools = await api('/dashboard/api/pools');
    const select = $('pool-select');
    const keep = select.value;
    const names = pools.map((p) => p.name);
    if (names.join('\n') === [...select.options].map((o) => o.value).join('\n')) return;
    select.replaceChildren(...pools.map((p) => el('option', { value: p.name, text: `${p.name} (${p.via})` })));
    if (names.includes(keep)) select.value = keep;
  } catch (error) {
    if (!$('pool-select').options.length) $('classify-error').textContent = `No pools to classify with: ${error.message}`;
  }
}

async function classify(blob, label) {
  const pool = $('pool-select').value;
  const problem = $('classify-error');
  problem.textContent = '';
  if (!pool) {
    problem.textContent = 'No pool to classify with: the load balancer has no pools.';
    return;
  }
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(blob);
  $('preview').src = previewUrl;
  $('preview').alt = `The image being classified: ${label}`;
  $('result').hidden = false;
  $('served-by').textContent = `Classifying ${label} through pool ${pool}…`;
  $('predictions').replaceChildren();
  $('timings').textContent = '';
  try {
    const answer = await api(`/dashboard/api/classify?pool=${encodeURIComponent(pool)}&top_k=5`, {
      method: 'POST',
      headers: { 'Content-Type': blob.type || 'application/octet-stream' },
      body: blob,
    });
    showAnswer(answer, label);
  } catch (error) {
    $('served-by').textContent = `${label}: not classified`;
    problem.textContent = error.message;
  }
}

function showAnswer(answer, label) {
  const model = answer.model || {};
  $('served-by').textContent = `${label}: served by ${answer.node_id || 'an unnamed node'}`
    + ` (model ${model.name || '?'} ${model.version || ''}) via ${answer.via}`;
  const items = (answer.predictions || []).map((p) => {
    const percent = Math.max(0, Math.min(100, p.confidence * 100));
    const fill = el('span');
    fill.style.width = `${percent}%`;
    return el('li', {},
      el('div', { className: 'pred-row' }, el('span', { text: p.label }),
        el('span', { className: 'muted', text: `${percent.toFixed(1)}%` })),
      el('div', { className: 'bar', role: 'presentation' }, fill));
  });
  $('predictions').replaceChildren(...items);
  const parts = [`round trip ${Number(answer.elapsed_ms).toFixed(1)} ms`];
  for (const [key, value] of Object.entries(answer.timings_ms || {})) {
    if (typeof value === 'number') parts.push(`${key.replaceAll('_', ' ')} ${value.toFixed(1)} ms`);
  }
  $('timings').textContent = parts.join(' · ');
}

function setupUpload() {
  const input = $('file-input');
  const zone = $('drop-zone');
  input.addEventListener('change', () => {
    if (input.files.length) classify(input.files[0], input.files[0].name);
    input.value = '';
  });
  zone.addEventListener('click', () => input.click());
  zone.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      input.click();
    }
  });
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    const file = event.dataTransfer.files[0];
    if (file) classify(file, file.name);
  });
}

async function loadSamples() {
  const note = $('samples-note');
  try {
    const samples = await api('/dashboard/api/samples');
    note.textContent = samples.length ? '' : 'No sample photos found.';
    $('samples').replaceChildren(...samples.map((s) => {
      const button = el('button', { type: 'button', title: s.expected.length ? `Expected: ${s.expected.join(', ')}` : s.name },
        el('img', { src: s.url, alt: '', loading: 'lazy' }), el('span', { text: s.name }));
      button.setAttribute('aria-label', `Classify sample ${s.name}`);
      button.addEventListener('click', async () => {
        try {
          const response = await fetch(s.url);
          if (!response.ok) throw new Error(`sample ${s.name}: HTTP ${response.status}`);
          classify(await response.blob(), s.name);
        } catch (error) {
          $('classify-error').textContent = error.message;
        }
      });
      return el('li', {}, button);
    }));
  } catch (error) {
    note.textContent = `Samples unavailable: ${error.message}`;
  }
}

// ---- pools and backends ---------------------------------------------------------------------------
function badge(state) {
  const value = state || 'unknown';
  return el('span', { className: `badge ${value}`, text: value.replace('_', ' ') });
}

function number(value, digits = 0) {
  return value === null || value === undefined ? '–' : Number(value).toFixed(digits);
}

function requestRate(pool, b, now) {
  const key = `${pool}/${b.ip}:${b.port}`;
  const previous = lastCounts.get(key);
  lastCounts.set(key, { t: now, served: b.requests_served, flows: b.total_flows });
  if (!previous || now - previous.t < 100) return null;
  const seconds = (now - previous.t) / 1000;
  if (b.requests_served != null && previous.served != null) {
    return { rate: Math.max(0, b.requests_served - previous.served) / seconds, from: 'requests the node served' };
  }
  return { rate: Math.max(0, b.total_flows - previous.flows) / seconds, from: 'new flows (node count unknown)' };
}

function poolView(name) {
  let view = poolViews.get(name);
  if (view) return view;
  const selectId = `alg-${poolViews.size}`;
  const select = el('select', { id: selectId });
  select.dataset.pool = name;
  select.replaceChildren(...algorithms.map((a) => el('option', { value: a, text: a.replaceAll('_', ' ') })));
  const tbody = el('tbody');
  const header = ['Backend', 'Health', 'Breaker', 'Share of flows', 'Active', 'Flows', 'Req/s', 'Probe ms', 'p50 ms', 'Queue', 'Last probe'];
  view = {
    summary: el('span', { className: 'muted' }),
    msg: el('p', { className: 'pool-msg', role: 'status' }),
    select, tbody, busy: false, current: null,
  };
  view.root = el('div', { className: 'pool' },
    el('div', { className: 'pool-head' }, el('h3', { text: `Pool ${name}` }), view.summary,
      el('label', { htmlFor: selectId, text: 'Algorithm' }), select),
    view.msg,
    el('div', { className: 'table-wrap' }, el('table', {},
      el('caption', { text: `Backends of pool ${name}` }),
      el('thead', {}, el('tr', {}, ...header.map((h) => el('th', { scope: 'col', text: h })))),
      tbody)));
  select.addEventListener('change', () => setAlgorithm(name, view));
  poolViews.set(name, view);
  $('pools').append(view.root);
  return view;
}

async function setAlgorithm(name, view) {
  const wanted = view.select.value;
  view.busy = true;
  view.msg.className = 'pool-msg';
  view.msg.textContent = `Switching to ${wanted}…`;
  try {
    await api(`/lb/pools/${encodeURIComponent(name)}/algorithm`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ algorithm: wanted }),
    });
    view.current = wanted;
    view.msg.className = 'pool-msg ok';
    view.msg.textContent = `Algorithm is now ${wanted}; new flows follow it, existing flows stay.`;
  } catch (error) {
    view.select.value = view.current;
    view.msg.className = 'pool-msg bad';
    view.msg.textContent = error.status === 401
      ? 'Not allowed: paste the API token (top right) and try again.'
      : `Could not switch the algorithm: ${error.message}`;
  } finally {
    view.busy = false;
  }
}

function backendRow(pool, b, now) {
  const share = Math.max(0, Math.min(1, b.share || 0)) * 100;
  const fill = el('span');
  fill.style.width = `${share}%`;
  const rate = requestRate(pool, b, now);
  const who = [b.node_id, b.model_version].filter(Boolean).join(' · ');
  return el('tr', {},
    el('th', { scope: 'row' }, `${b.ip}:${b.port}`, el('br'), el('span', { className: 'muted', text: who })),
    el('td', {}, badge(b.health)),
    el('td', {}, badge(b.breaker)),
    el('td', {}, el('div', { className: 'share' },
      el('div', { className: 'bar', role: 'presentation' }, fill), el('span', { text: `${share.toFixed(0)}%` }))),
    el('td', { className: 'num', text: number(b.active_flows) }),
    el('td', { className: 'num', text: number(b.total_flows) }),
    el('td', { className: 'num', text: rate ? rate.rate.toFixed(1) : '–', title: rate ? `from ${rate.from}` : '' }),
    el('td', { className: 'num', text: number(b.probe_latency_ms, 1) }),
    el('td', { className: 'num', text: number(b.reported_p50_ms, 1) }),
    el('td', { className: 'num', text: number(b.queue_depth) }),
    el('td', { text: b.last_probe || '–' }));
}

function renderPools(pools) {
  const now = performance.now();
  const seen = new Set();
  for (const pool of pools) {
    seen.add(pool.name);
    const view = poolView(pool.name);
    // A transition: the old switch-side rules still carry the connections made under them.
    const t = pool.transition;
    view.summary.textContent = `VIP ${pool.vip} · ports ${pool.ports.join(', ')} · ${pool.active_flows} active`
      + ` / ${pool.total_flows} flows · ${pool.packet_ins} packet-ins`
      + (pool.steering === 'conntrack' ? ' · pinned by the switch\'s connection tracker' : '')
      + (t ? ` · moving from ${t.from} to ${t.to}: ${t.rules_left} old rules carry open connections` : '');
    if (!view.busy && document.activeElement !== view.select) {
      view.current = pool.algorithm;
      view.select.value = pool.algorithm;
    }
    view.tbody.replaceChildren(...pool.backends.map((b) => backendRow(pool.name, b, now)));
  }
  for (const [name, view] of poolViews) {
    if (!seen.has(name)) {
      view.root.remove();
      poolViews.delete(name);
    }
  }
  $('pools-note').textContent = pools.length ? '' : 'The load balancer has no pools.';
}

async function pollStats() {
  try {
    const stats = await api('/lb/stats');
    lastStats = stats.pools || [];
    renderPools(lastStats);
    setConnection(true, `Connected · updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    if (error.status === 404) {
      setConnection(true, `Connected · updated ${new Date().toLocaleTimeString()}`);
      $('pools-note').textContent = 'The load balancer is not running (add "lb" to the controller\'s apps).';
    } else {
      setConnection(false, `Controller unreachable: ${error.message}`);
    }
  } finally {
    setTimeout(pollStats, STATS_EVERY_MS);
  }
}

// ---- network ------------------------------------------------------------------------------------------
const switchName = (dpid) => `s${Number.parseInt(dpid, 16)}`;

async function readNetwork() {
  try {
    const [switches, links, hosts] = await Promise.all(
      ['switches', 'links', 'hosts'].map((what) => api(`/v1.0/topology/${what}`)));
    return { switches, links, hosts, source: 'the topology app' };
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  const dpids = await api('/stats/switches');
  const switches = dpids.map((d) => ({ dpid: BigInt(d).toString(16).padStart(16, '0'), ports: [] }));
  const hosts = lastStats.flatMap((p) => p.backends).map((b) => ({
    mac: b.mac, ipv4: [b.ip], port: switches.length === 1 ? { dpid: switches[0].dpid, port_no: '?' } : null,
  }));
  return { switches, links: [], hosts, source: '/stats/switches and the load balancer\'s backends' };
}

function renderNetwork({ switches, links, hosts, source }) {
  const backends = new Map(lastStats.flatMap((p) => p.backends).map((b) => [b.ip, b]));
  const width = Math.max(360, switches.length * 120);
  const perSwitch = new Map(switches.map((s) => [s.dpid, []]));
  const loose = [];
  for (const h of hosts) (h.port && perSwitch.get(h.port.dpid) ? perSwitch.get(h.port.dpid) : loose).push(h);
  const tallest = Math.max(1, ...[...perSwitch.values()].map((list) => list.length), loose.length);
  const height = 90 + tallest * 46;
  const box = $('net-svg');
  box.setAttribute('viewBox', `0 0 ${width} ${height}`);
  box.setAttribute('width', width);
  box.setAttribute('height', height);
  box.toggleAttribute('hidden', switches.length === 0);
  const xOf = new Map(switches.map((s, i) => [s.dpid, ((i + 0.5) * width) / switches.length]));
  const shapes = [];
  const items = [];
  const pairs = new Set();
  for (const link of links) {
    const key = [link.src.dpid, link.dst.dpid].sort().join('-');
    if (pairs.has(key)) continue;
    pairs.add(key);
    shapes.push(svg('line', { class: 'trunk', x1: xOf.get(link.src.dpid), y1: 40, x2: xOf.get(link.dst.dpid), y2: 40 }));
    items.push(`Link ${switchName(link.src.dpid)} port ${Number.parseInt(link.src.port_no, 16)} ↔ `
      + `${switchName(link.dst.dpid)} port ${Number.parseInt(link.dst.port_no, 16)}`);
  }
  const placeHosts = (list, x) => list.forEach((h, i) => {
    const ip = (h.ipv4 || [])[0] || h.mac;
    const b = backends.get(ip);
    const y = 100 + i * 46;
    if (x !== null) shapes.push(svg('line', { x1: x, y1: 52, x2: x, y2: y - 12 }));
    const hx = x === null ? 70 + i * 130 : x;
    const group = svg('g', {});
    group.append(svg('title', {}, b ? `${ip}: ${b.node_id || 'backend'}, ${b.health}` : ip),
      svg('circle', { cx: hx, cy: y, r: 11, class: b ? b.health : '' }),
      svg('text', { x: hx, y: y + 26 }, b && b.node_id ? `${b.node_id} ${ip}` : ip));
    shapes.push(group);
    const where = h.port ? ` on ${switchName(h.port.dpid)}` : '';
    const mac = h.mac ? ` (${h.mac})` : '';
    items.push(`Host ${ip}${mac}${where}${b ? ` — backend ${b.node_id || ''} ${b.health}` : ''}`);
  });
  for (const s of switches) {
    const x = xOf.get(s.dpid);
    placeHosts(perSwitch.get(s.dpid), x);
    const group = svg('g', {});
    group.append(svg('title', {}, `Switch ${s.dpid}`), svg('rect', { x: x - 28, y: 26, width: 56, height: 28, rx: 6 }),
      svg('text', { x, y: 45, class: 'on-switch' }, switchName(s.dpid)));
    shapes.push(group);
    items.unshift(`Switch ${switchName(s.dpid)} (dpid ${s.dpid}, ${s.ports.length} ports)`);
  }
  placeHosts(loose, null);
  box.replaceChildren(...shapes);
  $('net-list').replaceChildren(...items.map((text) => el('li', { text })));
  $('net-note').textContent = switches.length
    ? `${switches.length} switch(es), ${pairs.size} link(s), ${hosts.length} host(s), from ${source}.`
    : 'No switch is connected.';
}

async function pollNetwork() {
  try {
    renderNetwork(await readNetwork());
  } catch (error) {
    $('net-note').textContent = `Network view unavailable: ${error.message}`;
  } finally {
    setTimeout(pollNetwork, NETWORK_EVERY_MS);
    loadPoolChoices();
  }
}

// ---- start ------------------------------------------------------------------------------------------------
async function start() {
  setupChrome();
  setupUpload();
  try {
    algorithms = (await api('/dashboard/api/info')).algorithms;
  } catch (error) {
    setConnection(false, `Controller unreachable: ${error.message}`);
  }
  await loadPoolChoices();
  loadSamples();
  pollStats();
  pollNetwork();
}

document.addEventListener('DOMContentLoaded', start);
