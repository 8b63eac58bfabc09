// The situation map: the city's own GeoJSON (no tile server), stations, hospitals coloured by
// occupancy, units by status moving live, incidents by priority; the selected incident with
// its 5 km circle and the line to its unit; coverage cells on demand; fever-call clusters.
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { state, sortedIncidents } from './store.js';
import { esc, STATUS_LABEL, kindLabel } from './fmt.js';

export const UNIT_COLOURS = {
  available: '#1a9850', dispatched: '#fdae61', en_route: '#f46d43', on_scene: '#d73027',
  transporting: '#7b3294', at_hospital: '#5e3c99', out_of_service: '#878787',
};
const PRIO_COLOURS = { 1: '#b2182b', 2: '#ef8a62', 3: '#67a9cf', 4: '#999999' };

let map, renderer, unitLayer, incidentLayer, hospitalLayer, selLayer, coverageLayer, alertLayer;
const unitMarkers = new Map();
let onMapClick = null;
let onIncidentClick = null;

export function setupMap(handlers) {
  onMapClick = handlers.mapClick;
  onIncidentClick = handlers.incidentClick;
  renderer = L.canvas({ padding: 0.2 });
  map = L.map('map', { preferCanvas: true, renderer, zoomSnap: 0.25, attributionControl: false });
  const districts = L.geoJSON(state.city.districts, {
    style: (f) => ({ color: '#3b4b5b', weight: 1.2, fillColor: f.properties.central ? '#e8eef3' : '#f4f6f8', fillOpacity: 0.9 }),
    onEachFeature: (f, layer) => layer.bindTooltip(`${esc(f.properties.name)} · ${f.properties.population.toLocaleString()} residents`, { sticky: true }),
  }).addTo(map);
  const central = state.city.districts.features.filter((f) => f.properties.central);
  map.fitBounds(central.length ? L.geoJSON({ type: 'FeatureCollection', features: central }).getBounds() : districts.getBounds());
  coverageLayer = L.layerGroup();
  const stations = L.layerGroup().addTo(map);
  for (const s of state.city.stations) {
    L.circleMarker([s.lat, s.lng], { renderer, radius: 3, color: '#333', weight: 1, fillColor: '#fff', fillOpacity: 1 })
      .bindTooltip(`station ${esc(s.id)} ${esc(s.name)}`).addTo(stations);
  }
  alertLayer = L.layerGroup().addTo(map);
  hospitalLayer = L.layerGroup().addTo(map);
  unitLayer = L.layerGroup().addTo(map);
  incidentLayer = L.layerGroup().addTo(map);
  selLayer = L.layerGroup().addTo(map);
  map.on('click', (e) => onMapClick && onMapClick(e.latlng));
  document.getElementById('coverage-toggle').addEventListener('change', (e) => toggleCoverage(e.target.checked));
  document.getElementById('map-legend').innerHTML = Object.entries(UNIT_COLOURS)
    .map(([s, c]) => `<span><i style="background:${c}"></i>${STATUS_LABEL[s]}</span>`).join('');
}

export function mapReady() { return !!map; }

export function renderUnits() {
  for (const u of state.units.values()) {
    let m = unitMarkers.get(u.unit_id);
    const colour = UNIT_COLOURS[u.status] || '#000';
    if (!m) {
      m = L.circleMarker([u.lat, u.lng], { renderer, radius: 4.5, weight: 1, color: '#222', fillOpacity: 0.95, fillColor: colour });
      m.bindTooltip(() => unitTip(u.unit_id));
      m.addTo(unitLayer);
      m.status = u.status;
      unitMarkers.set(u.unit_id, m);
      continue;
    }
    const ll = m.getLatLng();
    if (ll.lat !== u.lat || ll.lng !== u.lng) m.setLatLng([u.lat, u.lng]);
    if (m.status !== u.status) { m.setStyle({ fillColor: colour }); m.status = u.status; }
  }
}

function unitTip(id) {
  const u = state.units.get(id);
  if (!u) return id;
  const decon = u.decon_until ? ` · decontaminating until ${new Date(u.decon_until).toLocaleTimeString()}` : '';
  return `${esc(u.unit_id)} · ${esc(kindLabel(u.kind))} · ${esc(STATUS_LABEL[u.status] || u.status)}${u.call_id ? ' · ' + esc(u.call_id) : ''}${decon}`;
}

