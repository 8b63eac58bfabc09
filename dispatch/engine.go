// Package dispatch decides which ambulance goes to which call. It keeps the fleet in an H3
// index, tracks every live incident from receipt to closure, and queues calls that no unit
// can serve. It does no I/O and reads no clock: it is fed calls and unit pings with their
// times and returns the events that follow, which the caller persists and publishes.
//
// An Engine is not safe for concurrent use; the service serialises access to it.
package dispatch

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

// Errors returned for pings the engine cannot use.
var (
	// ErrUnknownUnit: a ping from a unit the engine does not know, without a kind to register it.
	ErrUnknownUnit = errors.New("unknown unit")
	// ErrStalePing: a ping older than one already applied for the same unit. It is not bad
	// input (networks reorder), so callers count it rather than dead-letter it.
	ErrStalePing = errors.New("stale ping")
)

// State is where an incident is in its life.
type State string

// Incident states.
const (
	StateReceived     State = "received"
	StateQueued       State = "queued"
	StateAssigned     State = "assigned"
	StateEnRoute      State = "en_route"
	StateOnScene      State = "on_scene"
	StateTransporting State = "transporting"
	StateAtHospital   State = "at_hospital"
	StateClosed       State = "closed"
	StateCancelled    State = "cancelled"
)

// Live reports whether an incident in state s still needs the dispatcher's attention.
func (s State) Live() bool { return s != StateClosed && s != StateCancelled }

// stateOfUnit is the incident state that a unit's reported status implies.
var stateOfUnit = map[contract.UnitStatus]State{
	contract.StatusDispatched:   StateAssigned,
	contract.StatusEnRoute:      StateEnRoute,
	contract.StatusOnScene:      StateOnScene,
	contract.StatusTransporting: StateTransporting,
	contract.StatusAtHospital:   StateAtHospital,
}

// EventType says what happened to an incident.
type EventType string

// Event types.
const (
	EventReceived EventType = "received"
	EventQueued   EventType = "queued"
	EventAssigned EventType = "assigned"
	EventStatus   EventType = "status"    // the unit reported progress (en route, on scene, …)
	EventUnitLost EventType = "unit_lost" // the unit went out of service during the incident
	EventClosed   EventType = "closed"
)

// Reasons an assignment gives for its unit.
const (
	ReasonNearest         = "nearest"                 // smallest ETA inside the 5 km / 15 min standard
	ReasonBeyondStandard  = "nearest_beyond_standard" // none inside the standard: the nearest further out
	ReasonFromQueue       = "from_queue"              // the call waited; this unit became free
	ReasonUnitLost        = "reassigned_unit_lost"    // the previous unit went out of service
	defaultStandardRadius = 5000
	defaultStandardETA    = 15 * time.Minute
	defaultMaxRadius      = 40_000
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
}

// Unit is the engine's view of one ambulance.
type Unit struct {
	ID        string
	Kind      contract.UnitKind
	StationID string
	Pos       city.Point
	Status    contract.UnitStatus
	CallID    string    // the incident it serves; empty when none
	PingAt    time.Time // time of the last ping applied
	StatusAt  time.Time // when Status last changed
	handle    int32
}

// Incident is one call's life in the engine.
type Incident struct {
	Call   contract.Call
	State  State
	UnitID string
	Seq    int // assignments made so far
}

// Config holds the dispatch rules.
type Config struct {
	Travel          city.TravelModel // required
	StandardRadiusM float64          // default 5000
	StandardETA     time.Duration    // default 15 min
	MaxRadiusM      float64          // the widest search before a call waits in the queue; default 40 km
	// Destination chooses the hospital for a call; nil leaves hospital_id empty.
	Destination func(c contract.Call, at time.Time) (hospitalID, reason string)
}

// Engine is the dispatcher's state: the fleet, the live incidents and the queue.
type Engine struct {
	cfg       Config
	units     map[string]*Unit
	byHandle  []*Unit
	index     *Index // available units only
	incidents map[string]*Incident
	queue     []*Incident // sorted: priority, then received_at, then call id
	dirty     map[string]struct{}
}

