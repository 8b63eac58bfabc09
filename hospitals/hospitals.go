// Package hospitals keeps the hospitals' bed capacity as their reporters report it, catches
// reports that are wrong or stale, and chooses where each transported patient goes so that
// nobody is taken to a full hospital while a suitable one with a free bed is in reach, and
// load spreads across the hospitals that take the same patients. Like dispatch it does no
// I/O and reads no clock.
//
// A Registry is not safe for concurrent use; the service serialises access to it.
package hospitals

import (
	"cmp"
	"container/heap"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

// Errors of report validation; each matches contract.ErrInvalid too, so a caller sends all of
// them to the dead-letter topic or answers 4xx.
var (
	ErrUnknownHospital = &contract.Error{Field: "hospital_id", Reason: "unknown hospital"}
	ErrFutureReport    = &contract.Error{Field: "reported_at", Reason: "in the future"}
	ErrOlderReport     = &contract.Error{Field: "reported_at", Reason: "older than the last accepted report"}
	ErrNoSuchBeds      = &contract.Error{Field: "beds", Reason: "a bed kind the hospital does not have"}
)

// Policy is how a destination is chosen.
type Policy string

// Policies.
const (
	// PolicyNearest takes the nearest suitable, accepting hospital, whatever its beds: what a
	// dispatcher without capacity data does. It is the baseline the balanced policy is
	// measured against.
	PolicyNearest Policy = "nearest"
	// PolicyBalanced never takes a patient to a hospital without an effective free bed while
	// one with a free bed is within MaxTransport; among those within the slack of the nearest
	// such hospital, it takes the least occupied (by more than LoadBand).
	PolicyBalanced Policy = "balanced"
)

// Config holds the rules.
type Config struct {
	Travel       city.TravelModel // required
	Policy       Policy           // default balanced
	StaleAfter   time.Duration    // a report older than this is stale; default 2 h
	MaxTransport time.Duration    // the longest acceptable transport; default 45 min
	// Slack is the extra transport accepted to spread load for a patient who will hold a bed
	// for hours to days (fever observation, isolation, ICU): default 15 min. EmergencySlack is
	// the same for an emergency-department patient, who needs care now and leaves the place
	// within hours: default 3 min. A priority-1 patient is never detoured.
	Slack          time.Duration
	EmergencySlack time.Duration
	// LoadBand is the occupancy difference, in percentage points, below which two hospitals
	// count as equally loaded (and the nearer one is taken): detours are for real
	// differences. Default 2.5.
	LoadBand float64
	// StalePenaltyPct is added to a stale hospital's occupancy when comparing load: its
	// numbers are used, but trusted less. Default 20 percentage points.
	StalePenaltyPct float64
	// FutureSkew is the clock skew tolerated on reported_at; default 2 min.
	FutureSkew time.Duration
}

func (c *Config) defaults() {
	if c.Policy == "" {
		c.Policy = PolicyBalanced
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = 2 * time.Hour
	}
	if c.MaxTransport == 0 {
		c.MaxTransport = 45 * time.Minute
	}
	if c.Slack == 0 {
		c.Slack = 15 * time.Minute
	}
	if c.EmergencySlack == 0 {
		c.EmergencySlack = 3 * time.Minute
	}
	if c.LoadBand == 0 {
		c.LoadBand = 2.5
	}
	if c.StalePenaltyPct == 0 {
		c.StalePenaltyPct = 20
	}
	if c.FutureSkew == 0 {
		c.FutureSkew = 2 * time.Minute
	}
}

// Need is the kind of bed a patient needs and the kinds of hospital that take it.
type Need struct {
	Bed   string
	Kinds []city.HospitalKind
	key   string // names the need, for the registry's per-need lists
}

// NeedOf says what a call's patient needs:
//   - confirmed infectious, priority 1: an ICU bed at a designated hospital (定点医院);
//   - confirmed infectious, priority 2: an isolation bed at a designated hospital;
//   - confirmed infectious, priority 3–4 (mild, stable): an isolation bed at a Fangcang shelter
//     hospital (方舱医院) or a designated hospital;
//   - suspected fever: a fever-observation bed at a fever clinic (发热门诊) — designated
//     hospitals keep theirs for their own confirmed patients;
//   - everyone else: an emergency-department place at a general hospital or a fever-clinic
//     hospital (which are general hospitals too).
func NeedOf(c contract.Call) Need {
	switch {
	case c.Infectious && c.Priority == 1:
		return Need{Bed: contract.BedICU, Kinds: []city.HospitalKind{city.HospitalDesignated}, key: "icu"}
	case c.Infectious && c.Priority == 2:
		return Need{Bed: contract.BedIsolation, Kinds: []city.HospitalKind{city.HospitalDesignated}, key: "isolation-designated"}
	case c.Infectious:
		return Need{Bed: contract.BedIsolation, Kinds: []city.HospitalKind{city.HospitalFangcang, city.HospitalDesignated}, key: "isolation-mild"}
	case c.Category == contract.CategoryFever:
		return Need{Bed: contract.BedFeverObservation, Kinds: []city.HospitalKind{city.HospitalFeverClinic}, key: "fever"}
	default:
		return Need{Bed: contract.BedEmergency, Kinds: []city.HospitalKind{city.HospitalGeneral, city.HospitalFeverClinic}, key: "emergency"}
	}
}

// Hospital is the registry's view of one hospital.
type Hospital struct {
	city.Hospital
	ReportedAt time.Time                // of the last accepted report; zero if none yet
	Reported   map[string]contract.Beds // beds as last reported (initially the city's estimate)
	Reserved   map[string]int           // patients on the way, by bed kind
	Admitted   map[string][]time.Time   // patients handed over since the last report, by bed kind
	// StandbyOpensAt is when its standby beds open (surge mode switched on + the hours they
	// take); zero when not opening. StandbyOpen: they are open, in Reported's isolation total.
	StandbyOpensAt time.Time
	StandbyOpen    bool
	sphere         city.Sphere // its point on the unit sphere, to rank by distance
}

// Effective is what the registry believes of one bed kind now: the report, plus the patients
// handed over since it, plus those on the way.
type Effective struct {
	contract.Beds
	Reserved int
	Admitted int
}

// Free is the effective number of free beds, never negative.
func (e Effective) Free() int { return max(0, e.Total-e.Occupied-e.Reserved-e.Admitted) }

// OccupancyPct counts reserved and admitted beds as occupied.
func (e Effective) OccupancyPct() float64 {
	if e.Total == 0 {
		return 100
	}
	return 100 * float64(e.Occupied+e.Reserved+e.Admitted) / float64(e.Total)
}

// Effective returns the effective state of one bed kind.
func (h *Hospital) Effective(bed string) Effective {
	return Effective{Beds: h.Reported[bed], Reserved: h.Reserved[bed], Admitted: len(h.Admitted[bed])}
}

// Registry holds the hospitals, their beds and the patients on the way.
type Registry struct {
	cfg       Config
	hospitals []*Hospital
	byID      map[string]*Hospital
	booked    map[string]booking // call id → its reserved bed
	byNeed    map[string][]*Hospital
	surge     bool    // surge mode: mild fever and infectious patients go to Fangcang shelters
	heap      outward // choose's walk, kept between calls
}

type booking struct {
	hospital *Hospital
	bed      string
	done     bool // handed over: the bed is in Admitted, no longer in Reserved
}

// NewRegistry loads the city's hospitals with their initial bed estimates (not a report: the
// hospitals are stale and overdue until they report).
func NewRegistry(c *city.City, cfg Config) *Registry {
	if cfg.Travel == nil {
		panic("hospitals.NewRegistry: Config.Travel is nil")
	}
	cfg.defaults()
	r := &Registry{cfg: cfg, byID: map[string]*Hospital{}, booked: map[string]booking{}, byNeed: map[string][]*Hospital{}}
	for _, h := range c.Hospitals {
		nh := &Hospital{Hospital: h, Reported: maps.Clone(h.Beds), Reserved: map[string]int{}, Admitted: map[string][]time.Time{},
			sphere: h.Point.OnSphere()}
		if nh.Reported == nil {
			nh.Reported = map[string]contract.Beds{}
		}
		r.hospitals = append(r.hospitals, nh)
		r.byID[h.ID] = nh
	}
	slices.SortFunc(r.hospitals, func(a, b *Hospital) int { return cmp.Compare(a.ID, b.ID) })
	return r
}

// Config returns the registry's rules.
func (r *Registry) Config() Config { return r.cfg }

// Hospital returns the hospital with the given id.
func (r *Registry) Hospital(id string) (*Hospital, bool) {
	h, ok := r.byID[id]
	return h, ok
}

// All returns the hospitals in id order.
func (r *Registry) All() []*Hospital { return r.hospitals }

// Stale reports whether a hospital's numbers are older than StaleAfter (or were never reported).
func (r *Registry) Stale(h *Hospital, now time.Time) bool {
	return h.ReportedAt.IsZero() || now.Sub(h.ReportedAt) > r.cfg.StaleAfter
}

// Overdue lists the hospitals whose report is stale, in id order: someone should chase them.
func (r *Registry) Overdue(now time.Time) []string {
	var out []string
	for _, h := range r.hospitals {
		if r.Stale(h, now) {
			out = append(out, h.ID)
		}
	}
	return out
}

// Outcome says what a report did.
type Outcome int

// Outcomes of Apply.
const (
	Accepted  Outcome = iota
	Duplicate         // the same report again (at-least-once delivery): nothing changed
)

// Check validates a report against the registry without applying it: the hospital must be
// known, the bed kinds its own, reported_at not in the future (beyond FutureSkew) and not
// older than the last accepted report. Counts were checked by contract.DecodeCapacityReport.
func (r *Registry) Check(rep contract.CapacityReport, now time.Time) (Outcome, error) {
	h, ok := r.byID[rep.HospitalID]
	if !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownHospital, rep.HospitalID)
	}
	if rep.ReportedAt.After(now.Add(r.cfg.FutureSkew)) {
		return 0, fmt.Errorf("%w: %s is %s ahead of the dispatch centre's clock", ErrFutureReport,
			rep.ReportedAt.Format(time.RFC3339), rep.ReportedAt.Sub(now).Round(time.Second))
	}
	for bed := range rep.Beds {
		if _, has := h.Beds[bed]; !has {
			return 0, fmt.Errorf("%w: %s has no %s beds", ErrNoSuchBeds, h.ID, bed)
		}
	}
	if !h.ReportedAt.IsZero() {
		switch {
		case rep.ReportedAt.Before(h.ReportedAt):
			return 0, fmt.Errorf("%w (%s) for %s", ErrOlderReport, h.ReportedAt.Format(time.RFC3339), h.ID)
		case rep.ReportedAt.Equal(h.ReportedAt):
			for bed, b := range rep.Beds {
				if h.Reported[bed] != b {
					return 0, fmt.Errorf("%w: %s already reported at %s with other counts", ErrOlderReport, h.ID, h.ReportedAt.Format(time.RFC3339))
				}
			}
			return Duplicate, nil
		}
	}
	return Accepted, nil
}

