// The ems120 operator console: one page, laid out the way a dispatcher works — the call board
// and the incident on the left, the map in the middle, the units on the right; the hospitals
// and the analyst view one key away. Everything live comes from the feed (feed.js).
import './style.css';
import { state, changed, onChange, sortedIncidents, escalation, ESCALATING_EVENTS, setHospitals } from './store.js';
import { connect, feed, onFeedEvent, dropConnection } from './feed.js';
import { renderCallBoard, renderUnitBoard, renderHospitalBoard, setupUnitFilters, tick } from './boards.js';
import { setupMap, renderUnits, renderIncidents, renderHospitals, renderSelection, focusIncident, unitStatusOnMap, renderAlerts } from './map.js';
import { loadDetail, renderDetail, addEvent, command, overrideByRank } from './detail.js';
import { setupNewCall, openNewCall, mapClicked, takePending, setupCapacity } from './forms.js';
import { renderAnalyst } from './analyst.js';
import { raise, alerts } from './alert.js';
import { api, showErrors, clearErrors } from './api.js';
import { startSession, may, session, signOut } from './session.js';
import { setupAudit, renderAudit } from './audit.js';

const KEYS = [
  ['N', 'new call'], ['J / ↓', 'next call'], ['K / ↑', 'previous call'], ['A', 'accept the recommendation (unit en route)'],
  ['O then 1–6', 'override: send alternative n'], ['R', 'crew acknowledged (by radio)'], ['H', 'change the destination'],
  ['X', 'close the call'], ['C', 'cancel the call'], ['1 / 2 / 3 / 4', 'dispatch / hospitals / analyst / audit'],
  ['M', 'mute or unmute the alert tone'], ['?', 'this list'], ['Esc', 'close a dialog'],
];

let view = 'dispatch';
let overrideMode = false;
let lastUnitRender = 0;
let readyAt = 0;

function select(id) {
  if (state.selected === id) return;
  state.selected = id;
  changed('calls', 'selected');
  loadDetail(id);
  focusIncident(state.incidents.get(id));
}

function move(step) {
  const list = sortedIncidents();
  if (!list.length) return;
  const i = list.findIndex((x) => x.call_id === state.selected);
  const next = i < 0 ? 0 : (i + step + list.length) % list.length;
  select(list[next].call_id);
}

function showView(v) {
  if ((v === 'dispatch' || v === 'analyst') && !may('read')) return;
  if (v === 'audit' && !may('accounts')) return;
  view = v;
  document.querySelectorAll('.view').forEach((s) => s.classList.toggle('on', s.id === `view-${v}`));
  document.querySelectorAll('#views button').forEach((b) => b.classList.toggle('on', b.dataset.view === v));
  if (v === 'hospitals') { capacity.options(); capacity.fill(); renderHospitalBoard(); }
  if (v === 'analyst') renderAnalyst();
  if (v === 'audit') renderAudit();
}

function renderKPIs() {
  const s = state.stats;
  const incs = [...state.incidents.values()];
  const queued = incs.filter((i) => i.state === 'queued').length;
  const avail = [...state.units.values()].filter((u) => u.status === 'available' && !u.flagged_at).length;
  document.getElementById('kpis').innerHTML = `<span><b>${incs.length}</b> live</span><span class="${queued ? 'bad' : ''}"><b>${queued}</b> queued</span>
    <span><b>${avail}</b> available</span><span><b>${s.assigned ? s.within_standard_pct + '%' : '–'}</b> in standard</span>
    <span><b>${s.coverage_pct ?? '–'}%</b> covered</span><span title="decision latency p99"><b>${s.decision_latency_p99_ms || '–'}</b> ms p99</span>`;
}

function renderSurge() {
  const on = !!state.stats.surge;
  const b = document.getElementById('surge-btn');
  b.textContent = on ? 'SURGE MODE' : 'Surge off';
  b.classList.toggle('on', on);
  b.disabled = !may('surge');
}