// New returns an engine with no units and no incidents.
func New(cfg Config) *Engine {
	if cfg.Travel == nil {
		panic("dispatch.New: Config.Travel is nil")
	}
	if cfg.StandardRadiusM == 0 {
		cfg.StandardRadiusM = defaultStandardRadius
	}
	if cfg.StandardETA == 0 {
		cfg.StandardETA = defaultStandardETA
	}
	if cfg.MaxRadiusM == 0 {
		cfg.MaxRadiusM = defaultMaxRadius
	}
	return &Engine{
		cfg:       cfg,
		units:     make(map[string]*Unit),
		index:     NewIndex(IndexResolution),
		incidents: make(map[string]*Incident),
		dirty:     make(map[string]struct{}),
	}
}

// AddUnit puts a unit under the engine's control, as it is (used at start-up to load the
// fleet). A unit that serves an incident must be added before the incident is restored.
func (e *Engine) AddUnit(u Unit) error {
	if !u.Kind.Valid() {
		return fmt.Errorf("add unit %s: unknown kind %q", u.ID, u.Kind)
	}
	if !u.Status.Valid() {
		return fmt.Errorf("add unit %s: unknown status %q", u.ID, u.Status)
	}
	if _, ok := e.units[u.ID]; ok {
		return fmt.Errorf("add unit %s: already present", u.ID)
	}
	nu := u
	nu.handle = int32(len(e.byHandle))
	e.byHandle = append(e.byHandle, &nu)
	e.units[u.ID] = &nu
	e.reindex(&nu)
	return nil
}

// Restore puts a live incident back under the engine's control (used at start-up). A queued
// incident joins the queue; an assigned one must name a unit already added whose CallID is
// this call.
func (e *Engine) Restore(inc Incident) error {
	if !inc.State.Live() {
		return fmt.Errorf("restore %s: state %s is not live", inc.Call.CallID, inc.State)
	}
	if _, ok := e.incidents[inc.Call.CallID]; ok {
		return fmt.Errorf("restore %s: already present", inc.Call.CallID)
	}
	n := inc
	switch inc.State {
	case StateReceived, StateQueued:
		n.State, n.UnitID = StateQueued, ""
		e.enqueue(&n)
	default:
		u := e.units[inc.UnitID]
		if u == nil || u.CallID != inc.Call.CallID {
			return fmt.Errorf("restore %s: unit %q does not serve it", inc.Call.CallID, inc.UnitID)
		}
	}
	e.incidents[n.Call.CallID] = &n
	return nil
}

// Receive takes a new call and returns what followed: received, then assigned or queued.
// A call the engine already holds live returns nothing: receiving is idempotent.
func (e *Engine) Receive(c contract.Call, now time.Time) []Event {
	if _, ok := e.incidents[c.CallID]; ok {
		return nil
	}
	inc := &Incident{Call: c, State: StateReceived}
	e.incidents[c.CallID] = inc
	evs := []Event{{Type: EventReceived, At: now, CallID: c.CallID, State: StateReceived}}
	return e.dispatch(inc, now, "", evs)
}

// dispatch assigns the best unit to inc or queues it. reason overrides the assignment's
// reason when not empty.
func (e *Engine) dispatch(inc *Incident, now time.Time, reason string, evs []Event) []Event {
	u, distM, eta, ok := e.best(inc.Call, now)
	if !ok {
		inc.State, inc.UnitID = StateQueued, ""
		e.enqueue(inc)
		return append(evs, Event{Type: EventQueued, At: now, CallID: inc.Call.CallID, State: StateQueued,
			Reason: fmt.Sprintf("no available unit within %.0f km", e.cfg.MaxRadiusM/1000)})
	}
	within := distM <= e.cfg.StandardRadiusM && eta <= e.cfg.StandardETA
	if reason == "" {
		reason = ReasonNearest
		if !within {
			reason = ReasonBeyondStandard
		}
	}
	return append(evs, e.assign(inc, u, distM, eta, within, reason, now))
}