// Apply checks a report and, when it is new, makes it the hospital's state: its counts
// replace the reported ones for the bed kinds it names, and patients handed over before
// reported_at are taken to be in them.
func (r *Registry) Apply(rep contract.CapacityReport, now time.Time) (Outcome, error) {
	out, err := r.Check(rep, now)
	if err != nil || out == Duplicate {
		return out, err
	}
	h := r.byID[rep.HospitalID]
	h.ReportedAt = rep.ReportedAt
	h.Accepting = rep.Accepting
	for bed, b := range rep.Beds {
		h.Reported[bed] = b
	}
	for bed, times := range h.Admitted {
		h.Admitted[bed] = slices.DeleteFunc(times, func(t time.Time) bool { return !t.After(rep.ReportedAt) })
	}
	return Accepted, nil
}

// Choice is a destination and why.
type Choice struct {
	HospitalID string
	Bed        string
	Reason     string
	Transport  time.Duration // from the scene to the chosen hospital
	Nearest    time.Duration // from the scene to the nearest suitable hospital, whatever its beds
}

// Destination reasons.
const (
	ReasonNearest     = "nearest"              // the nearest suitable hospital, with a free bed
	ReasonNearestFull = "nearest_was_full"     // the nearest had no free bed (or does not accept): the next
	ReasonSpreadLoad  = "spread_load"          // a less occupied hospital within the slack
	ReasonBeyondMax   = "beyond_max_transport" // no free bed within the maximum transport time
	ReasonAllFull     = "all_full"             // no suitable hospital has a free bed: the nearest
	ReasonNone        = "none_suitable"        // the city has no hospital for this need
	reasonStaleSuffix = "; report stale"
)

