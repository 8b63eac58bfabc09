// The call board, the unit board and the hospital board. Rows carry data-call-id,
// data-unit-id and data-hospital-id: stable hooks for tests and operators' scripts.
import { state, sortedIncidents, escalation } from './store.js';
import { esc, dur, since, STATE_LABEL, STATUS_LABEL, kindLabel } from './fmt.js';

const BEDS = ['fever_observation', 'isolation', 'icu', 'emergency'];

export function renderCallBoard(select) {
  const now = Date.now();
  const rows = sortedIncidents().map((inc) => {
    const why = escalation(inc, now);
    const cls = [`p${inc.priority}`, why ? 'escalated' : '', state.selected === inc.call_id ? 'selected' : ''].join(' ');
    const ack = inc.ack_deadline
      ? `<span class="ack" data-deadline="${esc(inc.ack_deadline)}"></span>`
      : (inc.assignment ? `ETA ${dur(inc.assignment.eta_s)}` : '');
    return `<tr data-call-id="${esc(inc.call_id)}" class="${cls}" title="${esc(why)}">
      <td><span class="prio p${inc.priority}">${inc.priority}</span></td>
      <td class="mono">${esc(inc.call_id)}</td>
      <td>${esc(inc.category)}${inc.infectious ? ' <span class="bio" title="infectious">☣</span>' : ''}</td>
      <td class="state s-${esc(inc.state)}">${esc(STATE_LABEL[inc.state] || inc.state)}${why ? `<div class="why">${esc(why)}</div>` : ''}</td>
      <td class="mono">${esc(inc.unit_id || '—')}</td>
      <td class="age" data-since="${esc(inc.received_at)}"></td>
      <td>${ack}</td></tr>`;
  });
  const body = document.querySelector('#call-board tbody');
  body.innerHTML = rows.join('');
  document.getElementById('call-empty').hidden = rows.length > 0;
  const queued = [...state.incidents.values()].filter((i) => i.state === 'queued').length;
  document.getElementById('call-count').textContent = `${rows.length} live · ${queued} queued`;
  body.querySelectorAll('tr').forEach((tr) => tr.addEventListener('click', () => select(tr.dataset.callId)));
  tick();
}

// tick refreshes the ages and countdowns without redrawing the boards.
export function tick() {
  const now = Date.now();
  document.querySelectorAll('[data-since]:not([data-since=""])').forEach((el) => { el.textContent = dur(since(el.dataset.since, now)); });
  document.querySelectorAll('[data-deadline]').forEach((el) => {
    const left = (Date.parse(el.dataset.deadline) - now) / 1000;
    el.textContent = left > 0 ? `ack ${dur(left)}` : `no ack ${dur(-left)}`;
    el.classList.toggle('late', left <= 0);
    el.classList.toggle('soon', left > 0 && left < 20);
  });
}

export function unitDistrict(u) {
  const st = state.city && state.city.stationById.get(u.station_id);
  return st ? st.district : '';
}

export function setupUnitFilters(onFilter) {
  const add = (id, values, label) => {
    const sel = document.getElementById(id);
    for (const v of values) sel.insertAdjacentHTML('beforeend', `<option value="${esc(v)}">${esc(label(v))}</option>`);
    sel.addEventListener('change', onFilter);
  };
  add('f-status', Object.keys(STATUS_LABEL), (v) => STATUS_LABEL[v]);
  add('f-kind', ['als', 'bls', 'negative_pressure'], kindLabel);
  add('f-district', state.city.districts.features.map((f) => f.properties.code),
    (c) => state.city.districts.features.find((f) => f.properties.code === c).properties.name);
}

export function renderUnitBoard() {
  const fs = document.getElementById('f-status').value;
  const fk = document.getElementById('f-kind').value;
  const fd = document.getElementById('f-district').value;
  const units = [...state.units.values()].filter((u) => (!fs || u.status === fs) && (!fk || u.kind === fk)
    && (!fd || unitDistrict(u) === fd)).sort((a, b) => a.unit_id.localeCompare(b.unit_id));
  const rows = units.map((u) => `<tr data-unit-id="${esc(u.unit_id)}" class="u-${esc(u.status)}${u.flagged_at ? ' flagged' : ''}">
    <td class="mono">${esc(u.unit_id)}</td><td>${esc(kindLabel(u.kind))}</td>
    <td class="status">${esc(STATUS_LABEL[u.status] || u.status)}${u.flagged_at ? ' ⚑' : ''}</td>
    <td>${esc(u.station_id || '')}</td><td class="mono">${esc(u.call_id || '')}</td>
    <td class="age" data-since="${esc(u.status_at || '')}"></td></tr>`);
  document.querySelector('#unit-board tbody').innerHTML = rows.join('');
  const avail = [...state.units.values()].filter((u) => u.status === 'available').length;
  document.getElementById('unit-count').textContent = `${units.length} shown · ${avail} available of ${state.units.size}`;
  tick();
}

function bedCell(h, bed) {
  const b = h.beds[bed];
  if (!b || !b.total) return '<td class="na">—</td>';
  const pct = b.occupancy_pct;
  const lvl = pct >= 95 ? 'full' : pct >= 80 ? 'high' : 'low';
  return `<td class="bed ${lvl}" title="${b.occupied} occupied + ${b.admitted} admitted + ${b.reserved} reserved of ${b.total}">
    <div class="bar"><i style="width:${Math.min(100, pct)}%"></i></div>${b.free} free / ${b.total} <small>${pct}%</small></td>`;
}

export function districtName(code) {
  const f = state.city && state.city.districts.features.find((x) => x.properties.code === code);
  return f ? f.properties.name : code || '';
}

export function renderHospitalBoard() {
  const rows = state.hospitals.map((h) => {
    const reserved = Object.values(h.beds).reduce((n, b) => n + b.reserved, 0);
    const overdue = state.overdue.has(h.hospital_id);
    const flags = [h.stale ? '<span class="tag stale">stale</span>' : '', overdue ? '<span class="tag overdue">overdue</span>' : '',
      h.accepting ? '' : '<span class="tag closed">not accepting</span>'].join(' ');
    return `<tr data-hospital-id="${esc(h.hospital_id)}" class="${h.stale ? 'stale' : ''}">
      <td><b>${esc(h.name)}</b><div class="mono small">${esc(h.hospital_id)}</div></td><td>${esc(h.kind)}</td><td>${esc(districtName(h.district))}</td>
      ${BEDS.map((b) => bedCell(h, b)).join('')}<td>${reserved}</td>
      <td class="age" data-since="${esc(h.reported_at || '')}">${h.reported_at ? '' : 'never'}</td><td>${flags}</td></tr>`;
  });
  document.querySelector('#hospital-board tbody').innerHTML = rows.join('');
  const stale = state.hospitals.filter((h) => h.stale).length;
  document.getElementById('hosp-summary').textContent =
    `${state.hospitals.length} hospitals · ${stale} stale · ${state.overdue.size} overdue (stale after ${dur(state.staleAfterS)})`;
  tick();
}

export { BEDS };
