package dispatch

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

// State is where an incident is in its life.
type State string

// Incident states.
const (
	StateReceived     State = "received"
	StateQueued       State = "queued"
	StateAssigned     State = "assigned"
	StateAcknowledged State = "acknowledged"
	StateEnRoute      State = "en_route"
	StateOnScene      State = "on_scene"
	StateTransporting State = "transporting"
	StateAtHospital   State = "at_hospital"
	StateClosed       State = "closed"
	StateCancelled    State = "cancelled"
)

// Live reports whether an incident in state s still needs the dispatcher's attention.
func (s State) Live() bool { return s != StateClosed && s != StateCancelled && s != "" }

// progress orders the states in which a unit serves the incident.
var progress = map[State]int{
	StateAssigned: 1, StateAcknowledged: 2, StateEnRoute: 3, StateOnScene: 4, StateTransporting: 5, StateAtHospital: 6,
}

// CanMove reports whether an incident may go from one state to another: forward along the
// unit's progress (a crew that forgets a button may skip one), closed once the unit is on
// scene, and cancelled, (re)assigned or queued (a reassignment that finds no unit) from any
// live state.
func CanMove(from, to State) bool {
	if !from.Live() {
		return false
	}
	switch to {
	case StateCancelled, StateAssigned, StateQueued:
		return true
	case StateClosed:
		return progress[from] >= progress[StateOnScene]
	case StateAcknowledged, StateEnRoute, StateOnScene, StateTransporting, StateAtHospital:
		return progress[from] >= progress[StateAssigned] && progress[to] > progress[from]
	}
	return false
}

// unitStatusOf is the status a unit has while its incident is in state s.
func unitStatusOf(s State) contract.UnitStatus {
	switch s {
	case StateEnRoute:
		return contract.StatusEnRoute
	case StateOnScene:
		return contract.StatusOnScene
	case StateTransporting:
		return contract.StatusTransporting
	case StateAtHospital:
		return contract.StatusAtHospital
	default:
		return contract.StatusDispatched
	}
}

// stateOfStatus is the incident state a unit's progress status reports.
var stateOfStatus = map[contract.UnitStatus]State{
	contract.StatusEnRoute:      StateEnRoute,
	contract.StatusOnScene:      StateOnScene,
	contract.StatusTransporting: StateTransporting,
	contract.StatusAtHospital:   StateAtHospital,
}

// EventType says what happened to an incident.
type EventType string

// Event types: one per step of the lifecycle, and the escalations.
const (
	EventReceived     EventType = "received"
	EventQueued       EventType = "queued"
	EventAssigned     EventType = "assigned"
	EventAcknowledged EventType = "acknowledged"
	EventEnRoute      EventType = "en_route"
	EventOnScene      EventType = "on_scene"
	EventTransporting EventType = "transporting"
	EventAtHospital   EventType = "at_hospital"
	EventClosed       EventType = "closed"
	EventCancelled    EventType = "cancelled"
	EventAckTimeout   EventType = "ack_timeout"   // the unit did not acknowledge; it is flagged
	EventUnitLost     EventType = "unit_lost"     // the unit went out of service
	EventUnitReleased EventType = "unit_released" // the unit cleared before arriving
	EventPreempted    EventType = "preempted"     // the unit was taken by a priority-1 call
)

// Event is one step of an incident. Events are returned in the order they happened.
type Event struct {
	Type       EventType
	At         time.Time
	CallID     string
	UnitID     string
	State      State // the incident's state after this event
	Assignment *contract.Assignment
	Seq        int // for EventAssigned: 1 for the first assignment of the call, 2 for the next…
	Reason     string
	Actor      string // the account whose command caused it, set by the caller; empty for the engine's own
}

// advance moves an incident to a later state of its unit's progress.
func (e *Engine) advance(inc *Incident, u *Unit, to State, at, now time.Time) (Event, error) {
	if !CanMove(inc.State, to) {
		return Event{}, &TransitionError{CallID: inc.Call.CallID, From: inc.State, To: to}
	}
	inc.State = to
	e.setStatus(u, unitStatusOf(to), at)
	if to == StateAtHospital && e.cfg.Hospitals != nil {
		e.cfg.Hospitals.Handover(inc.Call.CallID, at)
	}
	return Event{Type: EventType(to), At: now, CallID: inc.Call.CallID, UnitID: u.ID, State: to}, nil
}

