package service

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ems120/ems120/access"
	"github.com/ems120/ems120/sql"
)

// Every route is registered with a rule (routes.go). A request to a route that is not open
// must carry credentials: a session cookie (the console) or "Authorization: Bearer TOKEN" (a
// machine client). None, or ones that are not valid: 401. A role without the route's
// permission, another hospital than a reporter's own, or a state-changing request from a
// session without its CSRF token: 403. Every answer is JSON, and none says whether an
// account exists.

// sessionCookie is the console's session cookie.
const sessionCookie = "ems_session"

// csrfHeader carries a session's CSRF token on state-changing requests.
const csrfHeader = "X-CSRF-Token"

// rule is what a route needs.
type rule struct {
	open bool              // anyone: health, metrics, sign-in, the console's static files
	perm access.Permission // otherwise the permission the caller's role must grant
	// hospital: the path's {id} is a hospital the caller must act for (a reporter: their own).
	hospital bool
}

func open() rule                           { return rule{open: true} }
func needs(p access.Permission) rule       { return rule{perm: p} }
func forHospital(p access.Permission) rule { return rule{perm: p, hospital: true} }

// identityCacheFor is how long a checked token or session is believed without asking the
// database again; a disabled account or an ended session on another process stops working
// at most this long later. When the database does not answer, a session already checked
// stays valid until its expiry and a token for staleTokenFor, so that a database outage
// does not lock the dispatchers out of the engine's live picture.
const (
	identityCacheFor = 10 * time.Second
	staleTokenFor    = 10 * time.Minute
)

// verifySlots bounds the password verifications running at once: each takes argon2id's 19 MiB
// and about 25 ms of a core, and a burst of sign-ins must not take the dispatcher's memory or
// CPU. The rest wait their turn.
const verifySlots = 4

// auth is the state of sign-in: the throttle, the verification slots and the cache of checked
// credentials.
type auth struct {
	throttle *access.Throttle
	slots    chan struct{}
	mu       sync.Mutex
	cache    map[string]cached // key: the secret's hash
}

type cached struct {
	holder  sql.Holder
	via     string
	checked time.Time
}

func newAuth() *auth {
	return &auth{throttle: access.DefaultThrottle(), slots: make(chan struct{}, verifySlots), cache: map[string]cached{}}
}

func (a *auth) forget(hash []byte) {
	a.mu.Lock()
	delete(a.cache, string(hash))
	a.mu.Unlock()
}

// forgetAccount drops every cached credential of an account (disabled).
func (a *auth) forgetAccount(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, c := range a.cache {
		if c.holder.Name == name {
			delete(a.cache, k)
		}
	}
}

// errNoCredentials and errBadCredentials are the two 401s; errUnchecked is a 503.
var (
	errUnchecked      = errors.New("credentials could not be checked")
	errNoCredentials  = errors.New("sign in first: no session cookie and no API token (Authorization: Bearer TOKEN)")
	errBadCredentials = errors.New("the session has expired or was ended, or the API token is not valid: sign in again")
)

// identify checks the request's credentials: a bearer token first, then the session cookie.
func (s *Service) identify(r *http.Request) (access.Identity, error) {
	var secret, via string
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(tok) == "" {
			return access.Identity{}, errors.New(`the Authorization header must be "Bearer TOKEN"`)
		}
		secret, via = strings.TrimSpace(tok), "token"
	} else if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		secret, via = c.Value, "session"
	} else {
		return access.Identity{}, errNoCredentials
	}
	h, err := s.holder(r.Context(), access.SecretHash(secret), via)
	if err != nil {
		return access.Identity{}, err
	}
	role, err := access.ParseRole(h.Role)
	if err != nil {
		return access.Identity{}, err
	}
	return access.Identity{AccountID: h.ID, Name: h.Name, Role: role, HospitalID: h.HospitalID, Via: via, CSRF: h.CSRF,
		Expires: h.ExpiresAt}, nil
}

// holder finds the account behind a secret, from the cache when it was checked lately.
func (s *Service) holder(ctx context.Context, hash []byte, via string) (sql.Holder, error) {
	now := time.Now()
	s.auth.mu.Lock()
	c, hit := s.auth.cache[string(hash)]
	s.auth.mu.Unlock()
	unexpired := hit && (c.holder.ExpiresAt.IsZero() || now.Before(c.holder.ExpiresAt))
	if unexpired && now.Sub(c.checked) < identityCacheFor {
		return c.holder, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var h sql.Holder
	var err error
	if via == "token" {
		h, err = s.store.AccountByToken(ctx, hash)
	} else {
		h, err = s.store.SessionHolder(ctx, hash)
	}
	switch {
	case errors.Is(err, sql.ErrNotFound):
		s.auth.forget(hash)
		return h, errBadCredentials
	case err != nil && unexpired && (via == "session" || now.Sub(c.checked) < staleTokenFor):
		return c.holder, nil // the database is away: what was checked still holds
	case err != nil:
		return h, fmt.Errorf("%w: %w", errUnchecked, err)
	}
	s.auth.remember(hash, cached{holder: h, via: via, checked: now})
	return h, nil
}

// remember caches a checked credential. Past 1,024 entries it first drops those no longer of
// use — expired, or checked longer ago than a stale token may be believed — so that a
// process up for months does not keep every session it ever saw.
func (a *auth) remember(hash []byte, c cached) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= 1024 {
		for k, e := range a.cache {
			if c.checked.Sub(e.checked) > staleTokenFor || (!e.holder.ExpiresAt.IsZero() && !c.checked.Before(e.holder.ExpiresAt)) {
				delete(a.cache, k)
			}
		}
	}
	a.cache[string(hash)] = c
}

// authorize applies a route's rule to an identified caller; nil when it may go ahead.
func authorize(id access.Identity, rl rule, r *http.Request) error {
	if id.Via == "session" && unsafeMethod(r.Method) {
		got := r.Header.Get(csrfHeader)
		if got == "" {
			return fmt.Errorf("missing %s header: a state-changing request from the console must carry its CSRF token", csrfHeader)
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(id.CSRF)) != 1 {
			return fmt.Errorf("the %s header does not match this session's CSRF token", csrfHeader)
		}
	}
	if !id.Role.Allows(rl.perm) {
		return fmt.Errorf("the %s role may not do this (it needs the %q permission)", id.Role, rl.perm)
	}
	if rl.hospital && !id.MayActFor(r.PathValue("id")) {
		return fmt.Errorf("%s reports for hospital %s only, not %s", id.Name, id.HospitalID, r.PathValue("id"))
	}
	return nil
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// identityKey holds the caller's identity in a request's context.
type identityKey struct{}

// identityOf is the caller of a request that passed its rule (zero on an open route).
func identityOf(r *http.Request) access.Identity {
	id, _ := r.Context().Value(identityKey{}).(access.Identity)
	return id
}

// clientAddress is the request's peer IP. X-Forwarded-For is not believed: anyone could set
// it to dodge the sign-in throttle.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
