// Package dispatch decides which ambulance goes to which call. It keeps the fleet in an H3
// index, tracks every incident from receipt to closure (received → assigned → acknowledged →
// en route → on scene → transporting → at hospital → closed, with cancellation and
// reassignment from any live state), escalates when a unit does not acknowledge, and queues
// calls that no unit can serve. It does no I/O and reads no clock: it is fed calls, unit pings,
// operator commands and ticks with their times, and returns the events that follow, which the
// caller persists and publishes.
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
	"github.com/ems120/ems120/dispatch/fleetindex"
	"github.com/ems120/ems120/internal/blocks"
)

// Errors of the engine. Callers match them with errors.Is; *TransitionError with errors.As.
var (
	// ErrUnknownUnit: a unit the engine does not know (a first ping must carry its kind).
	ErrUnknownUnit = errors.New("unknown unit")
	// ErrStalePing: a ping older than one already applied for the same unit. Not bad input
	// (networks reorder), so callers count it rather than dead-letter it.
	ErrStalePing = errors.New("stale ping")
	// ErrUnknownCall: no live incident for that call (never received, or closed/cancelled).
	ErrUnknownCall = errors.New("no live incident for that call")
	// ErrUnitBusy: the unit serves another incident or is not available.
	ErrUnitBusy = errors.New("unit is not available")
	// ErrIllegalTransition matches every *TransitionError.
	ErrIllegalTransition = errors.New("illegal transition")
)

// TransitionError is a step an incident cannot take from where it is.
type TransitionError struct {
	CallID   string
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("call %s: illegal transition %s → %s", e.CallID, e.From, e.To)
}

// Is makes errors.Is(err, ErrIllegalTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// Reasons an assignment gives for its unit.
const (
	ReasonNearest          = "nearest"                   // smallest ETA inside the 5 km / 15 min standard
	ReasonNearestOfKind    = "nearest_of_kind"           // a unit of the kind the call needs, over a nearer other one
	ReasonNoKindInTime     = "nearest_no_%s_in_time"     // the call's kind could not arrive in time: the nearest
	ReasonBeyondStandard   = "escalated_beyond_standard" // nothing inside the standard: the best further out
	ReasonFromQueue        = "from_queue"                // the call waited; this unit became free
	ReasonNoAck            = "escalated_no_ack"          // the previous unit did not acknowledge in time
	ReasonUnitLost         = "reassigned_unit_lost"      // the previous unit went out of service
	ReasonUnitReleased     = "reassigned_unit_released"  // the previous unit cleared before arriving
	ReasonPreemptedVictim  = "reassigned_preempted"      // the previous unit was taken by a priority-1 call
	ReasonPreempting       = "preempted_lower_priority"  // this unit left a priority 3–4 call for this one
	ReasonOperatorOverride = "operator_override"         // a dispatcher chose the unit
	ReasonDeferredEnded    = "deferred_wait_ended"       // a call deferred in surge mode is served now
)

// Defaults of Config.
const (
	DefaultStandardRadiusM = 5000
	DefaultStandardETA     = 15 * time.Minute
	DefaultMaxRadiusM      = 40_000
	DefaultAckTimeout      = 60 * time.Second
	DefaultPreemptSaving   = 3 * time.Minute
	DefaultDecontamination = 30 * time.Minute
)

// Config holds the dispatch rules.
type Config struct {
	Travel          city.TravelModel // required
	StandardRadiusM float64          // the standard's circle; default 5 km
	StandardETA     time.Duration    // the standard's time; default 15 min
	MaxRadiusM      float64          // the widest search before a call waits in the queue; default 40 km
	AckTimeout      time.Duration    // time a dispatched unit has to acknowledge; default 60 s, < 0 disables
	// Preempt lets a priority-1 call take a unit on its way to (not yet at) a priority 3–4
	// call when that unit arrives PreemptSaving sooner than the best available one. Off by
	// default; the lower call is dispatched again, never lost.
	Preempt       bool
	PreemptSaving time.Duration // default 3 min
	// Decontamination is how long a unit that carried a fever or infectious patient stays out
	// of dispatch after the call closes; default 30 min, < 0 none.
	Decontamination time.Duration
	Surge           SurgeRules // surge mode's rules
	// Hospitals chooses each call's destination and keeps its bed; nil leaves hospital_id
	// empty.
	Hospitals Destinations
}

