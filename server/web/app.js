// The page: recent runs at /, kept current, a session's runs drawn live
// at /s/SESSION.
// Data from the JSON API and the session's event stream (docs/http.md).
'use strict';

const ROWS_MAX = 200;          // orders drawn one row each; more are counted
const params = new URLSearchParams(location.search);
if (params.get('token')) sessionStorage.setItem('baedal-token', params.get('token'));
const token = sessionStorage.getItem('baedal-token');
const match = location.pathname.match(/^\/s\/([0-9a-fA-F]{32})$/);
let session = match ? match[1].toLowerCase() : null;
const runs = new Map();        // run id -> { info, orders: Map idx -> order, seen, lastT, lastAt }
let stream = null;
const stalls = new Map();      // one per stall of the loop: { id, held_us, cause, run, order, wall_us }

function $(id) { return document.getElementById(id); }
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }
function withToken(url) {
  return token ? url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : url;
}
async function api(url, opts) {
  opts = opts || {};
  opts.headers = Object.assign({}, opts.headers, token ? { Authorization: 'Bearer ' + token } : {});
  const res = await fetch(url, opts);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(body.message || res.statusText), { code: body.error, status: res.status });
  return body;
}
function secs(us) {
  if (us === null || us === undefined) return '-';
  return us >= 1e6 || us === 0 ? (us / 1e6).toFixed(2) + ' s' : (us / 1e3).toFixed(1) + ' ms';
}

// ---- the model --------------------------------------------------------

function runOf(info) {
  let r = runs.get(info.run);
  if (!r) {
    r = { info, orders: new Map(), steps: {}, lastT: 0, lastAt: performance.now() };
    runs.set(info.run, r);
  } else {
    r.info = Object.assign(r.info, info);
  }
  return r;
}
function orderOf(r, idx, name) {
  let o = r.orders.get(idx);
  if (!o) {
    o = { order: idx, name: name || String(idx), meal_us: 0, cook_us: 0, steps: {} };
    r.orders.set(idx, o);
  }
  return o;
}
function noteStep(r, o, step, t) {
  if (o.steps[step] === undefined) r.steps[step] = (r.steps[step] || 0) + 1;
  o.steps[step] = t;
  if (t > r.lastT) { r.lastT = t; r.lastAt = performance.now(); }
}
// A stall comes live (its id the server's) and again with a stored run
// (its id the table's): the same stall by its start and hold.
function noteStall(st) {
  const key = st.wall_us !== null && st.wall_us !== undefined ? st.wall_us + ':' + st.held_us : 'id' + st.id;
  if (!stalls.has(key)) stalls.set(key, st);
}
async function loadRun(id) {
  const d = await api('/api/runs/' + id);
  const r = runOf(d.run);
  for (const st of d.stalls || []) noteStall(st);
  for (const o of d.orders) {
    const m = orderOf(r, o.order, o.name);
    m.meal_us = o.meal_us;
    m.cook_us = o.cook_us;
    for (const [step, t] of Object.entries(o.steps)) noteStep(r, m, step, t);
  }
  return r;
}

// ---- drawing ------------------------------------------------------------

