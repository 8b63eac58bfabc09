package dispatch

import (
	"errors"
	"fmt"
)

// Check verifies the engine's invariants and returns every violation found:
//   - a unit serves at most one live incident, and an incident with a unit is served by it;
//   - a live incident is queued (and in the queue, without a unit) or has a unit;
//   - the dispatch index holds exactly the available, unflagged units that serve nothing;
//   - a unit's status follows its incident's state.
//
// It is for tests and for the paranoid; it walks everything.
func (e *Engine) Check() error {
	var errs []error
	servedBy := map[string]string{} // call → unit
	for id, h := range e.units {
		u := e.at(h)
		if u.CallID == "" {
			continue
		}
		inc := e.incidents[u.CallID]
		if inc == nil {
			errs = append(errs, fmt.Errorf("unit %s serves %s, which is not live", id, u.CallID))
			continue
		}
		if other, dup := servedBy[u.CallID]; dup {
			errs = append(errs, fmt.Errorf("call %s is served by both %s and %s", u.CallID, other, id))
		}
		servedBy[u.CallID] = id
		if inc.UnitID != id {
			errs = append(errs, fmt.Errorf("unit %s serves %s, whose unit is %q", id, u.CallID, inc.UnitID))
		}
		if want := unitStatusOf(inc.State); u.Status != want {
			errs = append(errs, fmt.Errorf("unit %s is %s while its call %s is %s", id, u.Status, u.CallID, inc.State))
		}
	}
	queued := map[string]bool{}
	for i, inc := range e.queue {
		queued[inc.Call.CallID] = true
		if i > 0 && queueOrder(e.queue[i-1], inc) >= 0 {
			errs = append(errs, fmt.Errorf("queue out of order at %s", inc.Call.CallID))
		}
		if e.incidents[inc.Call.CallID] != inc {
			errs = append(errs, fmt.Errorf("queued call %s is not the live incident", inc.Call.CallID))
		}
	}
	for id, inc := range e.incidents {
		switch {
		case !inc.State.Live():
			errs = append(errs, fmt.Errorf("call %s is %s but still live", id, inc.State))
		case inc.State == StateQueued:
			if !queued[id] || inc.UnitID != "" {
				errs = append(errs, fmt.Errorf("call %s is queued but in the queue=%v with unit %q", id, queued[id], inc.UnitID))
			}
		case inc.State == StateReceived:
			errs = append(errs, fmt.Errorf("call %s was left in state received", id))
		default:
			if queued[id] {
				errs = append(errs, fmt.Errorf("call %s is %s and in the queue", id, inc.State))
			}
			if servedBy[id] != inc.UnitID || inc.UnitID == "" {
				errs = append(errs, fmt.Errorf("call %s is %s with unit %q, which does not serve it", id, inc.State, inc.UnitID))
			}
		}
	}
	for id, h := range e.units {
		u := e.at(h)
		want := u.Dispatchable()
		if got := e.index.Contains(u.handle); got != want {
			errs = append(errs, fmt.Errorf("unit %s (%s, call %q, flagged %v) in the dispatch index: %v", id, u.Status, u.CallID, !u.FlaggedAt.IsZero(), got))
		}
	}
	return errors.Join(errs...)
}
