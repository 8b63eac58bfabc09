package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ems120/ems120/access"
	"github.com/ems120/ems120/sql"
)

// sessionView is the JSON of POST and GET /v1/session.
type sessionView struct {
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	HospitalID string     `json:"hospital_id,omitempty"`
	Via        string     `json:"via"`                  // "session" or "token"
	May        []string   `json:"may"`                  // the role's permissions: what the console shows
	CSRFToken  string     `json:"csrf_token,omitempty"` // a session's: send it as X-CSRF-Token on every POST and DELETE
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

func permissions(r access.Role) []string {
	out := []string{}
	for _, p := range r.Permissions() {
		out = append(out, string(p))
	}
	return out
}

// errSignIn is the one answer to a wrong name, a wrong password and a disabled account.
const errSignIn = "wrong name or password"

// signIn is POST /v1/session {"name", "password"}: a session cookie (HttpOnly, SameSite=Strict,
// Secure under TLS) and the session's CSRF token. Refusals: 401 (never saying whether the
// account exists), 429 while the name or the address is locked out.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request) {
	var body struct{ Name, Password string }
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err == nil {
		err = json.Unmarshal(raw, &body)
	}
	if err != nil || body.Name == "" || body.Password == "" {
		writeError(w, http.StatusBadRequest, "", `want a JSON body {"name": "...", "password": "..."}`)
		return
	}
	addr, now := clientAddress(r), time.Now()
	refuse := func(code int, reason string) {
		writeError(w, code, "", reason)
		s.writeAudit(r.Context(), sql.AuditEntry{Actor: body.Name, Action: "POST /v1/session", Status: code, Reason: reason, Address: addr})
	}
	if l := s.auth.throttle.Check(body.Name, addr, now); l != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(time.Until(l.Until).Seconds())+1))
		refuse(http.StatusTooManyRequests, l.Error())
		return
	}
	select {
	case s.auth.slots <- struct{}{}:
		defer func() { <-s.auth.slots }()
	case <-r.Context().Done():
		return
	}
	a, err := s.store.AccountByName(r.Context(), body.Name)
	switch {
	case errors.Is(err, sql.ErrNotFound):
		access.VerifyNothing(body.Password)
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "", "sign-in is not possible now: the database does not answer")
		return
	}
	ok := false
	if err == nil {
		ok, err = access.VerifyPassword(a.PasswordHash, body.Password)
		if err != nil {
			s.log.Error("sign-in: the stored password hash is not argon2id", "account", a.Name)
		}
	}
	if !ok || a.Disabled {
		if l := s.auth.throttle.Fail(body.Name, addr, now); l != nil {
			s.log.Warn("sign-in locked out after repeated failures", "by", l.What, "name", body.Name, "address", addr, "until", l.Until)
		}
		refuse(http.StatusUnauthorized, errSignIn)
		return
	}
	s.auth.throttle.Succeed(body.Name)
	s.startSession(w, r, a)
}

// startSession stores a new session for the account and sets its cookie.
func (s *Service) startSession(w http.ResponseWriter, r *http.Request, a sql.Account) {
	secret, csrf := access.NewSecret(""), access.NewSecret("")
	expires := time.Now().Add(s.cfg.SessionTTL).UTC().Truncate(time.Second)
	if err := s.store.CreateSession(r.Context(), access.SecretHash(secret), a.ID, csrf, expires); err != nil {
		writeError(w, http.StatusServiceUnavailable, "", "sign-in is not possible now: the session could not be stored")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", Expires: expires, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	s.writeAudit(r.Context(), sql.AuditEntry{Actor: a.Name, Role: a.Role, Action: "POST /v1/session", Status: http.StatusOK,
		Address: clientAddress(r)})
	writeJSON(w, http.StatusOK, sessionView{Name: a.Name, Role: a.Role, HospitalID: a.HospitalID, Via: "session",
		May: permissions(access.Role(a.Role)), CSRFToken: csrf, ExpiresAt: &expires})
}

// getSession is GET /v1/session: who the credentials belong to (and the session's CSRF token,
// for a console page that was reloaded).
func (s *Service) getSession(w http.ResponseWriter, r *http.Request) {
	id := identityOf(r)
	v := sessionView{Name: id.Name, Role: string(id.Role), HospitalID: id.HospitalID, Via: id.Via,
		May: permissions(id.Role), CSRFToken: id.CSRF}
	if !id.Expires.IsZero() {
		v.ExpiresAt = &id.Expires
	}
	writeJSON(w, http.StatusOK, v)
}

// signOut is DELETE /v1/session: the session ends here and now, and its cookie is cleared.
func (s *Service) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && identityOf(r).Via == "session" {
		hash := access.SecretHash(c.Value)
		s.auth.forget(hash)
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := s.store.EndSession(ctx, hash); err != nil {
			writeError(w, http.StatusServiceUnavailable, "", "the session could not be ended: "+err.Error())
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	writeJSON(w, http.StatusOK, map[string]string{"status": "signed out"})
}
