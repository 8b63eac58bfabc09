package dispatch

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch/fleetindex"
)

// candidate is a unit that could go to a call.
type candidate struct {
	u     *Unit
	distM float64
	eta   time.Duration
}

// better orders candidates: smaller ETA, then shorter distance, then smaller unit id, so
// every decision is deterministic.
func better(a, b candidate) bool { return compareCandidates(a, b) < 0 }

func compareCandidates(a, b candidate) int {
	return cmp.Or(cmp.Compare(a.eta, b.eta), cmp.Compare(a.distM, b.distM), cmp.Compare(a.u.ID, b.u.ID))
}

// preferredKind is the unit kind a call should get where one can arrive in time: a
// negative-pressure unit for a fever or infectious patient, ALS for priority 1.
func preferredKind(c contract.Call) contract.UnitKind {
	switch {
	case c.NeedsIsolation():
		return contract.KindNegativePressure
	case c.Priority == 1:
		return contract.KindALS
	}
	return ""
}

func (e *Engine) inStandard(cd candidate) bool {
	return cd.distM <= e.cfg.StandardRadiusM && cd.eta <= e.cfg.StandardETA
}

// bestIn finds the unit of x with the smallest ETA to the call within r metres, of the given
// kind (any when empty), and — when inStd — inside the standard. With a Linear travel model
// ETA grows with distance, so that is the nearest unit, found by the index's ring search in a
// few microseconds; any other model gets every unit within r and its ETA. Ties go by
// distance, then unit id, in both.
func (e *Engine) bestIn(x *fleetindex.Index, c contract.Call, r float64, now time.Time, kind contract.UnitKind, inStd bool) (candidate, bool) {
	at := city.Point{Lat: c.Lat, Lng: c.Lng}
	turnout := e.cfg.Travel.Turnout(c.Priority)
	if lm, ok := e.cfg.Travel.(city.Linear); ok {
		spm := lm.SecondsPerMetre(now, c.Priority)
		if inStd {
			r = min(r, e.cfg.StandardRadiusM, (e.cfg.StandardETA-turnout).Seconds()/spm)
		}
		var accept func(int32) bool
		switch reserved := e.reservedFor(c); {
		case kind != "":
			tag := kindTag(kind)
			accept = func(h int32) bool { return e.kindOf[h] == tag }
		case reserved != "":
			tag := kindTag(reserved)
			accept = func(h int32) bool { return e.kindOf[h] != tag }
		}
		h, d, ok := x.Nearest(at, r, accept)
		if !ok {
			return candidate{}, false
		}
		return candidate{u: e.at(h), distM: d, eta: turnout + time.Duration(d*spm*float64(time.Second))}, true
	}
	var best candidate
	found := false
	reserved := e.reservedFor(c)
	x.Within(at, r, func(h int32, d float64) {
		u := e.at(h)
		if (kind != "" && u.Kind != kind) || (reserved != "" && u.Kind == reserved) {
			return
		}
		cd := candidate{u: u, distM: d, eta: turnout + e.cfg.Travel.Duration(u.Pos, at, now, c.Priority)}
		if inStd && !e.inStandard(cd) {
			return
		}
		if !found || better(cd, best) {
			best, found = cd, true
		}
	})
	return best, found
}

// choose picks the unit for a call. Inside the standard (5 km and 15 min) it takes the
// smallest ETA, but a unit of the preferred kind that is also inside the standard goes before
// a nearer unit of another kind. When nothing is inside the standard it searches circles of
// doubling radius up to MaxRadiusM and takes the smallest ETA there (within_standard false).
func (e *Engine) choose(c contract.Call, now time.Time) (best candidate, reason string, within, ok bool) {
	if best, ok := e.bestIn(e.index, c, e.cfg.StandardRadiusM, now, "", true); ok {
		pref := preferredKind(c)
		if pref == "" || best.u.Kind == pref {
			return best, ReasonNearest, true, true
		}
		if kind, ok := e.bestIn(e.index, c, e.cfg.StandardRadiusM, now, pref, true); ok {
			return kind, ReasonNearestOfKind, true, true
		}
		return best, fmt.Sprintf(ReasonNoKindInTime, pref), true, true
	}
	for r := 2 * e.cfg.StandardRadiusM; ; r *= 2 {
		r = min(r, e.cfg.MaxRadiusM)
		if best, ok := e.bestIn(e.index, c, r, now, "", false); ok {
			return best, ReasonBeyondStandard, false, true
		}
		if r >= e.cfg.MaxRadiusM {
			return candidate{}, "", false, false
		}
	}
}

