// Package contract holds the outside contract of ems120 in code: the messages on the Kafka
// topics (calls, unit pings, capacity reports, assignments, dead letters), their JSON form and
// their validation. docs/CONTRACT.md is the same contract in prose.
//
// Every decoder here takes untrusted bytes and returns either a valid value or an error that
// says, in words an operator can act on, what is wrong. None of them panics on any input; the
// fuzz tests hold them to that.
package contract

import (
	"time"
)

// Topic names. Keys are the id named in the comment.
const (
	TopicCalls       = "ems.calls"       // key: call id
	TopicUnits       = "ems.units"       // key: unit id
	TopicCapacity    = "ems.capacity"    // key: hospital id
	TopicAssignments = "ems.assignments" // key: call id
	TopicEvents      = "ems.events"      // key: call id; the incident event log
	TopicDeadLetter  = "ems.deadletter"  // key: the original key
	TopicCoverage    = "ems.coverage"    // key: "wuhan" (the city); move-up advice
	TopicAlerts      = "ems.alerts"      // key: the cluster id; fever-call cluster alerts
)

// Category is what the call is about, as classified at intake.
type Category string

// The call categories of the contract.
const (
	CategoryCardiac     Category = "cardiac"
	CategoryRespiratory Category = "respiratory"
	CategoryTrauma      Category = "trauma"
	CategoryStroke      Category = "stroke"
	CategoryFever       Category = "fever"
	CategoryMaternity   Category = "maternity"
	CategoryOther       Category = "other"
)

// Categories lists every valid category, in the contract's order.
var Categories = []Category{
	CategoryCardiac, CategoryRespiratory, CategoryTrauma, CategoryStroke,
	CategoryFever, CategoryMaternity, CategoryOther,
}

// Valid reports whether c is one of the contract's categories.
func (c Category) Valid() bool {
	_, ok := Canonical(c, Categories)
	return ok
}

// Canonical returns the member of known equal to v, and whether there is one. A decoder keeps
// the member rather than v, so the value shares the constant's bytes instead of holding a
// copy of its own: a load test's hundred thousand live calls and units are that many fewer
// objects for the garbage collector to mark.
func Canonical[T ~string](v T, known []T) (T, bool) {
	for _, k := range known {
		if v == k {
			return k, true
		}
	}
	return v, false
}

// UnitKind is the kind of ambulance.
type UnitKind string

// The unit kinds of the contract.
const (
	KindALS              UnitKind = "als"               // advanced life support
	KindBLS              UnitKind = "bls"               // basic life support
	KindNegativePressure UnitKind = "negative_pressure" // negative-pressure (infectious transport)
)

// UnitKinds lists every valid unit kind.
var UnitKinds = []UnitKind{KindALS, KindBLS, KindNegativePressure}

// Valid reports whether k is one of the contract's unit kinds.
func (k UnitKind) Valid() bool {
	_, ok := Canonical(k, UnitKinds)
	return ok
}

// UnitStatus is what a unit reports it is doing.
type UnitStatus string

// The unit statuses of the contract, in the order of an incident.
const (
	StatusAvailable    UnitStatus = "available"
	StatusDispatched   UnitStatus = "dispatched"
	StatusEnRoute      UnitStatus = "en_route"
	StatusOnScene      UnitStatus = "on_scene"
	StatusTransporting UnitStatus = "transporting"
	StatusAtHospital   UnitStatus = "at_hospital"
	StatusOutOfService UnitStatus = "out_of_service"
)

// UnitStatuses lists every valid unit status.
var UnitStatuses = []UnitStatus{
	StatusAvailable, StatusDispatched, StatusEnRoute, StatusOnScene,
	StatusTransporting, StatusAtHospital, StatusOutOfService,
}

// Valid reports whether s is one of the contract's unit statuses.
func (s UnitStatus) Valid() bool {
	_, ok := Canonical(s, UnitStatuses)
	return ok
}

// Call is one emergency call on ems.calls.
type Call struct {
	CallID     string    `json:"call_id"`
	ReceivedAt time.Time `json:"received_at"`
	Lat        float64   `json:"lat"`
	Lng        float64   `json:"lng"`
	Priority   int       `json:"priority"`
	Category   Category  `json:"category"`
	Infectious bool      `json:"infectious"`
	Address    string    `json:"address,omitempty"`
	// LinkedTo is the call whose patient this transport carries on: a transfer from a fever
	// clinic to a designated hospital or a Fangcang shelter. Empty for a call from the public.
	LinkedTo string `json:"linked_to,omitempty"`
}

// NeedsIsolation reports whether the patient must travel in a negative-pressure unit where
// one can reach in time, and go to a fever clinic or designated hospital.
func (c Call) NeedsIsolation() bool {
	return c.Infectious || c.Category == CategoryFever
}

// UnitPing is a position and status report from one unit on ems.units.
type UnitPing struct {
	UnitID    string     `json:"unit_id"`
	At        time.Time  `json:"at"`
	Lat       float64    `json:"lat"`
	Lng       float64    `json:"lng"`
	Status    UnitStatus `json:"status"`
	Kind      UnitKind   `json:"kind,omitempty"`
	StationID string     `json:"station_id,omitempty"`
}

