// The incident detail: the timeline, the recommendation and its reason, the ranked
// alternatives, and the commands — accept, override, acknowledge for the crew, cancel, close,
// change the destination.
import { state, escalation } from './store.js';
import { api } from './api.js';
import { may } from './session.js';
import { esc, dur, km, STATE_LABEL, kindLabel } from './fmt.js';
import { tick } from './boards.js';

const panel = () => document.getElementById('incident-detail');
let timeline = [];    // the selected call's events, from the record and then the feed
let candidates = [];
let loadedFor = null;

export async function loadDetail(id) {
  loadedFor = id;
  timeline = []; candidates = [];
  renderDetail();
  if (!id) return;
  try {
    const [call, cands] = await Promise.all([api('GET', `/v1/calls/${encodeURIComponent(id)}`).catch(() => null),
      may('dispatch') ? api('GET', `/v1/calls/${encodeURIComponent(id)}/candidates?n=6`).catch(() => ({ candidates: [] })) : { candidates: [] }]);
    if (loadedFor !== id) return;
    timeline = call ? call.events : [];
    candidates = cands.candidates;
  } finally {
    if (loadedFor === id) renderDetail();
  }
}

// addEvent appends a live event of the selected call, and refreshes the alternatives.
export function addEvent(ev) {
  if (!timeline.some((e) => e.at === ev.at && e.type === ev.type && e.unit_id === ev.unit_id)) timeline.push(ev);
  refreshCandidates();
}

let candTimer = null;
function refreshCandidates() {
  clearTimeout(candTimer);
  candTimer = setTimeout(async () => {
    const id = state.selected;
    if (!id || !state.incidents.has(id) || !may('dispatch')) { renderDetail(); return; }
    try { candidates = (await api('GET', `/v1/calls/${encodeURIComponent(id)}/candidates?n=6`)).candidates; } catch (e) { candidates = []; }
    renderDetail();
  }, 150);
}

function hospitalOptions(inc) {
  const d = (h) => (h.lat - inc.lat) ** 2 + ((h.lng - inc.lng) * Math.cos(inc.lat * Math.PI / 180)) ** 2;
  const cur = inc.assignment && inc.assignment.hospital_id;
  return [...state.hospitals].sort((a, b) => d(a) - d(b)).slice(0, 25).map((h) => `<option value="${esc(h.hospital_id)}"${h.hospital_id === cur ? ' selected' : ''}>${esc(h.name)} (${esc(h.kind)})${h.stale ? ' · stale' : ''}</option>`).join('');
}