// Destinations is what the engine needs from the hospitals: a destination for a call (the
// same one again for a call that has one), told when the patient is handed over, and when
// the call ends.
type Destinations interface {
	Destination(c contract.Call, at time.Time) (hospitalID, reason string)
	Handover(callID string, at time.Time)
	Release(callID string)
	// Redirect moves a call's reserved bed to another hospital (a dispatcher's decision); it
	// refuses a hospital that is unknown or cannot take the call's patient.
	Redirect(c contract.Call, hospitalID string, at time.Time) error
}

// Unit is the engine's view of one ambulance.
type Unit struct {
	ID        string
	Kind      contract.UnitKind
	StationID string
	Pos       city.Point
	Status    contract.UnitStatus
	CallID    string    // the incident it serves; empty when none
	FlaggedAt time.Time // when it failed to acknowledge a dispatch; zero when not flagged. A
	// flagged unit is not dispatched again until it reports (a ping sent after this time).
	PingAt   time.Time // time of the last ping applied
	StatusAt time.Time // when Status last changed
	// DeconUntil is when the unit's decontamination ends, after carrying a fever or
	// infectious patient; zero when it is not being decontaminated.
	DeconUntil time.Time
	handle     int32
}

// Dispatchable reports whether the unit may be sent to a call: available, serving nothing,
// not flagged, not being decontaminated.
func (u *Unit) Dispatchable() bool {
	return u.Status == contract.StatusAvailable && u.CallID == "" && u.FlaggedAt.IsZero() && u.DeconUntil.IsZero()
}

// Incident is one call's life in the engine.
type Incident struct {
	Call       contract.Call
	State      State
	UnitID     string
	Seq        int       // assignments made so far
	AssignedAt time.Time // when the current unit was assigned (the acknowledgement clock)
	// DeferredUntil: a priority-4 call deferred in surge mode waits in the queue until then
	// (or until the fleet has units to spare); zero when not deferred.
	DeferredUntil time.Time
}

// Engine is the dispatcher's state: the fleet, the live incidents and the queue.
type Engine struct {
	cfg        Config
	units      map[string]int32  // handles by unit id
	fleet      blocks.List[Unit] // the units by handle
	kindOf     []uint8           // by handle: the unit's kind as a tag (kindTag), for searches that filter by kind
	index      *fleetindex.Index // units that may be dispatched: available, serving nothing, not flagged
	preemptive *fleetindex.Index // units on their way to a priority 3–4 call (only with Config.Preempt)
	incidents  map[string]*Incident
	incSlab    []Incident          // the block incidents are allocated from (newIncident)
	queue      []*Incident         // sorted: priority, then received_at, then call id
	finished   finishedSet         // recently closed or cancelled calls: a late duplicate is ignored
	changed    map[string]struct{} // units whose state changed since the last DrainDirty
	moved      map[string]struct{} // units that only moved since the last DrainDirty(true)
	flagged    int                 // units with FlaggedAt set
	negPress   int                 // negative-pressure units
	decon      map[string]struct{} // units with DeconUntil set
	surge      Surge               // surge mode now
	calmSince  time.Time           // an automatic surge mode: since when its triggers are calm
	feverAt    []time.Time         // receipt of the last hour's fever and infectious calls
}

