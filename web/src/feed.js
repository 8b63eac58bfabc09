// The live feed: GET /v1/stream as Server-Sent Events. EventSource reconnects by itself and
// sends Last-Event-ID, so the server replays what was missed; when it cannot (too far behind,
// another process took over), it sends a snapshot. The counters are for the health badge and
// for tests: gaps counts events whose id did not follow the one before.
import { applySnapshot, applyIncident, applyUnits, applyPositions, setHospitals, state, changed } from './store.js';
import { expired } from './session.js';

export const feed = { events: 0, snapshots: 0, gaps: 0, reconnects: 0, lastId: '', status: 'connecting', lastAt: 0 };
const handlers = [];
export function onFeedEvent(fn) { handlers.push(fn); }

let es = null;
let gen = '';
let seq = 0;

function track(e) {
  const [g, s] = e.lastEventId.split('-');
  const n = Number(s);
  if (e.type === 'snapshot') {
    feed.snapshots++;
  } else if (g === gen && n !== seq + 1) {
    feed.gaps++;
  }
  gen = g; seq = n;
  feed.lastId = e.lastEventId;
  feed.events++;
  feed.lastAt = Date.now();
}

function on(name, fn) {
  es.addEventListener(name, (e) => {
    track(e);
    const data = JSON.parse(e.data);
    fn(data);
    handlers.forEach((h) => h(name, data));
  });
}

function setStatus(s) {
  feed.status = s;
  changed('conn');
}

export function connect() {
  const url = feed.lastId ? `/v1/stream?last_event_id=${encodeURIComponent(feed.lastId)}` : '/v1/stream';
  es = new EventSource(url);
  es.onopen = () => setStatus('live');
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) { // refused (a 401 after the session ended) or the browser gave up
      setStatus('down');
      fetch('/v1/session').then((r) => {
        if (r.status === 401) { expired(); return; }
        setTimeout(() => { feed.reconnects++; connect(); }, 2000);
      }).catch(() => setTimeout(() => { feed.reconnects++; connect(); }, 2000));
    } else {
      feed.reconnects++;
      setStatus('reconnecting');
    }
  };
  on('snapshot', applySnapshot);
  on('incident', applyIncident);
  on('units', applyUnits);
  on('positions', applyPositions);
  on('hospitals', setHospitals);
  on('stats', (s) => { state.stats = s; changed('stats'); });
}

// For tests and operators' scripts: drop the connection as a network fault would.
export function dropConnection(ms = 500) {
  if (es) es.close();
  setStatus('reconnecting');
  setTimeout(() => { feed.reconnects++; connect(); }, ms);
}
