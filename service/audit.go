package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ems120/ems120/access"
	"github.com/ems120/ems120/sql"
)

// guard applies a route's rule to every request, and writes the audit trail: every
// state-changing request, done or refused, and every read refused for its role.
func (s *Service) guard(pattern string, rl rule, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rl.open {
			h.ServeHTTP(w, r)
			return
		}
		id, err := s.identify(r)
		if err != nil {
			code := http.StatusUnauthorized
			if errors.Is(err, errUnchecked) {
				code = http.StatusServiceUnavailable
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="ems120"`)
			writeError(w, code, "", err.Error())
			if unsafeMethod(r.Method) {
				s.audit(r, pattern, id, &auditNote{}, code, err.Error())
			}
			return
		}
		note := &auditNote{}
		if err := authorize(id, rl, r); err != nil {
			writeError(w, http.StatusForbidden, "", err.Error())
			s.audit(r, pattern, id, note, http.StatusForbidden, err.Error())
			return
		}
		ctx := context.WithValue(context.WithValue(r.Context(), identityKey{}, id), auditKey{}, note)
		r = r.WithContext(ctx)
		if !unsafeMethod(r.Method) {
			h.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.audit(r, pattern, id, note, rec.status, rec.reason())
	})
}

// auditNote is what a handler adds to its request's audit entry: the call or hospital it
// acted on when the path does not name it (a new call).
type auditNote struct{ callID, hospitalID string }

type auditKey struct{}

// noteAudit sets the call a request acted on, for its audit entry.
func noteAudit(r *http.Request, callID string) {
	if n, ok := r.Context().Value(auditKey{}).(*auditNote); ok {
		n.callID = callID
	}
}

// audit appends a request's entry to the audit trail. A failure to write it is logged; the
// request's answer has gone already.
func (s *Service) audit(r *http.Request, pattern string, id access.Identity, note *auditNote, status int, reason string) {
	e := sql.AuditEntry{Actor: id.Name, Role: string(id.Role), Action: pattern, CallID: note.callID,
		HospitalID: note.hospitalID, Status: status, Reason: reason, Address: clientAddress(r)}
	switch {
	case strings.Contains(pattern, "/v1/calls/{id}"):
		e.CallID = r.PathValue("id")
	case strings.Contains(pattern, "/v1/hospitals/{id}"):
		e.HospitalID = r.PathValue("id")
	case strings.Contains(pattern, "/v1/accounts/{name}"):
		e.Reason = strings.TrimSpace("account " + r.PathValue("name") + " " + reason)
	}
	s.writeAudit(r.Context(), e)
}

func (s *Service) writeAudit(ctx context.Context, e sql.AuditEntry) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if err := s.store.Audit(ctx, e); err != nil {
		s.log.Error("audit trail: an entry could not be written", "action", e.Action, "actor", e.Actor, "status", e.Status, "err", err)
	}
}

// statusRecorder keeps a response's status and, for an error, the start of its body (the
// reason, for the audit entry).
type statusRecorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (w *statusRecorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status >= 400 && len(w.body) < 1024 {
		w.body = append(w.body, b[:min(len(b), 1024-len(w.body))]...)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// reason is the error of an error response, "" otherwise.
func (w *statusRecorder) reason() string {
	if w.status < 400 {
		return ""
	}
	var e apiError
	if json.Unmarshal(w.body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return http.StatusText(w.status)
}

// getAudit is GET /v1/audit?actor=&call_id=&since=&until=&limit=: who did what, newest first.
func (s *Service) getAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := sql.AuditFilter{Actor: q.Get("actor"), CallID: q.Get("call_id")}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, p.name, p.name+": want an RFC 3339 time like 2026-12-05T08:00:00Z")
				return
			}
			*p.to = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit", "limit: want 1 to 1000")
			return
		}
		f.Limit = n
	}
	entries, err := s.store.AuditLog(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	if entries == nil {
		entries = []sql.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "count": len(entries)})
}