// Choose picks the hospital for a call's patient by the registry's policy and reserves the
// bed. A call that has a reservation keeps it (a reassigned ambulance carries the same
// patient to the same place).
func (r *Registry) Choose(c contract.Call, at time.Time) Choice {
	if b, ok := r.booked[c.CallID]; ok {
		return Choice{HospitalID: b.hospital.ID, Bed: b.bed, Reason: ReasonNearest}
	}
	ch, h := r.choose(c, at)
	if h != nil {
		h.Reserved[ch.Bed]++
		r.booked[c.CallID] = booking{hospital: h, bed: ch.Bed}
	}
	return ch
}

type option struct {
	h   *Hospital
	key float64       // ranks by transport time: the time itself, or for a Linear model the haversine of the distance
	t   time.Duration // -1 until timed (ranking.timed)
	i   int           // position in the suitable list, which is in id order: the tie-break
	eff Effective     // filled as far as the walk looks
}

func (a *option) before(b *option) bool { return a.key < b.key || a.key == b.key && a.i < b.i }

// outward yields options in order of transport time (ties by hospital id) without sorting
// them all: a heap (container/heap), built in linear time, popped only as far as the walk
// goes — a few hospitals, where a sort would order all of them for every call.
type outward []option

func (h outward) Len() int           { return len(h) }
func (h outward) Less(i, j int) bool { return h[i].before(&h[j]) }
func (h outward) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *outward) Push(x any)        { *h = append(*h, x.(option)) }