// Assignment is the decision for one call on ems.assignments. A later message for the same
// call replaces an earlier one; the latest is the live assignment.
type Assignment struct {
	CallID         string    `json:"call_id"`
	UnitID         string    `json:"unit_id"`
	DecidedAt      time.Time `json:"decided_at"`
	ETAS           int       `json:"eta_s"`
	DistanceM      int       `json:"distance_m"`
	WithinStandard bool      `json:"within_standard"`
	HospitalID     string    `json:"hospital_id,omitempty"`
	Reason         string    `json:"reason"`
}

// IncidentEvent is one step of an incident on ems.events: received, queued, assigned,
// acknowledged, en_route, on_scene, transporting, at_hospital, closed, cancelled, and the
// escalations ack_timeout, unit_lost, unit_released, preempted.
type IncidentEvent struct {
	CallID string    `json:"call_id"`
	At     time.Time `json:"at"`
	Type   string    `json:"type"`
	State  string    `json:"state"` // the incident's state after the event
	UnitID string    `json:"unit_id,omitempty"`
	Seq    int       `json:"seq,omitempty"` // for "assigned": 1 for the first assignment, 2 for the next…
	Reason string    `json:"reason,omitempty"`
	Actor  string    `json:"actor,omitempty"` // the account whose command or call it was; empty for the engine's own
}

// MoveUpAdvice is published on ems.coverage when coverage falls below the target: which idle
// units should move to which stations to regain the most demand covered.
type MoveUpAdvice struct {
	Type              string    `json:"type"` // "move_up_advice"
	At                time.Time `json:"at"`
	CoveragePct       float64   `json:"coverage_pct"`
	DoubleCoveragePct float64   `json:"double_coverage_pct"`
	TargetPct         float64   `json:"target_pct"`
	Moves             []MoveUp  `json:"moves"`
}

// MoveUp is one recommended move.
type MoveUp struct {
	UnitID        string  `json:"unit_id"`
	ToStation     string  `json:"to_station"`
	GainPct       float64 `json:"gain_pct"`        // covered demand regained, percentage points
	DoubleGainPct float64 `json:"double_gain_pct"` // double-covered demand gained
}

// Beds is one kind of bed at a hospital.
type Beds struct {
	Total    int `json:"total"`
	Occupied int `json:"occupied"`
}

// Free is the number of unoccupied beds, never negative.
func (b Beds) Free() int {
	if b.Occupied >= b.Total {
		return 0
	}
	return b.Total - b.Occupied
}

// Bed kinds reported by hospitals. The contract names the first three; emergency is the
// general emergency department's treatment places.
const (
	BedFeverObservation = "fever_observation"
	BedIsolation        = "isolation"
	BedICU              = "icu"
	BedEmergency        = "emergency"
)

// BedKinds lists the bed kinds a report may carry.
var BedKinds = []string{BedFeverObservation, BedIsolation, BedICU, BedEmergency}

// CapacityReport is a hospital's bed report on ems.capacity.
type CapacityReport struct {
	HospitalID string          `json:"hospital_id"`
	ReportedAt time.Time       `json:"reported_at"`
	Accepting  bool            `json:"accepting"`
	Beds       map[string]Beds `json:"beds"`
}

// DeadLetter is what goes to ems.deadletter for a message that could not be used: where it
// came from, why, and the original bytes. Value holds them as text (invalid UTF-8 is replaced
// by U+FFFD when it is encoded); ValueBase64 holds them exactly.
type DeadLetter struct {
	Topic       string    `json:"topic"`
	Partition   int       `json:"partition"`
	Offset      int64     `json:"offset"`
	Key         string    `json:"key,omitempty"`
	Error       string    `json:"error"`
	Value       string    `json:"value"`
	ValueBase64 []byte    `json:"value_base64"`
	At          time.Time `json:"at"`
}

// Alert is a fever-call cluster alert on ems.alerts: the cells (or the district) whose
// fever and infectious calls over the last WindowHours exceed what their baseline expects.
// A cluster keeps its id while it alerts hour after hour; each hour's alert replaces the
// last for that id.
type Alert struct {
	AlertID     string    `json:"alert_id"`
	Method      string    `json:"method"` // "ears_c2" or "cusum"
	Level       string    `json:"level"`  // "cell" (H3 cells merged by adjacency) or "district"
	Cells       []string  `json:"cells,omitempty"`
	District    string    `json:"district,omitempty"`
	Observed    float64   `json:"observed"`  // calls in the window, summed over the cluster
	Expected    float64   `json:"expected"`  // the baseline's mean, summed likewise
	Threshold   float64   `json:"threshold"` // C2: the count that had to be exceeded; CUSUM: the sum's limit
	Score       float64   `json:"score"`     // C2: the count; CUSUM: the sum reached
	FirstHour   time.Time `json:"first_hour"`
	Hour        time.Time `json:"hour"` // the hour just tested (its start)
	WindowHours int       `json:"window_hours"`
}
