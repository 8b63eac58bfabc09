// The analyst view: the KPIs now, response compliance by hour and by district, downloads.
import { api } from './api.js';
import { state } from './store.js';
import { esc, dur } from './fmt.js';

const num = (v, unit = '') => (v === null || v === undefined ? '—' : `${v}${unit}`);
const secs = (v) => (v === null || v === undefined ? '—' : dur(v));

function table(rows, keyLabel, coverage) {
  const max = Math.max(1, ...rows.map((r) => r.calls));
  const cov = coverage ? (r) => `<td>${num((coverage.get(r.key) || {}).coverage_pct, '%')}</td>` : () => '';
  return `<table class="board"><thead><tr><th>${keyLabel}</th><th>Calls</th><th></th>${coverage ? '<th>Coverage now</th>' : ''}<th>Within 5 km/15 min</th><th>ETA p50</th><th>ETA p90</th><th>Arrived</th><th>Response p50</th><th>Response p90</th></tr></thead><tbody>
  ${rows.map((r) => `<tr><td>${esc(r.name ? `${r.name} (${r.key})` : r.key || '—')}</td><td>${r.calls}</td><td class="spark"><i style="width:${(100 * r.calls) / max}%"></i></td>${cov(r)}
  <td>${num(r.within_standard_pct, '%')}</td><td>${secs(r.eta_s_p50)}</td><td>${secs(r.eta_s_p90)}</td><td>${r.arrived}</td>
  <td>${secs(r.response_s_p50)}</td><td>${secs(r.response_s_p90)}</td></tr>`).join('') || '<tr><td colspan="10" class="empty">no calls in the window</td></tr>'}</tbody></table>`;
}

function alertTable(alerts) {
  return `<table class="board" id="alert-table"><thead><tr><th>Cluster</th><th>Method</th><th>Where</th><th>Since</th><th>Last hour</th><th>Calls (window)</th><th>Expected</th></tr></thead><tbody>
  ${alerts.map((a) => `<tr><td>${esc(a.alert_id)}</td><td>${esc(a.method)}</td><td>${a.level === 'district' ? `district ${esc(a.district)}` : `${a.cells.length} cell${a.cells.length === 1 ? '' : 's'}`}</td>
  <td>${new Date(a.first_hour).toLocaleString()}</td><td>${new Date(a.hour).toLocaleString()}</td><td>${a.observed}</td><td>${a.expected.toFixed(1)}</td></tr>`).join('') || '<tr><td colspan="7" class="empty">no fever-call cluster in the last 24 hours</td></tr>'}</tbody></table>`;
}

function occupancy() {
  const by = {};
  for (const h of state.hospitals) for (const [bed, b] of Object.entries(h.beds)) {
    if (!b.total) continue;
    const k = `${h.kind} · ${bed}`;
    by[k] = by[k] || { total: 0, used: 0 };
    by[k].total += b.total; by[k].used += b.total - b.free;
  }
  return Object.entries(by).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v.used} / ${v.total}</td><td class="spark"><i style="width:${(100 * v.used) / v.total}%"></i></td><td>${((100 * v.used) / v.total).toFixed(1)}%</td></tr>`).join('');
}

export async function renderAnalyst() {
  const el = document.getElementById('analyst');
  const hours = Number(el.dataset.hours || 24);
  let k;
  try { k = await api('GET', `/v1/kpis?hours=${hours}`); } catch (err) { el.innerHTML = `<div class="err on">${esc(err.message)}</div>`; return; }
  const n = k.now;
  el.innerHTML = `<h2>Analyst <small>last <select id="win">${[1, 6, 24, 168].map((h) => `<option value="${h}"${h === hours ? ' selected' : ''}>${h} h</option>`).join('')}</select></small></h2>
  <div class="tiles">
    <div><b>${num(n.within_standard_pct, '%')}</b>assigned within 5 km / 15 min (since start)</div>
    <div><b>${n.live}</b>live calls</div><div><b>${n.queued}</b>queued</div>
    <div><b>${n.units.available || 0}</b>units available of ${Object.values(n.units).reduce((a, b) => a + b, 0)}</div>
    <div><b>${num(n.coverage_pct, '%')}</b>demand covered (${num(n.double_coverage_pct, '%')} twice)</div>
    <div><b>${num(n.decision_latency_p99_ms, ' ms')}</b>decision p99</div>
    <div><b>${n.overdue_reports}</b>capacity reports overdue</div>
  </div>
  <h3>China's 2020 pre-hospital guidance</h3>
  <div class="tiles guidance">
    <div><b>${num(k.guidance.en_route_within_3min_pct, '%')}</b>en route within 3 min of the call (target 95%)</div>
    <div><b>${num(k.guidance.within_5km_15min_pct, '%')}</b>first unit inside 5 km / 15 min</div>
    <div><b>${k.guidance.ambulances_per_30k}</b>ambulances per 30,000 residents (target 1)</div>
    <div><b>${k.guidance.negative_pressure_pct}%</b>negative-pressure units (target 40%)</div>
    <div><b>${k.guidance.units_decontaminating}</b>units being decontaminated</div>
  </div>
  <h3>Fever-call clusters</h3>${alertTable(state.alerts || [])}
  <p class="downloads">Download: <a href="/v1/export/calls.csv?hours=${hours}" download>calls (CSV)</a> · <a href="/v1/export/calls.geojson?hours=${hours}" download>calls (GeoJSON)</a> · <a href="/v1/coverage" download="coverage.geojson">coverage cells (GeoJSON)</a> · <a href="/v1/hospitals" download="hospitals.json">hospitals (JSON)</a></p>
  <h3>By district</h3>${table(k.by_district, 'District', new Map((k.coverage_by_district || []).map((c) => [c.code, c])))}
  <h3>By hour of day (local)</h3>${table(k.by_hour, 'Hour')}
  <h3>Occupancy</h3><table class="board"><tbody>${occupancy()}</tbody></table>`;
  el.querySelector('#win').addEventListener('change', (e) => { el.dataset.hours = e.target.value; renderAnalyst(); });
}