export function renderDetail() {
  const p = panel();
  const id = state.selected;
  const inc = id && state.incidents.get(id);
  if (!inc) {
    const ended = id && state.recent.find((r) => r.call_id === id);
    p.innerHTML = ended ? `<h2>${esc(id)} — ${esc(ended.state)}</h2>${timelineHTML()}` : '<p class="empty">Select a call (<kbd>J</kbd>/<kbd>K</kbd> or click).</p>';
    return;
  }
  const a = inc.assignment;
  const why = escalation(inc, Date.now());
  const hosp = a && a.hospital_id && state.hospById.get(a.hospital_id);
  p.innerHTML = `
    <h2><span class="prio p${inc.priority}">${inc.priority}</span> ${esc(inc.call_id)} <small>${esc(inc.category)}${inc.infectious ? ' ☣ infectious' : ''}</small></h2>
    <div class="meta">${inc.lat.toFixed(5)}, ${inc.lng.toFixed(5)}${inc.address ? ' · ' + esc(inc.address) : ''} · received <span data-since="${esc(inc.received_at)}"></span> ago</div>
    ${why ? `<div class="escalation">⚠ ${esc(why)}</div>` : ''}
    <div class="rec">${a ? `<b>Recommendation:</b> <span class="mono" id="rec-unit">${esc(a.unit_id)}</span> · ETA ${dur(a.eta_s)} · ${km(a.distance_m)}
      · ${a.within_standard ? '<span class="ok">within 5 km / 15 min</span>' : '<span class="bad">outside 5 km / 15 min</span>'}
      <div class="reason">reason: <code>${esc(a.reason)}</code></div>
      <div>destination: ${hosp ? esc(hosp.name) : esc(a.hospital_id || '—')}</div>` : `<b>${esc(STATE_LABEL[inc.state])}</b> — no unit yet`}
      <div>state: <b class="s-${esc(inc.state)}">${esc(STATE_LABEL[inc.state] || inc.state)}</b>${inc.ack_deadline ? ` · <span class="ack" data-deadline="${esc(inc.ack_deadline)}"></span>` : ''}</div>
    </div>
    <div class="commands needs-dispatch">
      <button data-cmd="accept" class="primary" ${inc.state === 'assigned' || inc.state === 'acknowledged' ? '' : 'disabled'}>Accept <kbd>A</kbd></button>
      <button data-cmd="ack" ${inc.state === 'assigned' ? '' : 'disabled'}>Crew ack <kbd>R</kbd></button>
      <button data-cmd="close">Close <kbd>X</kbd></button>
      <button data-cmd="cancel" class="danger">Cancel <kbd>C</kbd></button>
    </div>
    <div class="err" id="detail-error"></div>
    <div class="needs-dispatch"><h3>Alternatives <small>(override: <kbd>1</kbd>–<kbd>6</kbd> with <kbd>O</kbd>, or click)</small></h3>
    <table class="board alts"><thead><tr><th>#</th><th>Unit</th><th>Kind</th><th>ETA</th><th>Distance</th><th></th></tr></thead><tbody>
    ${candidates.filter((c) => !c.current).map((c, i) => `<tr data-unit-id="${esc(c.unit_id)}"><td>${i + 1}</td><td class="mono">${esc(c.unit_id)}</td><td>${esc(kindLabel(c.kind))}</td>
      <td>${dur(c.eta_s)}</td><td>${km(c.distance_m)}${c.within_standard ? '' : ' <span class="bad">›std</span>'}</td>
      <td><button data-override="${esc(c.unit_id)}">Send</button></td></tr>`).join('') || '<tr><td colspan="6" class="empty">no available unit within reach</td></tr>'}
    </tbody></table>
    <div class="dest"><label>Destination <select id="dest-select">${hospitalOptions(inc)}</select></label>
      <button data-cmd="destination" ${inc.unit_id ? '' : 'disabled'}>Change <kbd>H</kbd></button></div></div>
    ${timelineHTML()}`;
  p.querySelectorAll('[data-cmd]').forEach((b) => b.addEventListener('click', () => command(b.dataset.cmd)));
  p.querySelectorAll('[data-override]').forEach((b) => b.addEventListener('click', () => override(b.dataset.override)));
  tick(); // its age and countdown now, not at the next second
}

function timelineHTML() {
  if (!timeline.length) return '';
  return `<h3>Timeline</h3><ol class="timeline">${timeline.map((e) => `<li class="t-${esc(e.type)}"><time>${new Date(e.at).toLocaleTimeString()}</time>
    <b>${esc(e.type)}</b>${e.unit_id ? ' · ' + esc(e.unit_id) : ''}${e.reason ? ` <span class="reason">${esc(e.reason)}</span>` : ''}
    ${e.actor ? `<span class="actor" title="by this account">by ${esc(e.actor)}</span>` : ''}</li>`).join('')}</ol>`;
}

function showError(err) {
  const el = document.getElementById('detail-error');
  if (el) { el.textContent = err ? err.message : ''; el.classList.toggle('on', !!err); }
}

// command sends a command on the selected call; a refusal shows its reason in the panel.
export async function command(cmd) {
  const id = state.selected;
  const inc = id && state.incidents.get(id);
  if (!inc) return;
  let body = {};
  if (cmd === 'accept' || cmd === 'ack') body = { unit_id: inc.unit_id };
  if (cmd === 'cancel') {
    const reason = prompt(`Cancel ${id}? Reason:`, 'caller cancelled');
    if (reason === null) return;
    body = { reason };
  }
  if (cmd === 'destination') body = { hospital_id: document.getElementById('dest-select').value };
  try {
    showError(null);
    await api('POST', `/v1/calls/${encodeURIComponent(id)}/${cmd}`, body);
  } catch (err) {
    showError(err);
  }
}

export async function override(unitID) {
  const id = state.selected;
  if (!id) return;
  try {
    showError(null);
    await api('POST', `/v1/calls/${encodeURIComponent(id)}/assign`, { unit_id: unitID });
  } catch (err) {
    showError(err);
  }
}

export function overrideByRank(n) {
  const alts = candidates.filter((c) => !c.current);
  if (alts[n - 1]) override(alts[n - 1].unit_id);
}