// Pop drops the last option: next reads the nearest before heap.Pop moves it there, so
// that no option is boxed into an interface on the way out.
func (h *outward) Pop() any {
	*h = (*h)[:len(*h)-1]
	return nil
}

// next removes and returns the nearest remaining option; ok is false when none remain.
func (h *outward) next() (option, bool) {
	if len(*h) == 0 {
		return option{}, false
	}
	top := (*h)[0]
	heap.Pop(h)
	return top, true
}

// walk is one destination choice, over the registry's heap of the suitable hospitals ranked
// outwards from the scene; nearest is the nearest whatever its beds (the reference for the
// choice's reason).
type walk struct {
	r       *Registry
	need    Need
	at      time.Time
	from    ranking
	nearest option
}

// pick is the choice of o for the reason given (marked when o's report is stale).
func (w *walk) pick(o option, reason string) (Choice, *Hospital) {
	if w.r.Stale(o.h, w.at) {
		reason += reasonStaleSuffix
	}
	return Choice{HospitalID: o.h.ID, Bed: w.need.Bed, Reason: reason, Transport: o.t, Nearest: w.nearest.t}, o.h
}

func (r *Registry) choose(c contract.Call, at time.Time) (Choice, *Hospital) {
	need := r.NeedOf(c)
	cands := r.suitable(need)
	if len(cands) == 0 {
		return Choice{Bed: need.Bed, Reason: ReasonNone}, nil
	}
	w := &walk{r: r, need: need, at: at, from: r.rankFrom(c, at)}
	if r.cfg.Policy != PolicyNearest && !anyFree(cands, need.Bed) {
		// Every suitable hospital is full (a surge): the nearest, found in one pass.
		w.nearest = w.from.nearest(cands)
		return w.pick(w.nearest, ReasonAllFull)
	}
	// The heap is the registry's, kept between calls: its slice is reused, and a pointer to it
	// handed to container/heap costs no allocation.
	r.heap = r.heap[:0]
	for i, hosp := range cands {
		r.heap = append(r.heap, w.from.option(i, hosp))
	}
	heap.Init(&r.heap)
	// Walk outwards in transport time; beds are looked at only as far as the walk goes.
	w.nearest, _ = r.heap.next()
	w.nearest = w.from.timed(w.nearest)
	first, found := w.firstAccepting()
	switch {
	case r.cfg.Policy == PolicyNearest && found:
		return w.pick(first, ReasonNearest)
	case !found:
		return w.pick(w.nearest, ReasonAllFull)
	case first.t > r.cfg.MaxTransport:
		return w.pick(first, ReasonBeyondMax)
	}
	return w.balance(c, first)
}