func (e *Engine) assign(inc *Incident, u *Unit, distM float64, eta time.Duration, within bool, reason string, now time.Time) Event {
	inc.State, inc.UnitID = StateAssigned, u.ID
	inc.Seq++
	u.CallID = inc.Call.CallID
	e.setStatus(u, contract.StatusDispatched, now)
	a := &contract.Assignment{
		CallID: inc.Call.CallID, UnitID: u.ID, DecidedAt: now,
		ETAS: int(eta.Round(time.Second) / time.Second), DistanceM: int(distM + 0.5),
		WithinStandard: within, Reason: reason,
	}
	if e.cfg.Destination != nil {
		hid, hreason := e.cfg.Destination(inc.Call, now)
		a.HospitalID = hid
		// The usual case, the nearest hospital, goes without saying.
		if hreason != "" && hreason != ReasonNearest {
			a.Reason += "; hospital " + hreason
		}
	}
	return Event{Type: EventAssigned, At: now, CallID: inc.Call.CallID, UnitID: u.ID, State: StateAssigned,
		Assignment: a, Seq: inc.Seq, Reason: a.Reason}
}

// best finds the available unit with the smallest ETA to c: first inside the standard
// radius; when that circle is empty, in rings of doubling radius up to MaxRadiusM. With the
// straight-line travel model ETA grows with distance, so the first non-empty ring holds the
// best unit. Ties go to the smaller unit id, so decisions are deterministic.
func (e *Engine) best(c contract.Call, now time.Time) (best *Unit, distM float64, eta time.Duration, ok bool) {
	at := city.Point{Lat: c.Lat, Lng: c.Lng}
	for r := e.cfg.StandardRadiusM; ; r *= 2 {
		r = min(r, e.cfg.MaxRadiusM)
		e.index.Within(at, r, func(h int32, d float64) {
			u := e.byHandle[h]
			t := city.ETA(e.cfg.Travel, u.Pos, at, now, c.Priority)
			if best == nil || t < eta || (t == eta && u.ID < best.ID) {
				best, distM, eta = u, d, t
			}
		})
		if best != nil || r >= e.cfg.MaxRadiusM {
			return best, distM, eta, best != nil
		}
	}
}

// Ping applies a unit's position and status report and returns what followed for incidents.
func (e *Engine) Ping(p contract.UnitPing, now time.Time) ([]Event, error) {
	u := e.units[p.UnitID]
	if u == nil {
		if p.Kind == "" {
			return nil, fmt.Errorf("%w %s: a first ping must carry its kind", ErrUnknownUnit, p.UnitID)
		}
		if err := e.AddUnit(Unit{ID: p.UnitID, Kind: p.Kind, StationID: p.StationID, Pos: city.Point{Lat: p.Lat, Lng: p.Lng},
			Status: contract.StatusOutOfService, PingAt: p.At, StatusAt: p.At}); err != nil {
			return nil, err
		}
		u = e.units[p.UnitID]
	} else if p.At.Before(u.PingAt) {
		return nil, fmt.Errorf("%w: %s at %s is older than %s", ErrStalePing, p.UnitID, p.At.Format(time.RFC3339Nano), u.PingAt.Format(time.RFC3339Nano))
	}
	u.Pos = city.Point{Lat: p.Lat, Lng: p.Lng}
	u.PingAt = p.At
	if p.StationID != "" {
		u.StationID = p.StationID
	}
	if p.Kind != "" && p.Kind != u.Kind {
		u.Kind = p.Kind
	}
	e.dirty[u.ID] = struct{}{}
	// A status older than our last change of it (say "available", sent before the unit
	// heard of its dispatch) is history: keep the position, not the status.
	if p.Status == u.Status || p.At.Before(u.StatusAt) {
		e.reindex(u)
		return nil, nil
	}
	var evs []Event
	if inc := e.incidents[u.CallID]; u.CallID != "" && inc != nil {
		switch p.Status {
		case contract.StatusAvailable:
			evs = append(evs, e.close(inc, u, now))
		case contract.StatusOutOfService:
			inc.UnitID = ""
			u.CallID = ""
			evs = append(evs, Event{Type: EventUnitLost, At: now, CallID: inc.Call.CallID, UnitID: u.ID, State: inc.State,
				Reason: "unit went out of service"})
			e.setStatus(u, p.Status, p.At)
			evs = e.dispatch(inc, now, ReasonUnitLost, evs)
			return evs, nil
		default:
			if st := stateOfUnit[p.Status]; st != inc.State {
				inc.State = st
				evs = append(evs, Event{Type: EventStatus, At: now, CallID: inc.Call.CallID, UnitID: u.ID, State: st,
					Reason: "unit reported " + string(p.Status)})
			}
		}
	}
	e.setStatus(u, p.Status, p.At)
	if u.Status == contract.StatusAvailable {
		evs = append(evs, e.serveQueue(u, now)...)
	}
	return evs, nil
}

