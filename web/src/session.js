// Who is signed in. The page asks GET /v1/session on load; without a session it shows the
// sign-in form, and a good sign-in reloads the page into the console. The session's CSRF token
// goes with every state-changing request (api.js). A 401 later means the session expired or was
// ended: the sign-in form comes back, saying so.
export const session = { name: '', role: '', hospital_id: '', csrf: '', may: [] };

// may says whether the signed-in role may do what a part of the page needs: the server's own
// list of the role's permissions (GET /v1/session), so the page keeps no copy of the rules.
export function may(what) { return session.may.includes(what); }

export function showSignIn(message) {
  document.body.classList.add('signed-out');
  const box = document.getElementById('login');
  box.hidden = false;
  const err = box.querySelector('.err');
  err.textContent = message || '';
  err.classList.toggle('on', !!message);
  box.querySelector('[name=name]').focus();
}

// expired is called on any 401 once the console runs.
let expiredShown = false;
export function expired() {
  if (expiredShown || !session.name) return;
  expiredShown = true;
  showSignIn('Your session has expired or was ended. Sign in again.');
}

async function signIn(form) {
  const err = form.querySelector('.err');
  const res = await fetch('/v1/session', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: form.name.value.trim(), password: form.password.value }),
  });
  if (res.ok) { location.reload(); return; }
  let body = {};
  try { body = await res.json(); } catch (e) { body = {}; }
  form.password.value = '';
  err.textContent = body.error || `HTTP ${res.status}`;
  err.classList.add('on');
}

export async function signOut() {
  await fetch('/v1/session', { method: 'DELETE', headers: { 'X-CSRF-Token': session.csrf } }).catch(() => null);
  location.reload();
}

// startSession resolves with the session when there is one; otherwise it shows the sign-in
// form and never resolves (a good sign-in reloads the page).
export async function startSession() {
  const form = document.querySelector('#login form');
  form.addEventListener('submit', (e) => { e.preventDefault(); signIn(form); });
  const res = await fetch('/v1/session');
  if (res.status === 401) { showSignIn(''); return new Promise(() => {}); }
  if (!res.ok) throw new Error(`GET /v1/session: HTTP ${res.status}`);
  const s = await res.json();
  Object.assign(session, { name: s.name, role: s.role, hospital_id: s.hospital_id || '', csrf: s.csrf_token || '', may: s.may });
  s.may.forEach((p) => document.body.classList.add(`may-${p}`)); // style.css hides what a role may not use
  document.body.classList.remove('signed-out');
  document.getElementById('who').textContent = `${s.name} · ${s.role}${s.hospital_id ? ' · ' + s.hospital_id : ''}`;
  document.getElementById('sign-out').addEventListener('click', signOut);
  return session;
}