// firstAccepting walks from the nearest to the first hospital that accepts patients — and,
// unless the policy is nearest, has a free bed.
func (w *walk) firstAccepting() (option, bool) {
	for o, ok := w.nearest, true; ok; o, ok = w.r.heap.next() {
		o = w.from.timed(o)
		if !o.h.Accepting {
			continue
		}
		if w.r.cfg.Policy == PolicyNearest {
			return o, true
		}
		if o.eff = o.h.Effective(w.need.Bed); o.eff.Free() > 0 {
			return o, true
		}
	}
	return option{}, false
}

// balance walks on from first, as far as the slack allows, to a hospital less occupied by
// more than the load band; the least occupied such one is the choice.
func (w *walk) balance(c contract.Call, first option) (Choice, *Hospital) {
	cfg := w.r.cfg
	slack := cfg.Slack
	switch {
	case c.Priority == 1:
		slack = 0 // a life-threatening patient is not detoured to spread load
	case w.need.Bed == contract.BedEmergency:
		slack = cfg.EmergencySlack
	}
	load := func(o *option) float64 {
		l := o.eff.OccupancyPct()
		if w.r.Stale(o.h, w.at) {
			l += cfg.StalePenaltyPct
		}
		return l
	}
	best, bestLoad := first, load(&first)
	for o, ok := w.r.heap.next(); ok; o, ok = w.r.heap.next() {
		o = w.from.timed(o)
		if o.t > cfg.MaxTransport || o.t > first.t+slack {
			break
		}
		if !o.h.Accepting {
			continue
		}
		if o.eff = o.h.Effective(w.need.Bed); o.eff.Free() == 0 {
			continue
		}
		if l := load(&o); l < bestLoad-cfg.LoadBand {
			best, bestLoad = o, l
		}
	}
	switch {
	case best.h != first.h:
		return w.pick(best, ReasonSpreadLoad)
	case best.h != w.nearest.h:
		return w.pick(best, ReasonNearestFull)
	default:
		return w.pick(best, ReasonNearest)
	}
}

// anyFree reports whether any of hs accepts patients and has an effective free bed.
func anyFree(hs []*Hospital, bed string) bool {
	for _, h := range hs {
		if h.Accepting && h.Effective(bed).Free() > 0 {
			return true
		}
	}
	return false
}

// suitable lists, once per need, the hospitals of a kind that takes it and with beds of the
// kind it needs.
func (r *Registry) suitable(need Need) []*Hospital {
	if hs, ok := r.byNeed[need.key]; ok {
		return hs
	}
	var hs []*Hospital
	for _, h := range r.hospitals {
		if slices.Contains(need.Kinds, h.Kind) && h.Beds[need.Bed].Total > 0 {
			hs = append(hs, h)
		}
	}
	// In id order: choose breaks ties in transport time by position here.
	slices.SortFunc(hs, func(a, b *Hospital) int { return cmp.Compare(a.ID, b.ID) })
	r.byNeed[need.key] = hs
	return hs
}