export function unitStatusOnMap(id) {
  const m = unitMarkers.get(id);
  return m ? m.status : '';
}

export function renderIncidents() {
  incidentLayer.clearLayers();
  for (const inc of sortedIncidents()) {
    const m = L.circleMarker([inc.lat, inc.lng], {
      renderer, radius: inc.call_id === state.selected ? 9 : 7, weight: 2, color: '#111',
      fillColor: PRIO_COLOURS[inc.priority], fillOpacity: 1,
    }).bindTooltip(`P${inc.priority} ${esc(inc.call_id)} · ${esc(inc.category)} · ${esc(inc.state)}`);
    m.on('click', (e) => { L.DomEvent.stopPropagation(e); onIncidentClick(inc.call_id); });
    m.addTo(incidentLayer);
  }
  renderSelection();
}

export function renderSelection() {
  selLayer.clearLayers();
  const inc = state.incidents.get(state.selected);
  if (!inc) return;
  L.circle([inc.lat, inc.lng], { radius: state.city.standard_radius_m, color: '#b2182b', weight: 1.5, dashArray: '6 4', fill: false, interactive: false }).addTo(selLayer);
  const u = inc.unit_id && state.units.get(inc.unit_id);
  if (u) L.polyline([[inc.lat, inc.lng], [u.lat, u.lng]], { color: '#b2182b', weight: 2.5, interactive: false }).addTo(selLayer);
}

export function focusIncident(inc) {
  if (!inc) return;
  if (!map.getBounds().pad(-0.1).contains([inc.lat, inc.lng])) map.panTo([inc.lat, inc.lng]);
}

function occupancy(h) {
  let worst = -1;
  for (const b of Object.values(h.beds)) if (b.total) worst = Math.max(worst, b.occupancy_pct);
  return worst;
}

export function renderHospitals() {
  hospitalLayer.clearLayers();
  for (const h of state.hospitals) {
    const occ = occupancy(h);
    const fill = occ >= 95 ? '#b2182b' : occ >= 80 ? '#fdae61' : '#1a9850';
    L.circleMarker([h.lat, h.lng], {
      renderer, radius: 6.5, weight: h.stale ? 2.5 : 1.5, color: h.stale ? '#6a6a6a' : '#102a43',
      dashArray: h.stale ? '3 2' : null, fillColor: h.stale ? '#cfcfcf' : fill, fillOpacity: 1,
    }).bindTooltip(`✚ ${esc(h.name)} (${esc(h.kind)}) · worst ward ${occ < 0 ? '—' : occ + '%'}${h.stale ? ' · REPORT STALE' : ''}`)
      .addTo(hospitalLayer);
  }
}

async function toggleCoverage(on) {
  coverageLayer.clearLayers();
  if (!on) { map.removeLayer(coverageLayer); return; }
  const fc = await (await fetch('/v1/coverage')).json();
  const colour = (r) => (r >= 2 ? '#1a9850' : r === 1 ? '#a6d96a' : '#d73027');
  L.geoJSON(fc, {
    style: (f) => ({ weight: 0, fillColor: colour(f.properties.reach), fillOpacity: 0.35 }),
    onEachFeature: (f, l) => l.bindTooltip(`reach ${f.properties.reach} · demand ${Number(f.properties.demand).toFixed(2)}`),
  }).addTo(coverageLayer);
  coverageLayer.addTo(map);
}

// renderAlerts draws the fever-call clusters (GET /v1/alerts): a cell cluster's hexagons, an
// alerting district's outline, in red; the tooltip says what was seen against what was expected.
export function renderAlerts(alerts) {
  alertLayer.clearLayers();
  const tip = (a) => `fever cluster ${esc(a.alert_id)} · ${esc(a.method)} · ${a.observed} calls in ${a.window_hours} h, expected ${a.expected.toFixed(1)} · since ${new Date(a.first_hour).toLocaleString()}`;
  const style = {
    cell: { color: '#b2182b', weight: 2, fillColor: '#ef3b2c', fillOpacity: 0.35 },
    district: { color: '#b2182b', weight: 3, dashArray: '8 5', fill: false },
  };
  for (const a of alerts) {
    if (!a.geometry) continue;
    L.geoJSON(a.geometry, { renderer, style: style[a.level] || style.cell }).bindTooltip(tip(a), { sticky: true }).addTo(alertLayer);
  }
  state.alertShapes = alertLayer.getLayers().length; // the map draws on a canvas: tests count here
}