// dispatch assigns the best unit to inc or queues it. reason, when not empty, replaces the
// assignment's reason (a reassignment says why it happened).
func (e *Engine) dispatch(inc *Incident, now time.Time, reason string, evs []Event) []Event {
	best, why, _, ok := e.choose(inc.Call, now)
	if !ok {
		inc.State, inc.UnitID = StateQueued, ""
		e.enqueue(inc)
		return append(evs, Event{Type: EventQueued, At: now, CallID: inc.Call.CallID, State: StateQueued,
			Reason: fmt.Sprintf("no available unit within %.0f km", e.cfg.MaxRadiusM/1000)})
	}
	if reason != "" {
		why = reason + "; " + why
	}
	return append(evs, e.assign(inc, best.u, best.distM, best.eta, why, now))
}

// assign puts u on inc and returns the assignment event.
func (e *Engine) assign(inc *Incident, u *Unit, distM float64, eta time.Duration, reason string, now time.Time) Event {
	inc.State, inc.UnitID, inc.AssignedAt = StateAssigned, u.ID, now
	inc.Seq++
	e.setCall(u, inc.Call.CallID)
	e.setStatus(u, contract.StatusDispatched, now)
	a := &contract.Assignment{
		CallID: inc.Call.CallID, UnitID: u.ID, DecidedAt: now,
		ETAS: int(eta.Round(time.Second) / time.Second), DistanceM: int(distM + 0.5),
		WithinStandard: distM <= e.cfg.StandardRadiusM && eta <= e.cfg.StandardETA, Reason: reason,
	}
	if e.cfg.Hospitals != nil {
		hid, hreason := e.cfg.Hospitals.Destination(inc.Call, now)
		a.HospitalID = hid
		// The usual case, the nearest suitable hospital, goes without saying.
		if hreason != "" && hreason != ReasonNearest {
			a.Reason += "; hospital " + hreason
		}
	}
	return Event{Type: EventAssigned, At: now, CallID: inc.Call.CallID, UnitID: u.ID, State: StateAssigned,
		Assignment: a, Seq: inc.Seq, Reason: a.Reason}
}

// serveQueue gives a unit that just became available to the first queued call (by priority,
// then age) within MaxRadiusM of it.
func (e *Engine) serveQueue(u *Unit, now time.Time) []Event {
	if !u.Dispatchable() {
		return nil
	}
	for _, inc := range e.queue {
		if (!inc.DeferredUntil.IsZero() && now.Before(inc.DeferredUntil)) || e.reservedFor(inc.Call) == u.Kind {
			continue // deferred in surge mode, or this unit is kept for fever calls
		}
		at := city.Point{Lat: inc.Call.Lat, Lng: inc.Call.Lng}
		d := city.DistanceM(u.Pos, at)
		if d > e.cfg.MaxRadiusM {
			continue
		}
		e.dequeue(inc)
		inc.DeferredUntil = time.Time{}
		eta := city.ETA(e.cfg.Travel, u.Pos, at, now, inc.Call.Priority)
		return []Event{e.assign(inc, u, d, eta, ReasonFromQueue, now)}
	}
	return nil
}

// AssignQueued tries every queued call against the available fleet, in queue order. It is
// for start-up, when restored queued calls and available units meet for the first time.
func (e *Engine) AssignQueued(now time.Time) []Event {
	var evs []Event
	for _, inc := range slices.Clone(e.queue) {
		if _, _, ok := e.index.Nearest(city.Point{Lat: inc.Call.Lat, Lng: inc.Call.Lng}, e.cfg.MaxRadiusM, nil); !ok {
			continue
		}
		e.dequeue(inc)
		evs = e.dispatch(inc, now, ReasonFromQueue, evs)
	}
	return evs
}

// preempt lets a priority-1 call take a unit on its way to a priority 3–4 call, when that
// unit is inside the standard and arrives PreemptSaving sooner than the best available one
// (or no available unit is inside the standard). The lower call is dispatched again.
func (e *Engine) preempt(inc *Incident, now time.Time, evs []Event) ([]Event, bool) {
	victim, found := e.bestIn(e.preemptive, inc.Call, e.cfg.StandardRadiusM, now, "", true)
	if !found {
		return nil, false
	}
	if best, _, within, ok := e.choose(inc.Call, now); ok && within && best.eta-victim.eta <= e.cfg.PreemptSaving {
		return nil, false
	}
	u := victim.u
	lower := e.incidents[u.CallID]
	evs = append(evs, Event{Type: EventPreempted, At: now, CallID: lower.Call.CallID, UnitID: u.ID, State: lower.State,
		Reason: fmt.Sprintf("unit taken by priority-1 call %s", inc.Call.CallID)})
	e.setCall(u, "")
	lower.UnitID = ""
	evs = append(evs, e.assign(inc, u, victim.distM, victim.eta, ReasonPreempting, now))
	return e.dispatch(lower, now, ReasonPreemptedVictim, evs), true
}