func (e *Engine) setStatus(u *Unit, s contract.UnitStatus, at time.Time) {
	if u.Status != s {
		u.Status = s
		u.StatusAt = at
		e.markChanged(u)
	}
	e.reindex(u)
}

// setCall changes the incident a unit serves.
func (e *Engine) setCall(u *Unit, callID string) {
	if u.CallID != callID {
		u.CallID = callID
		e.markChanged(u)
	}
}

// finish ends an incident (closed or cancelled) and frees its unit, which then serves the
// queue.
func (e *Engine) finish(inc *Incident, to State, reason string, now time.Time) []Event {
	evs := []Event{{Type: EventType(to), At: now, CallID: inc.Call.CallID, UnitID: inc.UnitID, State: to, Reason: reason}}
	carried := progress[inc.State] >= progress[StateTransporting] && inc.Call.NeedsIsolation()
	inc.State = to
	e.dequeue(inc)
	delete(e.incidents, inc.Call.CallID)
	e.finished.add(inc.Call.CallID)
	if e.cfg.Hospitals != nil {
		e.cfg.Hospitals.Release(inc.Call.CallID)
	}
	if u := e.unit(inc.UnitID); u != nil && u.CallID == inc.Call.CallID {
		e.setCall(u, "")
		if carried && e.cfg.Decontamination > 0 {
			u.DeconUntil = now.Add(e.cfg.Decontamination)
			e.decon[u.ID] = struct{}{}
			evs[0].Reason = strings.TrimPrefix(reason+"; ", "; ") + "unit decontaminating until " + u.DeconUntil.UTC().Format(time.RFC3339)
		}
		if u.Status != contract.StatusOutOfService {
			e.setStatus(u, contract.StatusAvailable, now)
			evs = append(evs, e.serveQueue(u, now)...)
		} else {
			e.reindex(u)
		}
	}
	return evs
}

// detach takes the unit off its incident (it was lost, released, preempted or silent) and
// dispatches the incident again.
func (e *Engine) detach(inc *Incident, u *Unit, typ EventType, why, reassignReason string, now time.Time) []Event {
	evs := []Event{{Type: typ, At: now, CallID: inc.Call.CallID, UnitID: u.ID, State: inc.State, Reason: why}}
	e.setCall(u, "")
	inc.UnitID = ""
	e.reindex(u)
	return e.dispatch(inc, now, reassignReason, evs)
}