// NearestSuitable is the hospital nearest (by transport time from the call's scene) among
// those of a kind that takes the call's patient, whatever their beds: the reference for
// "extra transport time".
func (r *Registry) NearestSuitable(c contract.Call, at time.Time) (string, time.Duration, bool) {
	hs := r.suitable(r.NeedOf(c))
	if len(hs) == 0 {
		return "", 0, false
	}
	from := r.rankFrom(c, at)
	o := from.nearest(hs)
	return o.h.ID, o.t, true
}

// ranking orders hospitals by transport time from a call's scene, driven as the call's
// priority drives (lights and sirens for 1–2). With a Linear model time grows with distance,
// so it ranks by distance on the unit sphere, with no trigonometry, and times (with the
// model, the same value) only the hospitals a caller reaches; another model times each one.
type ranking struct {
	scene  city.Point
	sphere city.Sphere
	linear bool
	travel func(from, to city.Point) time.Duration
}

func (r *Registry) rankFrom(c contract.Call, at time.Time) ranking {
	scene := city.Point{Lat: c.Lat, Lng: c.Lng}
	_, linear := r.cfg.Travel.(city.Linear)
	return ranking{scene: scene, sphere: scene.OnSphere(), linear: linear, travel: city.DurationFunc(r.cfg.Travel, at, c.Priority)}
}

// option is h, at position i of its list, ranked; its transport time may be left to timed.
func (k *ranking) option(i int, h *Hospital) option {
	if k.linear {
		return option{h: h, key: city.Hav(&k.sphere, &h.sphere), t: -1, i: i}
	}
	t := k.travel(k.scene, h.Point)
	return option{h: h, key: float64(t), t: t, i: i}
}

// timed fills in o's transport time.
func (k *ranking) timed(o option) option {
	if o.t < 0 {
		o.t = k.travel(k.scene, o.h.Point)
	}
	return o
}

// nearest is the first of hs (not empty) in the ranking, ties to the earlier in hs, timed.
func (k *ranking) nearest(hs []*Hospital) option {
	best := k.option(0, hs[0])
	for i, h := range hs[1:] {
		if o := k.option(i+1, h); o.before(&best) {
			best = o
		}
	}
	return k.timed(best)
}

// Handover moves a call's reserved bed to the admitted ones: the patient is in the hospital,
// and in its numbers from its next report on.
func (r *Registry) Handover(callID string, at time.Time) {
	b, ok := r.booked[callID]
	if !ok || b.done {
		return
	}
	b.hospital.Reserved[b.bed]--
	b.hospital.Admitted[b.bed] = append(b.hospital.Admitted[b.bed], at)
	b.done = true
	r.booked[callID] = b
}

// Release frees a call's reservation (the call ended without a transport, or was cancelled)
// and forgets the call.
func (r *Registry) Release(callID string) {
	b, ok := r.booked[callID]
	if !ok {
		return
	}
	if !b.done {
		b.hospital.Reserved[b.bed]--
	}
	delete(r.booked, callID)
}

// Restore re-creates a reservation from the record at start-up: the patient of callID is on
// the way to hospitalID (handedOver false) or was handed over at `at` since the hospital's
// last report (handedOver true).
func (r *Registry) Restore(callID, hospitalID string, c contract.Call, handedOver bool, at time.Time) error {
	h, ok := r.byID[hospitalID]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownHospital, hospitalID)
	}
	bed := r.NeedOf(c).Bed
	if handedOver {
		if at.After(h.ReportedAt) {
			h.Admitted[bed] = append(h.Admitted[bed], at)
		}
		r.booked[callID] = booking{hospital: h, bed: bed, done: true}
		return nil
	}
	h.Reserved[bed]++
	r.booked[callID] = booking{hospital: h, bed: bed}
	return nil
}

// Destination implements dispatch.Destinations: Choose, as an id and a reason.
func (r *Registry) Destination(c contract.Call, at time.Time) (string, string) {
	ch := r.Choose(c, at)
	return ch.HospitalID, ch.Reason
}

