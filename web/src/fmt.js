// Small formatters shared by the boards.
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// dur formats seconds as m:ss, or h:mm:ss.
export function dur(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return (h ? h + ':' : '') + mm + ':' + String(r).padStart(2, '0');
}

export function since(iso, now) { return iso ? (now - Date.parse(iso)) / 1000 : 0; }

export function km(m) { return (m / 1000).toFixed(1) + ' km'; }

export const STATUS_LABEL = {
  available: 'available', dispatched: 'dispatched', en_route: 'en route', on_scene: 'on scene',
  transporting: 'transporting', at_hospital: 'at hospital', out_of_service: 'out of service',
};

export const STATE_LABEL = {
  received: 'received', queued: 'QUEUED', assigned: 'assigned', acknowledged: 'acknowledged', en_route: 'en route',
  on_scene: 'on scene', transporting: 'transporting', at_hospital: 'at hospital', closed: 'closed', cancelled: 'cancelled',
};

export const KIND_LABEL = { als: 'ALS', bls: 'BLS', negative_pressure: 'Neg-pressure' };

export function kindLabel(k) { return KIND_LABEL[k] || k; }
