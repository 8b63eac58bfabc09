package dispatch

import (
	"fmt"
	"slices"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

// The dispatcher's commands beyond the lifecycle's: accepting the recommendation, the ranked
// alternatives behind it, and a change of destination.

// EventDestination: the dispatcher changed the patient's destination hospital. Its
// Assignment carries the unit and the new hospital; the incident's state does not change.
const EventDestination EventType = "destination_changed"

// ReasonOperatorDestination is the reason of a destination changed by a dispatcher.
const ReasonOperatorDestination = "operator_destination"

// Accept records that the dispatcher accepted the recommended unit and the crew is rolling:
// the incident goes to en route. unitID, when given, must be the unit the call holds now —
// if the engine reassigned the call after the dispatcher looked, the accept is refused rather
// than sending a unit the dispatcher did not see.
func (e *Engine) Accept(callID, unitID string, now time.Time) ([]Event, error) {
	inc, u, err := e.live(callID)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, &TransitionError{CallID: callID, From: inc.State, To: StateEnRoute}
	}
	if unitID != "" && unitID != inc.UnitID {
		return nil, fmt.Errorf("%w: call %s is now served by %s, not %s", ErrUnitBusy, callID, inc.UnitID, unitID)
	}
	if inc.State != StateAssigned && inc.State != StateAcknowledged {
		return nil, &TransitionError{CallID: callID, From: inc.State, To: StateEnRoute}
	}
	ev, err := e.advance(inc, u, StateEnRoute, now, now)
	if err != nil {
		return nil, err
	}
	ev.Reason = "accepted by the dispatcher"
	return []Event{ev}, nil
}

// Candidate is one unit that could serve a call, as the dispatcher's alternatives show it.
type Candidate struct {
	UnitID         string
	Kind           contract.UnitKind
	StationID      string
	DistanceM      float64
	ETA            time.Duration
	WithinStandard bool
	Current        bool // the unit serving the call now
}

// Candidates ranks up to n available units for a live call by ETA (then distance, then id),
// searching circles of doubling radius up to MaxRadiusM; the unit serving the call, if any,
// comes first, marked Current.
func (e *Engine) Candidates(callID string, n int, now time.Time) ([]Candidate, error) {
	inc, cur, err := e.live(callID)
	if err != nil {
		return nil, err
	}
	c := inc.Call
	at := city.Point{Lat: c.Lat, Lng: c.Lng}
	turnout := e.cfg.Travel.Turnout(c.Priority)
	var found []candidate
	for r := e.cfg.StandardRadiusM; ; r *= 2 {
		r = min(r, e.cfg.MaxRadiusM)
		found = found[:0]
		e.index.Within(at, r, func(h int32, d float64) {
			u := e.at(h)
			found = append(found, candidate{u: u, distM: d, eta: turnout + e.cfg.Travel.Duration(u.Pos, at, now, c.Priority)})
		})
		if len(found) >= n || r >= e.cfg.MaxRadiusM {
			break
		}
	}
	slices.SortFunc(found, compareCandidates)
	out := make([]Candidate, 0, min(n, len(found))+1)
	if cur != nil {
		d := city.DistanceM(cur.Pos, at)
		eta := turnout + e.cfg.Travel.Duration(cur.Pos, at, now, c.Priority)
		out = append(out, e.candidateOf(candidate{u: cur, distM: d, eta: eta}, true))
	}
	for _, cd := range found[:min(n, len(found))] {
		out = append(out, e.candidateOf(cd, false))
	}
	return out, nil
}

func (e *Engine) candidateOf(cd candidate, current bool) Candidate {
	return Candidate{UnitID: cd.u.ID, Kind: cd.u.Kind, StationID: cd.u.StationID, DistanceM: cd.distM, ETA: cd.eta,
		WithinStandard: e.inStandard(cd), Current: current}
}

// Redirect changes a live call's destination to hospitalID, moving its reserved bed there.
// The call must hold a unit that has not yet handed the patient over.
func (e *Engine) Redirect(callID, hospitalID string, now time.Time) ([]Event, error) {
	inc, u, err := e.live(callID)
	if err != nil {
		return nil, err
	}
	if u == nil || progress[inc.State] >= progress[StateAtHospital] {
		return nil, fmt.Errorf("%w: call %s is %s; only a call with a unit on its way can change its destination",
			ErrIllegalTransition, callID, inc.State)
	}
	if e.cfg.Hospitals == nil {
		return nil, fmt.Errorf("%w: this engine has no hospitals", ErrIllegalTransition)
	}
	if err := e.cfg.Hospitals.Redirect(inc.Call, hospitalID, now); err != nil {
		return nil, err
	}
	inc.Seq++
	at := city.Point{Lat: inc.Call.Lat, Lng: inc.Call.Lng}
	d := city.DistanceM(u.Pos, at)
	eta := city.ETA(e.cfg.Travel, u.Pos, at, now, inc.Call.Priority)
	a := &contract.Assignment{CallID: callID, UnitID: u.ID, DecidedAt: now, ETAS: int(eta.Round(time.Second) / time.Second),
		DistanceM: int(d + 0.5), WithinStandard: d <= e.cfg.StandardRadiusM && eta <= e.cfg.StandardETA,
		HospitalID: hospitalID, Reason: ReasonOperatorDestination}
	return []Event{{Type: EventDestination, At: now, CallID: callID, UnitID: u.ID, State: inc.State, Assignment: a,
		Seq: inc.Seq, Reason: "destination changed to " + hospitalID + " by the dispatcher"}}, nil
}