// Ping applies a unit's position and status report and returns what followed for incidents.
//
// While the unit serves an incident: "dispatched" acknowledges the dispatch; en_route,
// on_scene, transporting and at_hospital move the incident along (a step backwards is a
// *TransitionError: the position is kept, the status is not); "available" closes an incident
// the unit has reached, and before that releases the unit and dispatches the call again;
// "out_of_service" takes the unit off and dispatches the call again. A status older than the
// engine's last change of it (say "available", sent before the unit heard of its dispatch)
// is history: the position is used, the status is not.
func (e *Engine) Ping(p contract.UnitPing, now time.Time) ([]Event, error) {
	u := e.unit(p.UnitID)
	if u == nil {
		if p.Kind == "" {
			return nil, fmt.Errorf("%w %s: a first ping must carry its kind", ErrUnknownUnit, p.UnitID)
		}
		if err := e.AddUnit(Unit{ID: p.UnitID, Kind: p.Kind, StationID: p.StationID, Pos: city.Point{Lat: p.Lat, Lng: p.Lng},
			Status: contract.StatusOutOfService, PingAt: p.At, StatusAt: p.At}); err != nil {
			return nil, err
		}
		u = e.unit(p.UnitID)
	} else if p.At.Before(u.PingAt) {
		return nil, fmt.Errorf("%w: %s at %s is older than %s", ErrStalePing, p.UnitID,
			p.At.Format(time.RFC3339Nano), u.PingAt.Format(time.RFC3339Nano))
	} else if p.Kind != "" && !p.Kind.Valid() {
		return nil, fmt.Errorf("ping from %s: unknown kind %q", p.UnitID, p.Kind)
	}
	u.Pos = city.Point{Lat: p.Lat, Lng: p.Lng}
	u.PingAt = p.At
	e.markMoved(u)
	if p.StationID != "" && p.StationID != u.StationID {
		u.StationID = p.StationID
		e.markChanged(u)
	}
	if p.Kind != "" && p.Kind != u.Kind {
		e.setKind(u, p.Kind)
	}
	if !u.FlaggedAt.IsZero() && p.At.After(u.FlaggedAt) {
		u.FlaggedAt = time.Time{} // it speaks again
		e.flagged--
		e.markChanged(u)
	}
	if p.At.Before(u.StatusAt) {
		e.reindex(u)
		return nil, nil
	}
	inc := e.incidents[u.CallID]
	if u.CallID == "" || inc == nil {
		e.setCall(u, "")
		e.setStatus(u, p.Status, p.At)
		if u.Status == contract.StatusAvailable {
			return e.serveQueue(u, now), nil
		}
		return nil, nil
	}
	switch p.Status {
	case contract.StatusDispatched:
		if inc.State == StateAssigned {
			ev, err := e.advance(inc, u, StateAcknowledged, p.At, now)
			return []Event{ev}, err
		}
		e.reindex(u)
		return nil, nil
	case contract.StatusAvailable:
		if progress[inc.State] >= progress[StateOnScene] {
			return e.finish(inc, StateClosed, "unit available again", now), nil
		}
		evs := e.detach(inc, u, EventUnitReleased, "unit reported available before arriving", ReasonUnitReleased, now)
		e.setStatus(u, contract.StatusAvailable, p.At)
		return append(evs, e.serveQueue(u, now)...), nil
	case contract.StatusOutOfService:
		e.setStatus(u, contract.StatusOutOfService, p.At)
		return e.detach(inc, u, EventUnitLost, "unit went out of service", ReasonUnitLost, now), nil
	default:
		to := stateOfStatus[p.Status]
		if to == inc.State {
			e.reindex(u)
			return nil, nil
		}
		ev, err := e.advance(inc, u, to, p.At, now)
		if err != nil {
			e.reindex(u)
			return nil, err
		}
		return []Event{ev}, nil
	}
}

// Acknowledge records that the unit serving a call acknowledged its dispatch (by radio,
// through a dispatcher).
func (e *Engine) Acknowledge(callID, unitID string, now time.Time) ([]Event, error) {
	inc, u, err := e.live(callID)
	if err != nil {
		return nil, err
	}
	if unitID != "" && unitID != inc.UnitID {
		return nil, fmt.Errorf("%w: call %s is served by %q, not %s", ErrUnitBusy, callID, inc.UnitID, unitID)
	}
	if u == nil {
		return nil, &TransitionError{CallID: callID, From: inc.State, To: StateAcknowledged}
	}
	ev, err := e.advance(inc, u, StateAcknowledged, now, now)
	if err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}

// Cancel ends a live call (the caller hung up, a duplicate call, the dispatcher's decision)
// and frees its unit.
func (e *Engine) Cancel(callID, reason string, now time.Time) ([]Event, error) {
	inc, _, err := e.live(callID)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = "cancelled"
	}
	return e.finish(inc, StateCancelled, reason, now), nil
}

// Close ends a call whose unit has reached the scene (a crew that forgot to report).
func (e *Engine) Close(callID string, now time.Time) ([]Event, error) {
	inc, _, err := e.live(callID)
	if err != nil {
		return nil, err
	}
	if !CanMove(inc.State, StateClosed) {
		return nil, &TransitionError{CallID: callID, From: inc.State, To: StateClosed}
	}
	return e.finish(inc, StateClosed, "closed by dispatcher", now), nil
}

