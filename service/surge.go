package service

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/sql"
)

func surgeRow(sw dispatch.Surge) sql.SurgeRow {
	return sql.SurgeRow{At: sw.At, On: sw.On, Reason: sw.Reason, Actor: sw.Actor, Auto: sw.Auto}
}

// postSurge switches surge mode: body {"on": true|false, "reason": "…"}. The switch is
// recorded in the decision's transaction with what it set off (deferred calls served when
// it goes off).
func (s *Service) postSurge(w http.ResponseWriter, r *http.Request) {
	var b struct {
		On     *bool  `json:"on"`
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, "", "invalid JSON: "+err.Error())
		return
	}
	if b.On == nil {
		writeError(w, http.StatusBadRequest, "on", "missing: true to switch surge mode on, false to switch it off")
		return
	}
	var sw dispatch.Surge
	err := s.decide(r.Context(), nil, true, func(now time.Time, rec *record) ([]dispatch.Event, error) {
		var evs []dispatch.Event
		var err error
		if sw, evs, err = s.engine.SetSurge(*b.On, b.Reason, identityOf(r).Name, now); err != nil {
			return nil, refusal{err}
		}
		rec.changes.Surge = append(rec.changes.Surge, surgeRow(sw))
		return evs, nil
	})
	var ve *contract.Error
	switch {
	case err == nil:
		s.log.Warn("surge mode switched", "on", sw.On, "by", sw.Actor, "reason", sw.Reason)
		writeJSON(w, http.StatusOK, map[string]any{"surge": sw})
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, ve.Field, err.Error())
	case errors.Is(err, errNotActive):
		s.notActive(w)
	default:
		if s.roleState().stale != "" || errors.Is(err, errStopping) {
			writeError(w, http.StatusServiceUnavailable, "", err.Error())
			return
		}
		writeError(w, http.StatusConflict, "", err.Error()) // already in that state
	}
}

// getSurge: surge mode now and its last 50 switches, newest first.
func (s *Service) getSurge(w http.ResponseWriter, r *http.Request) {
	switches, err := s.store.SurgeSwitches(r.Context(), 50)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "", err.Error())
		return
	}
	s.mu.Lock()
	now := s.engine.Surge()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"surge": now, "switches": nonNil(switches)})
}
