// The new-call form and the hospital reporter's capacity form. The API validates; its field
// errors are shown next to the field.
import { api, showErrors, clearErrors } from './api.js';
import { state } from './store.js';
import { BEDS } from './boards.js';
import { esc } from './fmt.js';

const CATEGORIES = ['cardiac', 'respiratory', 'trauma', 'stroke', 'fever', 'maternity', 'other'];
const dialog = () => document.getElementById('new-call');
export let pendingSelect = null; // the call just placed: selected when the board shows it

export function setupNewCall() {
  const d = dialog();
  const form = d.querySelector('form');
  form.category.innerHTML = CATEGORIES.map((c) => `<option>${c}</option>`).join('');
  d.querySelector('.cancel').addEventListener('click', () => d.close());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const num = (v) => (v.trim() === '' ? null : Number(v));
    const body = {
      call_id: `C${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1296).toString(36).toUpperCase()}`,
      lat: num(form.lat.value), lng: num(form.lng.value), priority: Number(form.priority.value),
      category: form.category.value, infectious: form.infectious.checked,
    };
    if (form.address.value.trim()) body.address = form.address.value.trim();
    // Set before the request: the feed may bring the decided call before the answer comes.
    pendingSelect = body.call_id;
    try {
      await api('POST', '/v1/calls', body);
      d.close();
    } catch (err) {
      pendingSelect = null;
      showErrors(form, err);
    }
  });
}

export function openNewCall() {
  const d = dialog();
  const form = d.querySelector('form');
  if (d.open) return;
  clearErrors(form);
  form.reset();
  d.show(); // not modal: the map stays clickable to place the call
  form.lat.focus();
}

// takePending returns the call just placed once the board has it (and forgets it then).
export function takePending(has) {
  if (!pendingSelect || !has(pendingSelect)) return null;
  const p = pendingSelect;
  pendingSelect = null;
  return p;
}

export function mapClicked(ll) {
  const d = dialog();
  if (!d.open) return false;
  const form = d.querySelector('form');
  form.lat.value = ll.lat.toFixed(5);
  form.lng.value = ll.lng.toFixed(5);
  return true;
}

export function setupCapacity() {
  const form = document.getElementById('capacity-form');
  const sel = form.hospital_id;
  const fill = () => {
    const h = state.hospById.get(sel.value);
    form.accepting.checked = h ? h.accepting : true;
    form.querySelector('.beds tbody').innerHTML = BEDS.map((b) => {
      const v = h && h.beds[b];
      return `<tr><th>${b.replace('_', ' ')}</th><td><input name="${b}.total" inputmode="numeric" value="${v ? v.total : ''}"></td>
        <td><input name="${b}.occupied" inputmode="numeric" value="${v ? v.occupied + v.admitted : ''}"></td></tr>
        <tr class="errrow"><td colspan="3"><div class="err" data-for="beds.${b}"></div></td></tr>`;
    }).join('');
  };
  const options = () => {
    const cur = sel.value;
    sel.innerHTML = state.hospitals.map((h) => `<option value="${esc(h.hospital_id)}">${esc(h.name)}</option>`).join('');
    if (cur) sel.value = cur;
  };
  form.addEventListener('focusin', () => { if (!sel.options.length) { options(); fill(); } });
  sel.addEventListener('change', fill);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    form.querySelector('.ok').hidden = true;
    const beds = {};
    for (const b of BEDS) {
      const t = form[`${b}.total`].value.trim(), o = form[`${b}.occupied`].value.trim();
      if (t === '' && o === '') continue;
      beds[b] = { total: t === '' ? null : Number(t), occupied: o === '' ? null : Number(o) };
    }
    try {
      await api('POST', `/v1/hospitals/${encodeURIComponent(sel.value)}/capacity`,
        { reported_at: new Date().toISOString(), accepting: form.accepting.checked, beds });
      form.querySelector('.ok').hidden = false;
    } catch (err) {
      showErrors(form, err);
    }
  });
  return { options, fill };
}