// New returns an engine with no units and no incidents.
func New(cfg Config) *Engine {
	if cfg.Travel == nil {
		panic("dispatch.New: Config.Travel is nil")
	}
	if cfg.StandardRadiusM == 0 {
		cfg.StandardRadiusM = DefaultStandardRadiusM
	}
	if cfg.StandardETA == 0 {
		cfg.StandardETA = DefaultStandardETA
	}
	if cfg.MaxRadiusM == 0 {
		cfg.MaxRadiusM = DefaultMaxRadiusM
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	cfg.Surge.defaults()
	if cfg.Decontamination == 0 {
		cfg.Decontamination = DefaultDecontamination
	}
	if cfg.PreemptSaving == 0 {
		cfg.PreemptSaving = DefaultPreemptSaving
	}
	e := &Engine{
		cfg:        cfg,
		units:      make(map[string]int32),
		index:      fleetindex.NewAdaptive(fleetindex.DefaultResolution),
		preemptive: fleetindex.NewAdaptive(fleetindex.DefaultResolution),
		incidents:  make(map[string]*Incident),
		finished:   newFinishedSet(100_000),
		changed:    make(map[string]struct{}),
		moved:      make(map[string]struct{}),
		decon:      make(map[string]struct{}),
	}
	// Equally near units: the smaller id goes first, so decisions do not depend on the order
	// units were loaded in.
	byID := func(a, b int32) bool { return e.at(a).ID < e.at(b).ID }
	e.index.SetTieBreak(byID)
	e.preemptive.SetTieBreak(byID)
	return e
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
	// Units are never removed, so they are kept in blocks: a pointer into a block stays
	// valid, and a fleet of 110,000 is a hundred-odd objects for the GC, not 110,000. A unit
	// is found by its handle's place in the blocks, not through a pointer of its own: two
	// pointers less per unit for the GC to follow.
	h := e.fleet.Add(u)
	nu := e.fleet.At(h)
	nu.handle = h
	e.kindOf = append(e.kindOf, kindTag(nu.Kind))
	e.units[u.ID] = h
	e.countKind(nu.Kind, 1)
	if !nu.FlaggedAt.IsZero() {
		e.flagged++
	}
	if !nu.DeconUntil.IsZero() {
		e.decon[nu.ID] = struct{}{}
	}
	e.markChanged(nu)
	e.reindex(nu)
	return nil
}

// at returns the unit with handle h.
func (e *Engine) at(h int32) *Unit { return e.fleet.At(h) }

// unit returns the unit with the given id, or nil.
func (e *Engine) unit(id string) *Unit {
	if h, ok := e.units[id]; ok {
		return e.at(h)
	}
	return nil
}

// newIncident places an incident in the current block of incidentBlock. A 5,000 calls/s
// load test holds 100,000 live incidents, each a record with pointers that the garbage
// collector scans at every cycle; in blocks they are a few hundred objects (BenchmarkFullGC).
// A finished incident's place is not reused — a pointer to it stays what it was — so a block
// is freed once all its incidents have finished: a call that stays open for days keeps its
// block's 43 kilobytes.
func (e *Engine) newIncident(inc Incident) *Incident {
	if len(e.incSlab) == cap(e.incSlab) {
		e.incSlab = make([]Incident, 0, incidentBlock)
	}
	e.incSlab = append(e.incSlab, inc)
	return &e.incSlab[len(e.incSlab)-1]
}

// incidentBlock is the number of incidents allocated together.
const incidentBlock = 256

// kindTag is a unit kind's tag: its place in contract.UnitKinds, counted from 1 (0 for a kind
// not in it, which AddUnit and Ping refuse). A search that wants one kind compares tags in a
// small array by handle, rather than follow each candidate's pointer to its Unit.
func kindTag(k contract.UnitKind) uint8 {
	return uint8(slices.Index(contract.UnitKinds, k) + 1)
}

// Settle brings the fleet indexes to the resolution the loaded fleet needs and waits for
// their cells to be ready (Index.Settle), so that the first decisions after start-up do not
// pay for it.
func (e *Engine) Settle() {
	e.index.Settle()
	e.preemptive.Settle()
}

// Restore puts a live incident back under the engine's control (used at start-up). A
// received or queued incident joins the queue; one with a unit must name a unit already
// added whose CallID is this call.
func (e *Engine) Restore(inc Incident) error {
	if !inc.State.Live() {
		return fmt.Errorf("restore %s: state %s is not live", inc.Call.CallID, inc.State)
	}
	if _, ok := e.incidents[inc.Call.CallID]; ok {
		return fmt.Errorf("restore %s: already present", inc.Call.CallID)
	}
	if inc.State == StateReceived || inc.State == StateQueued {
		inc.State, inc.UnitID = StateQueued, ""
		n := e.newIncident(inc)
		e.incidents[n.Call.CallID] = n
		e.enqueue(n)
		return nil
	}
	u := e.unit(inc.UnitID)
	if u == nil || u.CallID != inc.Call.CallID {
		return fmt.Errorf("restore %s: unit %q does not serve it", inc.Call.CallID, inc.UnitID)
	}
	e.incidents[inc.Call.CallID] = e.newIncident(inc)
	e.reindex(u)
	return nil
}

// Receive takes a new call and returns what followed: received, then assigned or queued.
// A call the engine holds live, or closed recently, returns nothing: receiving is idempotent.
func (e *Engine) Receive(c contract.Call, now time.Time) []Event {
	if _, ok := e.incidents[c.CallID]; ok || e.finished.has(c.CallID) {
		return nil
	}
	inc := e.newIncident(Incident{Call: c, State: StateReceived})
	e.incidents[c.CallID] = inc
	evs := []Event{{Type: EventReceived, At: now, CallID: c.CallID, State: StateReceived}}
	e.noteFever(c, now)
	if e.cfg.Preempt && c.Priority == 1 {
		if evs2, ok := e.preempt(inc, now, evs); ok {
			return evs2
		}
	}
	if evs2, ok := e.deferCall(inc, now, evs); ok {
		return evs2
	}
	return e.dispatch(inc, now, "", evs)
}

func (e *Engine) enqueue(inc *Incident) {
	i, _ := slices.BinarySearchFunc(e.queue, inc, queueOrder)
	e.queue = slices.Insert(e.queue, i, inc)
}

func (e *Engine) dequeue(inc *Incident) {
	if i, ok := slices.BinarySearchFunc(e.queue, inc, queueOrder); ok && e.queue[i] == inc {
		e.queue = slices.Delete(e.queue, i, i+1)
	}
}

func queueOrder(a, b *Incident) int {
	return cmp.Or(
		cmp.Compare(a.Call.Priority, b.Call.Priority),
		a.Call.ReceivedAt.Compare(b.Call.ReceivedAt),
		cmp.Compare(a.Call.CallID, b.Call.CallID),
	)
}

// markChanged notes that a unit's state (status, incident, flag, kind, station) changed, and
// markMoved that its position (and ping time) did, for DrainDirty.
func (e *Engine) markChanged(u *Unit) { e.changed[u.ID] = struct{}{} }
func (e *Engine) markMoved(u *Unit)   { e.moved[u.ID] = struct{}{} }

// reindex keeps the indexes equal to their definitions: index holds the units that may be
// dispatched; preemptive holds those on their way to a priority 3–4 call.
func (e *Engine) reindex(u *Unit) {
	if u.Dispatchable() {
		e.index.Update(u.handle, u.Pos)
	} else {
		e.index.Remove(u.handle)
	}
	if e.cfg.Preempt {
		if inc := e.incidents[u.CallID]; u.CallID != "" && inc != nil && inc.Call.Priority >= 3 &&
			progress[inc.State] >= progress[StateAssigned] && progress[inc.State] < progress[StateOnScene] {
			e.preemptive.Update(u.handle, u.Pos)
		} else {
			e.preemptive.Remove(u.handle)
		}
	}
}

// DrainDirty returns the units changed since the last call, in id order, and forgets them.
// With positions false it returns only units whose state changed (status, incident, flag,
// kind, station) and keeps those that only moved for a later call: a caller can record state
// with each decision and positions, which a unit's next ping supersedes, in bulk.
//
// The two sets are kept apart so that a decision, which drains only the units it changed,
// does not walk every unit that moved since the last flush of positions; and a set is
// replaced, not emptied, after a large drain (loading the fleet marks every unit), because
// walking a Go map costs as much as the most it ever held.
func (e *Engine) DrainDirty(positions bool) []Unit {
	n := len(e.changed)
	if positions {
		n += len(e.moved)
	}
	out := make([]Unit, 0, n)
	for id := range e.changed {
		out = append(out, *e.unit(id))
		delete(e.moved, id) // its row carries its position too
	}
	e.changed = drained(e.changed)
	if positions {
		for id := range e.moved {
			out = append(out, *e.unit(id))
		}
		e.moved = drained(e.moved)
	}
	slices.SortFunc(out, func(a, b Unit) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// drained returns an empty set in place of m: m itself, cleared, unless it grew large.
func drained(m map[string]struct{}) map[string]struct{} {
	if len(m) > 1024 {
		return make(map[string]struct{})
	}
	clear(m)
	return m
}

// Unit returns a copy of the unit with the given id.
func (e *Engine) Unit(id string) (Unit, bool) {
	u := e.unit(id)
	if u == nil {
		return Unit{}, false
	}
	return *u, true
}

// Units returns a copy of every unit, in id order.
func (e *Engine) Units() []Unit {
	out := make([]Unit, 0, len(e.units))
	for _, h := range e.units {
		out = append(out, *e.at(h))
	}
	slices.SortFunc(out, func(a, b Unit) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// UnitsByStatus counts the units in each status, without copying them.
func (e *Engine) UnitsByStatus() map[contract.UnitStatus]int {
	out := map[contract.UnitStatus]int{}
	for _, h := range e.units {
		out[e.at(h).Status]++
	}
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

// Incidents returns a copy of every live incident, in call id order.
func (e *Engine) Incidents() []Incident {
	out := make([]Incident, 0, len(e.incidents))
	for _, inc := range e.incidents {
		out = append(out, *inc)
	}
	slices.SortFunc(out, func(a, b Incident) int { return cmp.Compare(a.Call.CallID, b.Call.CallID) })
	return out
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
	Units, Available, Flagged, Live, Queued, Decontaminating int
	NegativePressure                                         int // units of that kind, for the guidance's fleet ratios
}

// Stats returns the current counts.
func (e *Engine) Stats() Stats {
	return Stats{Units: len(e.units), Available: e.index.Len(), Flagged: e.flagged, Live: len(e.incidents), Queued: len(e.queue),
		Decontaminating: len(e.decon), NegativePressure: e.negPress}
}

// countKind keeps the count of negative-pressure units as units join or change kind.
func (e *Engine) countKind(k contract.UnitKind, d int) {
	if k == contract.KindNegativePressure {
		e.negPress += d
	}
}

// setKind changes a unit's kind (a refit, told by its ping).
func (e *Engine) setKind(u *Unit, k contract.UnitKind) {
	e.countKind(u.Kind, -1)
	e.countKind(k, 1)
	u.Kind = k
	e.kindOf[u.handle] = kindTag(k)
	e.markChanged(u)
}

// finishedSet remembers the last n finished call ids.
type finishedSet struct {
	ids  map[string]struct{}
	ring []string
	next int
}

func newFinishedSet(n int) finishedSet {
	return finishedSet{ids: make(map[string]struct{}), ring: make([]string, n)}
}

func (f *finishedSet) add(id string) {
	if old := f.ring[f.next]; old != "" {
		delete(f.ids, old)
	}
	f.ring[f.next] = id
	f.ids[id] = struct{}{}
	f.next = (f.next + 1) % len(f.ring)
}

func (f *finishedSet) has(id string) bool {
	_, ok := f.ids[id]
	return ok
}