func (e *Engine) close(inc *Incident, u *Unit, now time.Time) Event {
	inc.State = StateClosed
	delete(e.incidents, inc.Call.CallID)
	u.CallID = ""
	return Event{Type: EventClosed, At: now, CallID: inc.Call.CallID, UnitID: u.ID, State: StateClosed,
		Reason: "unit available again"}
}

// serveQueue gives a unit that just became available to the first queued call (by priority,
// then age) within MaxRadiusM of it.
func (e *Engine) serveQueue(u *Unit, now time.Time) []Event {
	for i, inc := range e.queue {
		at := city.Point{Lat: inc.Call.Lat, Lng: inc.Call.Lng}
		d := city.DistanceM(u.Pos, at)
		if d > e.cfg.MaxRadiusM {
			continue
		}
		e.queue = slices.Delete(e.queue, i, i+1)
		eta := city.ETA(e.cfg.Travel, u.Pos, at, now, inc.Call.Priority)
		within := d <= e.cfg.StandardRadiusM && eta <= e.cfg.StandardETA
		return []Event{e.assign(inc, u, d, eta, within, ReasonFromQueue, now)}
	}
	return nil
}

// AssignQueued tries every queued call against the available fleet, in queue order. It is
// for start-up, when restored queued calls and available units meet for the first time.
func (e *Engine) AssignQueued(now time.Time) []Event {
	var evs []Event
	pending := slices.Clone(e.queue)
	e.queue = e.queue[:0]
	for _, inc := range pending {
		evs = e.dispatch(inc, now, ReasonFromQueue, evs)
	}
	return evs
}

func (e *Engine) enqueue(inc *Incident) {
	i, _ := slices.BinarySearchFunc(e.queue, inc, queueOrder)
	e.queue = slices.Insert(e.queue, i, inc)
}

func queueOrder(a, b *Incident) int {
	return cmp.Or(
		cmp.Compare(a.Call.Priority, b.Call.Priority),
		a.Call.ReceivedAt.Compare(b.Call.ReceivedAt),
		cmp.Compare(a.Call.CallID, b.Call.CallID),
	)
}

func (e *Engine) setStatus(u *Unit, s contract.UnitStatus, at time.Time) {
	if u.Status != s {
		u.Status = s
		u.StatusAt = at
	}
	e.dirty[u.ID] = struct{}{}
	e.reindex(u)
}

// reindex keeps the index equal to the set of available units with no incident.
func (e *Engine) reindex(u *Unit) {
	if u.Status == contract.StatusAvailable && u.CallID == "" {
		e.index.Update(u.handle, u.Pos)
	} else {
		e.index.Remove(u.handle)
	}
}

// DrainDirty returns the units changed since the last call, in id order, and forgets them.
func (e *Engine) DrainDirty() []Unit {
	out := make([]Unit, 0, len(e.dirty))
	for id := range e.dirty {
		out = append(out, *e.units[id])
	}
	clear(e.dirty)
	slices.SortFunc(out, func(a, b Unit) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Unit returns a copy of the unit with the given id.
func (e *Engine) Unit(id string) (Unit, bool) {
	u, ok := e.units[id]
	if !ok {
		return Unit{}, false
	}
	return *u, true
}

// Units returns a copy of every unit, in id order.
func (e *Engine) Units() []Unit {
	out := make([]Unit, 0, len(e.units))
	for _, u := range e.units {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b Unit) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Incident returns a copy of the live incident for a call.
func (e *Engine) Incident(callID string) (Incident, bool) {
	inc, ok := e.incidents[callID]
	if !ok {
		return Incident{}, false
	}
	return *inc, true
}

// Queue returns the queued incidents in the order they will be served.
func (e *Engine) Queue() []Incident {
	out := make([]Incident, len(e.queue))
	for i, inc := range e.queue {
		out[i] = *inc
	}
	return out
}

// Stats counts the engine's state.
type Stats struct {
	Units, Available, Live, Queued int
}

// Stats returns the current counts.
func (e *Engine) Stats() Stats {
	return Stats{Units: len(e.units), Available: e.index.Len(), Live: len(e.incidents), Queued: len(e.queue)}
}