// Assign puts a dispatcher's chosen unit on a call, whatever the engine would have chosen.
// The unit must be available; the call's previous unit, if any, is freed.
func (e *Engine) Assign(callID, unitID string, now time.Time) ([]Event, error) {
	inc, prev, err := e.live(callID)
	if err != nil {
		return nil, err
	}
	u := e.unit(unitID)
	if u == nil {
		return nil, fmt.Errorf("%w %s", ErrUnknownUnit, unitID)
	}
	if u == prev {
		return nil, nil
	}
	if u.CallID != "" || u.Status != contract.StatusAvailable {
		return nil, fmt.Errorf("%w: %s is %s%s", ErrUnitBusy, unitID, u.Status, servingSuffix(u))
	}
	var evs []Event
	if prev != nil {
		e.setCall(prev, "")
		inc.UnitID = ""
		e.setStatus(prev, contract.StatusAvailable, now)
		evs = append(evs, Event{Type: EventUnitReleased, At: now, CallID: callID, UnitID: prev.ID, State: inc.State,
			Reason: "replaced by the dispatcher"})
	}
	e.dequeue(inc)
	at := city.Point{Lat: inc.Call.Lat, Lng: inc.Call.Lng}
	d := city.DistanceM(u.Pos, at)
	eta := city.ETA(e.cfg.Travel, u.Pos, at, now, inc.Call.Priority)
	evs = append(evs, e.assign(inc, u, d, eta, ReasonOperatorOverride, now))
	if prev != nil {
		evs = append(evs, e.serveQueue(prev, now)...)
	}
	return evs, nil
}

func servingSuffix(u *Unit) string {
	if u.CallID != "" {
		return " serving " + u.CallID
	}
	if !u.FlaggedAt.IsZero() {
		return " (flagged: no acknowledgement)"
	}
	return ""
}

func (e *Engine) live(callID string) (*Incident, *Unit, error) {
	inc := e.incidents[callID]
	if inc == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrUnknownCall, callID)
	}
	var u *Unit
	if inc.UnitID != "" {
		u = e.unit(inc.UnitID)
	}
	return inc, u, nil
}

// Tick escalates dispatches not acknowledged within AckTimeout: the silent unit is flagged
// (not dispatched again until it reports) and the call goes to the next best unit. Calls are
// handled in deadline order.
func (e *Engine) Tick(now time.Time) []Event {
	evs := e.endDecontamination(now)
	evs = append(evs, e.deferredDue(now)...)
	if e.cfg.AckTimeout < 0 {
		return evs
	}
	var late []*Incident
	for _, inc := range e.incidents {
		if inc.State == StateAssigned && !now.Before(inc.AssignedAt.Add(e.cfg.AckTimeout)) {
			late = append(late, inc)
		}
	}
	slices.SortFunc(late, func(a, b *Incident) int {
		return cmp.Or(a.AssignedAt.Compare(b.AssignedAt), cmp.Compare(a.Call.CallID, b.Call.CallID))
	})
	for _, inc := range late {
		if inc.State != StateAssigned { // changed by an earlier escalation in this tick
			continue
		}
		u := e.unit(inc.UnitID)
		if u == nil {
			continue
		}
		if u.FlaggedAt.IsZero() {
			e.flagged++
		}
		u.FlaggedAt = now
		e.markChanged(u)
		evs = append(evs, e.detach(inc, u, EventAckTimeout,
			fmt.Sprintf("no acknowledgement within %s", e.cfg.AckTimeout), ReasonNoAck, now)...)
	}
	return evs
}

// endDecontamination returns to dispatch the units whose decontamination has ended (in id
// order), each taking the first queued call it can.
func (e *Engine) endDecontamination(now time.Time) []Event {
	var done []string
	for id := range e.decon {
		if u := e.unit(id); u != nil && !now.Before(u.DeconUntil) {
			done = append(done, id)
		}
	}
	slices.Sort(done)
	var evs []Event
	for _, id := range done {
		u := e.unit(id)
		delete(e.decon, id)
		u.DeconUntil = time.Time{}
		e.markChanged(u)
		e.reindex(u)
		evs = append(evs, e.serveQueue(u, now)...)
	}
	return evs
}