// setupSurge lets a supervisor switch surge mode, with a reason, from the header.
function setupSurge() {
  const dlg = document.getElementById('surge-dialog');
  const form = dlg.querySelector('form');
  document.getElementById('surge-btn').addEventListener('click', () => {
    if (!may('surge')) return;
    document.getElementById('surge-title').textContent = state.stats.surge ? 'Switch surge mode off' : 'Switch surge mode on';
    form.reset();
    clearErrors(form);
    dlg.showModal();
  });
  dlg.querySelector('.cancel').addEventListener('click', () => dlg.close());
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', '/v1/surge', { on: !state.stats.surge, reason: form.reason.value.trim() });
      dlg.close();
    } catch (err) {
      showErrors(form, err);
    }
  });
}

function renderConn() {
  const el = document.getElementById('conn');
  const role = state.stats.role;
  const standby = role && role !== 'active';
  el.className = `conn ${feed.status === 'live' ? (standby ? 'standby' : 'live') : 'down'}`;
  el.textContent = feed.status === 'live' ? (standby ? `standby — ${state.stats.reason || ''}` : 'live') : feed.status;
  el.title = `feed ${feed.status} · last event ${feed.lastId} · ${feed.events} events · ${feed.reconnects} reconnects`;
}

// board latency: from a decision's commit to the frame that shows it on the call board.
const boardLatency = [];
let unshown = [];

onChange((d) => {
  if (d.has('calls') || d.has('stats')) renderCallBoard(select);
  if (d.has('calls') || d.has('stats') || d.has('units')) renderKPIs();
  if (d.has('stats')) renderSurge();
  if (unshown.length) {
    const now = Date.now();
    unshown.forEach((t) => boardLatency.push(now - t));
    if (boardLatency.length > 10000) boardLatency.splice(0, boardLatency.length - 10000);
    unshown = [];
  }
  if (d.has('calls') || d.has('selected')) renderIncidents();
  if (d.has('selected') || d.has('selected-event') || d.has('hospitals')) renderDetail();
  if (d.has('units') || d.has('positions')) {
    renderUnits();
    renderSelection();
    const now = Date.now();
    if (d.has('units') || now - lastUnitRender > 1000) { renderUnitBoard(); lastUnitRender = now; }
  }
  if (d.has('hospitals')) { renderHospitals(); if (view === 'hospitals') renderHospitalBoard(); }
  if (d.has('conn') || d.has('stats')) renderConn();
  if (!readyAt && feed.snapshots > 0) { // page load to complete boards, for the benchmarks
    readyAt = performance.now();
    window.emsConsole.readyAt = readyAt;
  }
  const pending = d.has('calls') && takePending((id) => state.incidents.has(id));
  if (pending) select(pending);
});

onFeedEvent((name, data) => {
  if (name !== 'incident') return;
  unshown.push(Date.parse(data.committed_at));
  const ev = data.event;
  if (data.incident.call_id === state.selected) addEvent(ev);
  const inc = data.incident;
  const outside = ev.type === 'assigned' && inc.assignment && !inc.assignment.within_standard;
  if (ESCALATING_EVENTS.has(ev.type) || outside) {
    raise(`${inc.call_id}: ${ev.type.replace('_', ' ')}${ev.reason ? ' — ' + ev.reason : ''}`, () => select(inc.call_id));
    const row = document.querySelector(`#call-board tr[data-call-id="${CSS.escape(inc.call_id)}"]`);
    if (row) row.classList.add('flash');
  }
});