// A running run's clock goes on between its events.
function clockOf(r) {
  if (r.info.elapsed_us !== null && r.info.elapsed_us !== undefined) return r.info.elapsed_us;
  if (r.info.status !== 'running') return r.lastT;
  return r.lastT + (performance.now() - r.lastAt) * 1000;
}
// The last state an order reached, by the steps' order of the protocol.
function statusOf(o) {
  let last = 'waiting', lastT = -1;
  for (const [step, t] of Object.entries(o.steps)) if (t >= lastT) { last = step; lastT = t; }
  return last;
}
function bar(track, cls, from, to, span, title) {
  const b = el('div', 'bar ' + cls);
  b.style.left = (100 * from / span) + '%';
  b.style.width = Math.max(0, 100 * (to - from) / span) + '%';
  if (title) b.title = title;
  track.appendChild(b);
}
function drawOrder(box, r, o, span, now) {
  const row = el('div', 'row order');
  row.dataset.order = o.name;
  row.dataset.status = statusOf(o);
  row.appendChild(el('span', 'name', o.name));
  const track = el('div', 'track');
  const s = o.steps, cooked = s.cooked, d = s.delivered, e = s.eaten;
  const cook = o.cook_us && cooked !== undefined ? Math.max(0, cooked - o.cook_us) : undefined;
  const first = cook !== undefined ? cook : d;
  bar(track, 'waiting', 0, first !== undefined ? first : now, span, 'waiting');
  if (cook !== undefined) bar(track, r.info.mode === 'async' ? 'blocked' : 'cooking', cook, cooked, span, 'cooking');
  if (d !== undefined) bar(track, e !== undefined ? 'eating' : 'eating open', d, e !== undefined ? e : now, span, 'eating ' + secs(o.meal_us));
  if (s.collected !== undefined) bar(track, 'collected', s.collected, s.collected, span, 'collected');
  row.appendChild(track);
  box.appendChild(row);
}
// A large run: counts per step, never a row per order.
function drawAggregate(box, r) {
  const p = el('p', 'agg');
  const parts = Object.entries(r.steps).map(([k, v]) => k + ' ' + v);
  p.textContent = plural(r.info.orders, 'order') + ': ' + (parts.join(', ') || 'none started');
  box.appendChild(p);
}
function stallText(st) {
  const r = runs.get(st.run);
  const why = st.cause === 'cook' ? (r ? r.info.mode + "'s" : 'a') + ' cook of run ' + st.run + ' order ' + st.order
    : st.cause === 'start' ? 'the start of run ' + st.run
    : st.cause === 'line' ? "a client's line" : st.cause;
  return 'loop stalled ' + st.held_ms.toFixed(0) + ' ms: ' + why;
}
// The stalls on r's clock: each held every timer of the run.
function stallsOf(r, span) {
  const out = [];
  for (const st of stalls.values()) {
    if (st.wall_us === null || st.wall_us === undefined || !r.info.started_wall_us) continue;
    const from = st.wall_us - r.info.started_wall_us, to = from + st.held_us;
    if (to > 0 && from < span) out.push({ st, from: Math.max(0, from), to: Math.min(span, to) });
  }
  return out;
}
function drawLoop(box, r, span) {
  const list = stallsOf(r, Math.max(span, clockOf(r)));
  if (!list.length) return;
  const row = el('div', 'row loop');
  row.appendChild(el('span', 'name', 'loop'));
  const track = el('div', 'track');
  for (const { st, from, to } of list) bar(track, 'stall', from, to, span, stallText(st));
  row.appendChild(track);
  box.appendChild(row);
}
function drawAxis(box, span) {
  const axis = el('div', 'axis');
  const step = [1, 2, 5, 10].map(m => m * Math.pow(10, Math.floor(Math.log10(span / 10)))).find(t => span / t <= 10) || span;
  for (let t = 0; t <= span; t += step) {
    const s = el('span', '', secs(t));
    s.style.left = (100 * t / span) + '%';
    axis.appendChild(s);
  }
  box.appendChild(axis);
}
function drawGroup(list, span) {
  const box = el('div', 'group');
  for (const r of list) {
    const sec = el('section', 'run');
    sec.dataset.run = r.info.run;
    sec.dataset.status = r.info.status;
    const h = el('h3', '', 'run ' + r.info.run + ' · ' + r.info.mode + ' · ' + plural(r.info.orders, 'order') + ' · ' + r.info.status);
    h.appendChild(el('span', 'clock', secs(clockOf(r))));
    sec.appendChild(h);
    const now = clockOf(r);
    if (r.info.orders > ROWS_MAX) drawAggregate(sec, r);
    else for (const o of [...r.orders.values()].sort((a, b) => a.order - b.order)) drawOrder(sec, r, o, span, now);
    drawLoop(sec, r, span);
    box.appendChild(sec);
  }
  drawAxis(box, span);
  return box;
}
function drawTotals() {
  const body = $('totals').tBodies[0];
  body.textContent = '';
  for (const r of [...runs.values()].sort((a, b) => a.info.run - b.info.run)) {
    const i = r.info, tr = el('tr');
    tr.dataset.run = i.run;
    tr.dataset.status = i.status;
    const speed = i.elapsed_us ? ((i.sum_us + i.cook_us) / i.elapsed_us).toFixed(2) + '×' : '-';
    for (const v of [i.run, i.mode, i.orders, i.status, secs(i.elapsed_us), secs(i.ideal_us), secs(i.sum_us), speed, i.blocked_us ? secs(i.blocked_us) : '-'])
      tr.appendChild(el('td', '', String(v)));
    body.appendChild(tr);
  }
  $('totals-box').hidden = runs.size === 0;
  drawStalls();
}
function drawStalls() {
  const list = [...stalls.values()].sort((a, b) => (a.wall_us || 0) - (b.wall_us || 0));
  const n = list.length;
  $('stalls').textContent = n ? 'The loop stalled ' + n + (n === 1 ? ' time: ' : ' times: ') + list.map(st => st.held_ms.toFixed(0) + ' ms').join(', ') + '.' : '';
  const ul = $('stall-list');
  ul.textContent = '';
  for (const st of list) ul.appendChild(el('li', 'stall', stallText(st)));
}
function draw() {
  const live = $('live');
  live.textContent = '';
  const groups = new Map();
  for (const r of [...runs.values()].sort((a, b) => a.info.run - b.info.run)) {
    const key = r.info.group || 'run' + r.info.run;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  for (const list of [...groups.values()].reverse()) {
    const span = Math.max(1, ...list.map(clockOf));
    live.appendChild(drawGroup(list, span));
  }
  drawTotals();
}

// ---- live ----------------------------------------------------------------

const pending = new Set();
function onEvent(msg) {
  const ev = JSON.parse(msg.data);
  const r = runs.get(ev.run);
  if (!r) {
    // A run this page has not seen: its description first (it is stored
    // before its first event), then its events come in order anyway.
    if (!pending.has(ev.run)) {
      pending.add(ev.run);
      loadRun(ev.run).catch(showError).finally(() => pending.delete(ev.run));
    }
    return;
  }
  noteStep(r, orderOf(r, ev.order, ev.name), ev.step, ev.t);
}
function onDone(msg) {
  const d = JSON.parse(msg.data);
  const r = runs.get(d.run);
  if (r) r.info.status = d.status;
  // The stored totals (the DONE line's are the same, named for the wire).
  loadRun(d.run).then(draw).catch(showError);
}
function onStall(msg) {
  noteStall(JSON.parse(msg.data));
  draw();
}
function onLagged(msg) {
  // Some events were not sent: the database has them all.
  for (const id of runs.keys()) loadRun(id).catch(showError);
  void msg;
}
function watch() {
  if (stream) stream.close();
  stream = new EventSource(withToken('/events?session=' + session));
  stream.addEventListener('ev', onEvent);
  stream.addEventListener('done', onDone);
  stream.addEventListener('stall', onStall);
  stream.addEventListener('lagged', onLagged);
  stream.onerror = () => {
    if (stream.readyState === EventSource.CLOSED) showError(new Error('the live stream closed (the session may have expired); its runs are below'));
  };
}
async function openSession(id) {
  session = id;
  $('where').textContent = 'session ' + id;
  $('recent-box').hidden = true;
  const list = await api('/api/runs?session=' + id);
  for (const info of list.runs.reverse()) await loadRun(info.run);
  draw();
  watch();
}

// ---- recent runs -----------------------------------------------------------

function link(text, href) {
  const a = el('a', '', text);
  a.href = withToken(href);
  return a;
}
function drawRecent(list) {
  const body = $('recent').tBodies[0];
  body.textContent = '';
  for (const i of list) {
    const tr = el('tr');
    tr.dataset.run = i.run;
    tr.dataset.status = i.status;
    for (const v of [i.run, i.mode, i.orders, i.status, secs(i.elapsed_us)]) tr.appendChild(el('td', '', String(v)));
    const s = el('td', 'session');
    s.appendChild(link(i.session.slice(0, 8) + '…', '/s/' + i.session));
    tr.appendChild(s);
    const ex = el('td');
    ex.appendChild(link('svg', '/api/runs/' + i.run + '/timeline.svg'));
    ex.appendChild(document.createTextNode(' '));
    ex.appendChild(link('trace', '/api/runs/' + i.run + '/trace.json'));
    tr.appendChild(ex);
    body.appendChild(tr);
  }
  $('recent-box').hidden = false;
}
// The list follows every session's runs: no event stream covers them all,
// so it is asked for again every RECENT_POLL_MS while the page is visible,
// and redrawn only when it changed (a link being clicked stays put).
const RECENT_POLL_MS = 2000;
let recentShown = null, recentTimer = null, recentBusy = false, recentFailed = false;
async function showRecent() {
  const list = await api('/api/runs');
  const text = JSON.stringify(list.runs);
  if (!session && text !== recentShown) {
    recentShown = text;
    drawRecent(list.runs);
  }
}
async function pollRecent() {
  clearTimeout(recentTimer);
  recentTimer = null;
  if (session || document.hidden || recentBusy) return;
  recentBusy = true;
  try {
    await showRecent();
    if (recentFailed) showError(null);
    recentFailed = false;
  } catch (err) {
    showError(err);
    recentFailed = true;
  }
  recentBusy = false;
  if (!session && !document.hidden) recentTimer = setTimeout(pollRecent, RECENT_POLL_MS);
}
document.addEventListener('visibilitychange', pollRecent);

// ---- the form ----------------------------------------------------------------

function showError(err) {
  $('error').textContent = err ? (err.code ? err.code + ': ' : '') + err.message : '';
}
async function post(fields) {
  if (session) fields.session = session;
  const d = await api('/api/runs', { method: 'POST', body: new URLSearchParams(fields) });
  if (!session) {
    history.pushState(null, '', withToken('/s/' + d.session));
    await openSession(d.session);
  }
  return d;
}
$('submit').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const orders = f.get('orders').trim().split(/\s+/).join(' ');
  const what = f.get('what');
  showError(null);
  try {
    if (what === 'compare') {
      const group = [...crypto.getRandomValues(new Uint8Array(6))].map(b => b.toString(16).padStart(2, '0')).join('');
      await post({ mode: 'sync', orders, group });
      await post({ mode: 'async', orders, group });
    } else {
      await post({ mode: what, orders });
    }
  } catch (err) {
    showError(err);
  }
});

// A running run's clock and bars move between events, ten times a second.
setInterval(() => {
  if ([...runs.values()].some(r => r.info.status === 'running')) draw();
}, 100);

if (session) openSession(session).catch(showError);
else pollRecent();