// Redirect implements dispatch.Destinations: the dispatcher sends a call's patient to
// hospitalID instead. The hospital must be one that takes the patient (its kind and a ward
// of the bed the patient needs); a full one is allowed — the dispatcher may know better —
// and its occupancy shows it.
func (r *Registry) Redirect(c contract.Call, hospitalID string, _ time.Time) error {
	h, ok := r.byID[hospitalID]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownHospital, hospitalID)
	}
	need := r.NeedOf(c)
	if !slices.Contains(r.suitable(need), h) {
		return &contract.Error{Field: "hospital_id",
			Reason: fmt.Sprintf("%s (%s) does not take this patient: it needs a %s bed at a %v", h.ID, h.Kind, need.Bed, need.Kinds)}
	}
	if b, ok := r.booked[c.CallID]; ok {
		if b.done {
			return &contract.Error{Field: "hospital_id", Reason: "the patient was already handed over at " + b.hospital.ID}
		}
		b.hospital.Reserved[b.bed]--
	}
	h.Reserved[need.Bed]++
	r.booked[c.CallID] = booking{hospital: h, bed: need.Bed}
	return nil
}

// NeedOf is what a call's patient needs under the registry's mode: NeedOf, but in surge mode
// a mild (priority 3–4) fever or infectious patient takes an isolation bed at a Fangcang
// shelter, keeping the designated hospitals' beds for the severe.
func (r *Registry) NeedOf(c contract.Call) Need {
	if r.surge && c.NeedsIsolation() && c.Priority >= 3 {
		return Need{Bed: contract.BedIsolation, Kinds: []city.HospitalKind{city.HospitalFangcang}, key: "isolation-surge-mild"}
	}
	return NeedOf(c)
}

// SetSurge switches surge mode: on, the standby beds of the peace-and-war hospitals start
// opening (each StandbyOpenHours from now). Beds already open stay open when it is switched
// off: patients are in them.
func (r *Registry) SetSurge(on bool, at time.Time) {
	r.surge = on
	for _, h := range r.hospitals {
		switch {
		case on && h.StandbyBeds > 0 && !h.StandbyOpen && h.StandbyOpensAt.IsZero():
			h.StandbyOpensAt = at.Add(time.Duration(h.StandbyOpenHours * float64(time.Hour)))
		case !on && !h.StandbyOpen:
			h.StandbyOpensAt = time.Time{}
		}
	}
}

// Surge reports whether surge mode is on.
func (r *Registry) Surge() bool { return r.surge }

// OpenStandby opens the standby beds whose time has come, adding them to the hospital's
// isolation total, and returns those hospitals. (The hospital's next report is the truth
// again: it counts the beds it has open.) The caller's clock calls it — the service's tick,
// the simulator's — so that whoever calls it learns what opened; choosing a hospital does not.
func (r *Registry) OpenStandby(now time.Time) []*Hospital {
	var opened []*Hospital
	for _, h := range r.hospitals {
		if h.StandbyOpensAt.IsZero() || h.StandbyOpen || now.Before(h.StandbyOpensAt) {
			continue
		}
		b := h.Reported[contract.BedIsolation]
		b.Total += h.StandbyBeds
		h.Reported[contract.BedIsolation] = b
		h.StandbyOpen = true
		opened = append(opened, h)
	}
	return opened
}

// IsolationOccupancyPct is what the registry believes of the isolation beds at designated
// hospitals and Fangcang shelters together, percent: automatic surge mode's second trigger.
func (r *Registry) IsolationOccupancyPct() float64 {
	used, total := 0, 0
	for _, h := range r.hospitals {
		if h.Kind != city.HospitalDesignated && h.Kind != city.HospitalFangcang {
			continue
		}
		e := h.Effective(contract.BedIsolation)
		used += e.Occupied + e.Reserved + e.Admitted
		total += e.Total
	}
	if total == 0 {
		return 0
	}
	return 100 * float64(used) / float64(total)
}