function onKey(e) {
  if (e.target.closest('input, select, textarea') || e.ctrlKey || e.metaKey || e.altKey) return;
  if (document.getElementById('new-call').open && e.key !== 'Escape') return;
  const k = e.key;
  if (k === 'Escape') { document.querySelectorAll('dialog[open]').forEach((d) => d.close()); overrideMode = false; return; }
  if (overrideMode && /^[1-6]$/.test(k)) { overrideMode = false; overrideByRank(Number(k)); e.preventDefault(); return; }
  overrideMode = false;
  const commands = may('dispatch') ? {
    n: () => openNewCall(), a: () => command('accept'), r: () => command('ack'), x: () => command('close'),
    c: () => command('cancel'), h: () => command('destination'), o: () => { overrideMode = true; },
  } : {};
  const act = {
    ...commands, j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
    m: () => { alerts.muted = !alerts.muted; }, '?': () => document.getElementById('keys').showModal(),
    1: () => showView('dispatch'), 2: () => showView('hospitals'), 3: () => showView('analyst'), 4: () => showView('audit'),
  }[k.length === 1 ? k.toLowerCase() : k];
  if (act) { e.preventDefault(); act(); }
}

let capacity;

// startReporter is a hospital reporter's console: their hospital's board and the report form,
// refreshed every 15 s (a reporter has no live feed: it carries every call and unit).
async function startReporter() {
  const load = async () => { try { setHospitals(await api('GET', '/v1/hospitals')); } catch (e) { /* shown by the form */ } };
  await load();
  capacity = setupCapacity();
  document.querySelectorAll('#views button').forEach((b) => b.addEventListener('click', () => showView(b.dataset.view)));
  showView('hospitals');
  setInterval(load, 15000);
  setInterval(() => { document.getElementById('clock').textContent = new Date().toLocaleTimeString(); }, 1000);
}

// pollAlerts keeps the fever-call clusters of the last 24 hours on the map and in the header.
async function pollAlerts() {
  try {
    state.alerts = (await api('GET', '/v1/alerts')).alerts;
  } catch { return; } // shown again at the next poll; the feed's own banner tells of outages
  renderAlerts(state.alerts);
  const el = document.getElementById('alert-count');
  el.hidden = state.alerts.length === 0;
  el.textContent = `${state.alerts.length} fever cluster${state.alerts.length === 1 ? '' : 's'} (24 h)`;
}

async function start() {
  await startSession();
  window.emsConsole.session = session;
  window.emsConsole.signOut = signOut;
  if (!may('read')) { await startReporter(); return; }
  const city = await api('GET', '/v1/city');
  city.stationById = new Map(city.stations.map((s) => [s.id, s]));
  state.city = city;
  setHospitals(await api('GET', '/v1/hospitals'));
  setupAudit();
  setupMap({ mapClick: (ll) => mapClicked(ll), incidentClick: select });
  pollAlerts();
  setInterval(pollAlerts, 60000);
  setupSurge();
  document.getElementById('alert-count').addEventListener('click', () => showView('analyst'));
  setupUnitFilters(() => renderUnitBoard());
  setupNewCall();
  capacity = setupCapacity();
  document.getElementById('new-call-btn').addEventListener('click', openNewCall);
  document.querySelectorAll('#views button').forEach((b) => b.addEventListener('click', () => showView(b.dataset.view)));
  const commandKeys = ['N', 'A', 'O then 1–6', 'R', 'H', 'X', 'C'];
  const keys = may('dispatch') ? KEYS : KEYS.filter(([k]) => !commandKeys.includes(k));
  document.getElementById('keys-table').innerHTML = keys.map(([k, w]) => `<tr><td><kbd>${k}</kbd></td><td>${w}</td></tr>`).join('');
  document.getElementById('keys-line').innerHTML = keys.slice(0, 11).map(([k, w]) => `<span><kbd>${k}</kbd> ${w}</span>`).join('');
  document.addEventListener('keydown', onKey);
  setInterval(() => {
    tick();
    document.getElementById('clock').textContent = new Date().toLocaleTimeString();
    if (feed.status === 'live' && Date.now() - feed.lastAt > 25000) renderConn(); // silent feed
  }, 1000);
  connect();
}

// For tests and operators' own scripts.
window.emsConsole = { state, feed, alerts, dropConnection, select, unitStatusOnMap, escalation, boardLatency };
start().catch((err) => {
  document.body.insertAdjacentHTML('afterbegin', `<div class="fatal">The console could not start: ${err.message}</div>`);
});
