// The supervisor's audit view: GET /v1/audit, filtered by account, call and time, newest first.
import { api } from './api.js';
import { esc } from './fmt.js';

export function setupAudit() {
  const form = document.getElementById('audit-filter');
  form.addEventListener('submit', (e) => { e.preventDefault(); renderAudit(); });
}

export async function renderAudit() {
  const form = document.getElementById('audit-filter');
  const q = new URLSearchParams({ limit: '500' });
  if (form.actor.value.trim()) q.set('actor', form.actor.value.trim());
  if (form.call_id.value.trim()) q.set('call_id', form.call_id.value.trim());
  if (form.since.value) q.set('since', new Date(form.since.value).toISOString());
  const err = document.getElementById('audit-error');
  let out;
  try {
    out = await api('GET', `/v1/audit?${q}`);
    err.textContent = ''; err.classList.remove('on');
  } catch (e) {
    err.textContent = e.message; err.classList.add('on');
    return;
  }
  document.querySelector('#audit-board tbody').innerHTML = out.entries.map((a) => `<tr class="${a.status >= 400 ? 'refused' : ''}">
    <td class="mono">${new Date(a.at).toLocaleString()}</td><td>${esc(a.actor || '—')}</td><td>${esc(a.role || '')}</td>
    <td class="mono">${esc(a.action)}</td><td class="mono">${esc(a.call_id || a.hospital_id || '')}</td><td>${a.status}</td>
    <td>${esc(a.reason || '')}</td><td class="mono">${esc(a.address || '')}</td></tr>`).join('')
    || '<tr><td colspan="8" class="empty">nothing recorded for this filter</td></tr>';
}
