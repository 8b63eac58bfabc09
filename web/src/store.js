// The console's state, fed by the live feed (feed.js): whole views replace what was there, so
// an event applied twice changes nothing.

export const state = {
  city: null,
  incidents: new Map(), // call_id → incident view
  units: new Map(),     // unit_id → unit view
  hospitals: [],
  hospById: new Map(),
  overdue: new Set(),
  staleAfterS: 0,
  stats: {},
  selected: null,
  recent: [],           // calls ended lately, newest first
};

const listeners = new Set();
const dirty = new Set();
let scheduled = false;

// changed marks parts of the state as changed; listeners run once per animation frame.
export function changed(...what) {
  what.forEach((w) => dirty.add(w));
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    const d = new Set(dirty);
    dirty.clear();
    listeners.forEach((fn) => fn(d));
  });
}

export function onChange(fn) { listeners.add(fn); }

export function setHospitals(hv) {
  state.hospitals = hv.hospitals || [];
  state.hospById = new Map(state.hospitals.map((h) => [h.hospital_id, h]));
  state.overdue = new Set(hv.overdue || []);
  state.staleAfterS = hv.stale_after_s;
  changed('hospitals');
}

export function applySnapshot(s) {
  state.incidents = new Map(s.incidents.map((i) => [i.call_id, i]));
  state.units = new Map(s.units.map((u) => [u.unit_id, u]));
  setHospitals(s.hospitals);
  state.stats = s.stats;
  changed('calls', 'units', 'stats', 'selected');
}

export function applyIncident(ch) {
  const inc = ch.incident;
  const live = !['closed', 'cancelled'].includes(inc.state);
  if (live) {
    state.incidents.set(inc.call_id, inc);
  } else if (state.incidents.has(inc.call_id)) {
    const was = state.incidents.get(inc.call_id);
    state.incidents.delete(inc.call_id);
    state.recent.unshift({ ...was, state: inc.state, ended_at: ch.event.at });
    state.recent.length = Math.min(state.recent.length, 20);
  }
  changed('calls');
  if (state.selected === inc.call_id) changed('selected-event');
}

export function applyUnits(list) {
  for (const u of list) state.units.set(u.unit_id, u);
  changed('units');
}

export function applyPositions(list) {
  for (const p of list) {
    const u = state.units.get(p.unit_id);
    if (u) { u.lat = p.lat; u.lng = p.lng; u.status = p.status; }
  }
  changed('positions');
}

// sortedIncidents: the call board's order — priority, then age.
export function sortedIncidents() {
  return [...state.incidents.values()].sort((a, b) => a.priority - b.priority
    || a.received_at.localeCompare(b.received_at) || a.call_id.localeCompare(b.call_id));
}

// escalation says why a call needs the dispatcher's eye, or ''.
export function escalation(inc, now) {
  if (inc.state === 'queued') return 'queued: no unit';
  if (inc.ack_deadline && Date.parse(inc.ack_deadline) < now) return 'no acknowledgement';
  const a = inc.assignment;
  if (!a) return '';
  if (a.reason.includes('escalated_no_ack')) return 'no acknowledgement: reassigned';
  if (a.reason.includes('reassigned_preempted')) return 'pre-empted: reassigned';
  if (a.reason.includes('reassigned_unit_lost')) return 'unit lost: reassigned';
  if (!a.within_standard) return 'outside 5 km / 15 min';
  return '';
}

export const ESCALATING_EVENTS = new Set(['ack_timeout', 'unit_lost', 'preempted', 'queued']);
