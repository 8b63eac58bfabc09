// Calls to the ems120 HTTP API. Every error answer is JSON {error, field}; apiError keeps both
// so a form can show the reason next to its field.

import { session, expired } from './session.js';

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : `HTTP ${status}`);
    this.status = status;
    this.field = body && body.field ? body.field : '';
  }
}

export async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = session.csrf;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 401) expired();
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// showErrors puts an ApiError's reason under the form's field (or the form's general line).
export function showErrors(form, err) {
  clearErrors(form);
  const slot = form.querySelector(`.err[data-for="${err.field || ''}"]`) || form.querySelector('.err[data-for=""]');
  if (slot) { slot.textContent = err.message; slot.classList.add('on'); }
  const input = err.field && form.querySelector(`[name="${err.field}"]`);
  if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
}

// Once a field is edited its error no longer describes it: one listener for every form.
document.addEventListener('input', (ev) => {
  const input = ev.target;
  if (!input.form || !input.hasAttribute('aria-invalid')) return;
  input.removeAttribute('aria-invalid');
  const slot = input.form.querySelector(`.err[data-for="${input.name}"]`);
  if (slot) { slot.textContent = ''; slot.classList.remove('on'); }
});

export function clearErrors(form) {
  form.querySelectorAll('.err').forEach((e) => { e.textContent = ''; e.classList.remove('on'); });
  form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
}
