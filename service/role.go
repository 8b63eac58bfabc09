package service

import (
	"fmt"

	"github.com/ems120/ems120/sql"
)

// roleState is what the service tells /healthz and /readyz about itself.
type roleState struct {
	role   role
	active sql.Lease // the lease as last seen: its holder is the active service
	known  bool      // active is known
	cond   string    // why a standby could not do its work (the database is away, say)
	stale  string    // why the active service decides nothing: its engine awaits a rebuild
}

// problem is why the service is not ready, or "".
func (st roleState) problem() string {
	switch {
	case st.stale != "":
		return st.stale
	case st.cond != "":
		return st.cond
	}
	return ""
}

// activeName names the active service for a standby's answers.
func (st roleState) activeName() string {
	if !st.known || st.active.Expired {
		return "no service holds the lease now; one takes over within seconds"
	}
	if st.active.HTTP != "" {
		return fmt.Sprintf("the active one is %s at http://%s", st.active.Holder, st.active.HTTP)
	}
	return "the active one is " + st.active.Holder
}

func (s *Service) roleState() roleState {
	s.roleMu.Lock()
	defer s.roleMu.Unlock()
	return s.rs
}

func (s *Service) updateRole(f func(*roleState)) {
	s.roleMu.Lock()
	f(&s.rs)
	st := s.rs
	s.roleMu.Unlock()
	active := 0.0
	if st.role == roleActive {
		active = 1
	}
	s.metrics.active.Set(active)
}

func (s *Service) setRole(r role) {
	s.updateRole(func(st *roleState) {
		st.role = r
		if r == roleActive {
			st.cond = ""
		}
	})
}

// setStandby records that another process holds lease l.
func (s *Service) setStandby(l sql.Lease) {
	s.updateRole(func(st *roleState) { st.role, st.active, st.known = roleStandby, l, true })
}

func (s *Service) setCondition(c string) { s.updateRole(func(st *roleState) { st.cond = c }) }

func (s *Service) setStale(reason string) { s.updateRole(func(st *roleState) { st.stale = reason }) }
