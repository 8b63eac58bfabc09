package loadtest

import (
	"cmp"
	"container/heap"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/coverage"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/hospitals"
)

// Scenarios of the simulator.
const (
	ScenarioNormal     = "normal"
	ScenarioFeverSurge = "fever-surge"
)

// Scenario constants. All are estimates for a city of Wuhan's size; the sources are general
// EMS operations figures, not Wuhan data (none was at hand).
const (
	// About one call a minute: a 12-million city's 120 centre dispatching ~1,400 ambulances a
	// day in normal times.
	DefaultCallsPerDay = 1400
	// fever-surge: fever calls at three times their normal rate for the first 12 hours, 80%
	// of them in two districts (江岸区 and 江汉区, where Wuhan's 2020 outbreak began).
	surgeHours   = 12
	surgeFactor  = 3
	surgeLocal   = 0.8
	surgeStartOc = 0.55 // every bed kind starts 55% occupied (before the warm-up), so spread measures the policy
	reportEvery  = time.Hour
	// warmUp is simulated before the measured hours, with the same demand and rules but no
	// surge, so that the measured hours start from a city in its usual state: units out on
	// calls, patients of earlier hours in their beds.
	warmUp      = 24 * time.Hour
	sampleEvery = 10 * time.Minute
	tickEvery   = time.Minute
)

// surgeDistricts are the fever-surge's two districts.
var surgeDistricts = []string{"420102", "420103"}

// hourly is the daily profile of call demand (mean 1): lowest before dawn, highest late
// morning and early evening, the shape EMS demand studies report.
var hourly = [24]float64{0.55, 0.5, 0.45, 0.42, 0.42, 0.5, 0.7, 0.95, 1.15, 1.25, 1.3, 1.3,
	1.25, 1.2, 1.2, 1.2, 1.2, 1.25, 1.3, 1.25, 1.1, 0.95, 0.8, 0.65}

// Lengths of stay of ambulance patients, by bed kind (uniform between the two): an emergency
// place is held until the patient goes to a ward or home (ED length-of-stay studies report
// 2–6 hours); fever observation until the test results (hours to a day); isolation and ICU
// for days.
var lengthOfStay = map[string][2]time.Duration{
	contract.BedEmergency:        {2 * time.Hour, 6 * time.Hour},
	contract.BedFeverObservation: {6 * time.Hour, 24 * time.Hour},
	contract.BedIsolation:        {7 * 24 * time.Hour, 14 * 24 * time.Hour},
	contract.BedICU:              {5 * 24 * time.Hour, 10 * 24 * time.Hour},
}

// SimConfig configures `ems120 simulate`.
type SimConfig struct {
	City           *city.City
	Scenario       string           // normal or fever-surge
	Hours          float64          // simulated time; default 24
	Seed           uint64           // same seed, same result
	HospitalPolicy hospitals.Policy // nearest or balanced (default)
	Hospitals      hospitals.Config // the other destination rules; Travel and Policy are set here
	Preempt        bool             // the dispatch policy: pre-emption on or off
	CallsPerDay    float64          // default DefaultCallsPerDay
	Start          time.Time        // default 2026-11-28 00:00 in the city's time zone
	Progress       io.Writer        // progress lines (stderr); nil for none
	// Replay, when set, replaces the synthetic demand of the measured hours with these calls
	// (the warm-up keeps its synthetic demand, to start from a city in its usual state).
	Replay []ReplayCall
}

// ReplayCall is a real call for the simulator, After the start of the measured hours.
type ReplayCall struct {
	Call  contract.Call
	After time.Duration
}

// Sample is the state of the city at one moment of a simulation.
type Sample struct {
	At           time.Time
	Calls        int     // calls received so far
	Queued       int     // calls waiting for a unit
	Busy         int     // units serving an incident
	OccupancyPct float64 // mean occupancy of the focus bed kind across its hospitals
	CoveragePct  float64 // demand within 5 km / 15 min of an available unit
	DoublePct    float64 // … of two
}

// SimResult is what a simulation measured.
type SimResult struct {
	Summary  Summary
	FocusBed string   // the bed kind the occupancy figures are about
	Samples  []Sample // every 10 simulated minutes
	Response []float64
}

// Simulate runs a discrete-event simulation in virtual time: synthetic calls, the dispatch
// engine and the hospital registry exactly as the service runs them, and a fleet whose crews
// acknowledge, drive (the travel model's time with ±15% noise), stay on scene, transport to
// the hospital the registry chose, hand over and drive home. Hospitals report their real
// occupancy every hour. The same seed gives the same result.
func Simulate(cfg SimConfig) (SimResult, error) {
	if cfg.City == nil {
		cfg.City = city.Wuhan()
	}
	if cfg.Scenario == "" {
		cfg.Scenario = ScenarioNormal
	}
	if cfg.Scenario != ScenarioNormal && cfg.Scenario != ScenarioFeverSurge {
		return SimResult{}, fmt.Errorf("unknown scenario %q (want %s or %s)", cfg.Scenario, ScenarioNormal, ScenarioFeverSurge)
	}
	if cfg.HospitalPolicy == "" {
		cfg.HospitalPolicy = hospitals.PolicyBalanced
	}
	if cfg.HospitalPolicy != hospitals.PolicyNearest && cfg.HospitalPolicy != hospitals.PolicyBalanced {
		return SimResult{}, fmt.Errorf("unknown hospital policy %q (want nearest or balanced)", cfg.HospitalPolicy)
	}
	if cfg.Hours <= 0 {
		cfg.Hours = 24
	}
	if cfg.CallsPerDay <= 0 {
		cfg.CallsPerDay = DefaultCallsPerDay
	}
	loc, err := time.LoadLocation(cfg.City.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 11, 28, 0, 0, 0, 0, loc)
	}
	s := newSim(cfg, loc)
	return s.run()
}

type simUnitState struct {
	id     string
	home   city.Point
	pos    city.Point
	gen    int
	lastAt time.Time
}

type bedTruth struct {
	total, base, amb int
}

func (b *bedTruth) occupied() int { return b.base + b.amb }

type agendaItem struct {
	at  time.Time
	seq int
	fn  func()
}

type simAgenda []agendaItem

func (a simAgenda) Len() int { return len(a) }
func (a simAgenda) Less(i, j int) bool {
	return cmp.Or(a[i].at.Compare(a[j].at), cmp.Compare(a[i].seq, a[j].seq)) < 0
}
func (a simAgenda) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *simAgenda) Push(x any)   { *a = append(*a, x.(agendaItem)) }
func (a *simAgenda) Pop() any {
	old := *a
	it := old[len(old)-1]
	*a = old[:len(old)-1]
	return it
}

type sim struct {
	cfg        SimConfig
	loc        *time.Location
	rng        *rand.Rand
	travel     *city.StraightLineModel
	engine     *dispatch.Engine
	reg        *hospitals.Registry
	gen        *Generator
	surge      *Generator
	now        time.Time
	end        time.Time
	q          simAgenda
	seq        int
	units      map[string]*simUnitState
	truth      map[string]map[string]*bedTruth // hospital → bed kind → truth
	focus      string
	focusKinds []city.HospitalKind
	cov        *coverage.Tracker

	calls     map[string]contract.Call
	nMeasured int
	assigned  map[string]bool
	arrived   map[string]bool
	firstDist map[string]int
	response  []float64
	overflow  int
	added     []float64
	samples   []Sample
	peakMean  float64
	spreadPP  float64
	maxPct    float64
	err       error
}

func newSim(cfg SimConfig, loc *time.Location) *sim {
	s := &sim{
		cfg: cfg, loc: loc, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		travel: city.DefaultTravelModel(loc),
		now:    cfg.Start.Add(-warmUp), end: cfg.Start.Add(time.Duration(cfg.Hours * float64(time.Hour))),
		units: map[string]*simUnitState{}, truth: map[string]map[string]*bedTruth{},
		calls: map[string]contract.Call{}, assigned: map[string]bool{}, arrived: map[string]bool{}, firstDist: map[string]int{},
	}
	focusCall := contract.Call{Priority: 3, Category: contract.CategoryOther}
	if cfg.Scenario == ScenarioFeverSurge {
		focusCall.Category = contract.CategoryFever
	}
	need := hospitals.NeedOf(focusCall)
	s.focus, s.focusKinds = need.Bed, need.Kinds
	hcfg := cfg.Hospitals
	hcfg.Travel, hcfg.Policy = s.travel, cfg.HospitalPolicy
	s.reg = hospitals.NewRegistry(cfg.City, hcfg)
	s.engine = dispatch.New(dispatch.Config{Travel: s.travel, Preempt: cfg.Preempt, Hospitals: s.reg})
	for _, u := range cfg.City.Fleet {
		st, _ := cfg.City.Station(u.Station)
		s.units[u.ID] = &simUnitState{id: u.ID, home: st.Point, pos: st.Point, lastAt: s.now}
		if err := s.engine.AddUnit(dispatch.Unit{ID: u.ID, Kind: u.Kind, StationID: u.Station, Pos: st.Point,
			Status: contract.StatusAvailable, PingAt: s.now, StatusAt: s.now}); err != nil {
			panic(err) // the city was validated when it loaded
		}
	}
	for _, h := range cfg.City.Hospitals {
		m := map[string]*bedTruth{}
		for bed, b := range h.Beds {
			base := b.Occupied
			if cfg.Scenario == ScenarioFeverSurge {
				base = int(math.Round(surgeStartOc * float64(b.Total)))
			}
			m[bed] = &bedTruth{total: b.Total, base: base}
		}
		s.truth[h.ID] = m
	}
	s.cov = coverage.NewTracker(coverage.ServiceArea(cfg.City, coverage.Resolution), s.travel, s.now)
	s.gen = NewGenerator(cfg.City, DefaultMix, cfg.Seed, "S")
	surgeCity := *cfg.City
	surgeCity.Districts = nil
	for _, d := range cfg.City.Districts {
		if slices.Contains(surgeDistricts, d.Code) {
			surgeCity.Districts = append(surgeCity.Districts, d)
		}
	}
	s.surge = NewGenerator(&surgeCity, Mix{Priority: DefaultMix.Priority, Category: map[contract.Category]float64{contract.CategoryFever: 1},
		Infectious: DefaultMix.Infectious}, cfg.Seed+1, "F")
	return s
}

func (s *sim) at(t time.Time, fn func()) {
	s.seq++
	heap.Push(&s.q, agendaItem{at: t, seq: s.seq, fn: fn})
}

func (s *sim) uniform(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.rng.Float64()*float64(hi-lo))
}

// noisy is a realised travel time: the model's, times a log-normal factor with σ 0.15.
func (s *sim) noisy(d time.Duration) time.Duration {
	return time.Duration(float64(d) * math.Exp(0.15*s.rng.NormFloat64()))
}

func (s *sim) run() (SimResult, error) {
	// Every hospital reports at the start, then hourly, staggered so they do not all report
	// in the same second.
	for _, h := range s.cfg.City.Hospitals {
		f := fnv.New32a()
		f.Write([]byte(h.ID))
		offset := time.Duration(f.Sum32()%3600) * time.Second
		s.report(h.ID)
		s.every(s.now.Add(offset), reportEvery, func() { s.report(h.ID) })
	}
	s.every(s.now, tickEvery, func() { s.handle(s.engine.Tick(s.now)) })
	s.every(s.cfg.Start, sampleEvery, s.sample)
	s.scheduleCalls()
	lastProgress := s.now
	for s.q.Len() > 0 && s.err == nil {
		it := heap.Pop(&s.q).(agendaItem)
		if it.at.After(s.end) {
			break
		}
		s.now = it.at
		it.fn()
		if s.cfg.Progress != nil && s.now.Sub(lastProgress) >= 6*time.Hour {
			lastProgress = s.now
			phase := "warm-up"
			if !s.now.Before(s.cfg.Start) {
				phase = fmt.Sprintf("%d calls", s.nMeasured)
			}
			fmt.Fprintf(s.cfg.Progress, "simulate: %s, %s\n", s.now.Format("2006-01-02 15:04"), phase)
		}
	}
	if s.err != nil {
		return SimResult{}, s.err
	}
	s.now = s.end
	s.sample()
	return s.result(), nil
}

func (s *sim) every(first time.Time, period time.Duration, fn func()) {
	var tick func()
	tick = func() {
		fn()
		s.at(s.now.Add(period), tick)
	}
	s.at(first, tick)
}

// scheduleCalls draws the call streams, hour by hour: a Poisson stream per hour at that
// hour's rate (memoryless, so restarting at each hour is exact), plus the surge's fever calls.
func (s *sim) scheduleCalls() {
	perMin := s.cfg.CallsPerDay / 1440
	feverShare := DefaultMix.Category[contract.CategoryFever]
	for _, rc := range s.cfg.Replay {
		c := rc.Call
		s.at(s.cfg.Start.Add(rc.After), func() { s.receive(c) })
	}
	for h := s.now; h.Before(s.end); h = h.Add(time.Hour) {
		if s.cfg.Replay != nil && !h.Before(s.cfg.Start) {
			break // the measured hours' demand is the replay
		}
		hourEnd := h.Add(time.Hour)
		rate := perMin * hourly[h.In(s.loc).Hour()]
		for t := h.Add(s.gen.Gap(rate)); t.Before(hourEnd) && t.Before(s.end); t = t.Add(s.gen.Gap(rate)) {
			c := s.gen.Call(t)
			s.at(t, func() { s.receive(c) })
		}
		if s.cfg.Scenario == ScenarioFeverSurge && !h.Before(s.cfg.Start) && h.Sub(s.cfg.Start) < surgeHours*time.Hour {
			// (factor − 1) more fever calls: of all fever calls then, surgeLocal in the two districts.
			extra := rate * feverShare * (surgeFactor - 1)
			local := extra * surgeLocal * surgeFactor / (surgeFactor - 1)
			for t := h.Add(s.surge.Gap(local)); t.Before(hourEnd) && t.Before(s.end); t = t.Add(s.surge.Gap(local)) {
				c := s.surge.Call(t)
				s.at(t, func() { s.receive(c) })
			}
			if rest := extra - local; rest > 0 {
				for t := h.Add(s.gen.Gap(rest)); t.Before(hourEnd) && t.Before(s.end); t = t.Add(s.gen.Gap(rest)) {
					c := s.gen.Call(t)
					c.Category, c.Infectious = contract.CategoryFever, s.rng.Float64() < DefaultMix.Infectious
					s.at(t, func() { s.receive(c) })
				}
			}
		}
	}
}

// measured reports whether a call belongs to the measured hours (not the warm-up).
func (s *sim) measured(c contract.Call) bool { return !c.ReceivedAt.Before(s.cfg.Start) }

func (s *sim) receive(c contract.Call) {
	c.ReceivedAt = s.now
	s.calls[c.CallID] = c
	if s.measured(c) {
		s.nMeasured++
	}
	s.handle(s.engine.Receive(c, s.now))
}

// handle follows the engine's events: an assignment starts the unit's part.
func (s *sim) handle(evs []dispatch.Event) {
	for _, ev := range evs {
		if ev.Type != dispatch.EventAssigned {
			continue
		}
		if !s.assigned[ev.CallID] && s.measured(s.calls[ev.CallID]) {
			s.assigned[ev.CallID] = true
			s.firstDist[ev.CallID] = ev.Assignment.DistanceM
		}
		s.dispatch(ev)
	}
}

// ping reports a unit's status to the engine, at the sim's clock.
func (s *sim) ping(u *simUnitState, st contract.UnitStatus) {
	if s.now.Before(u.lastAt) {
		s.err = fmt.Errorf("simulator: ping for %s goes back in time", u.id)
		return
	}
	u.lastAt = s.now
	evs, err := s.engine.Ping(contract.UnitPing{UnitID: u.id, At: s.now, Lat: u.pos.Lat, Lng: u.pos.Lng, Status: st}, s.now)
	if err != nil {
		s.err = fmt.Errorf("simulator: %s %s at %s: %w", u.id, st, s.now.Format(time.RFC3339), err)
		return
	}
	s.handle(evs)
}

// dispatch plays one unit's part in an incident, from the assignment to its return home.
// Each step checks that the unit has not been sent elsewhere since (pre-emption).
func (s *sim) dispatch(ev dispatch.Event) {
	u := s.units[ev.UnitID]
	c := s.calls[ev.CallID]
	hospitalID := ev.Assignment.HospitalID
	u.gen++
	gen := u.gen
	mine := func() bool { return u.gen == gen }
	scene := city.Point{Lat: c.Lat, Lng: c.Lng}
	s.at(s.now.Add(5*time.Second), func() {
		if mine() {
			s.ping(u, contract.StatusDispatched)
		}
	})
	s.at(s.now.Add(s.travel.Turnout(c.Priority)), func() {
		if !mine() {
			return
		}
		s.ping(u, contract.StatusEnRoute)
		from := u.pos
		s.at(s.now.Add(s.noisy(s.travel.Duration(from, scene, s.now, c.Priority))), func() {
			if !mine() {
				return
			}
			u.pos = scene
			if !s.arrived[c.CallID] && s.measured(c) {
				s.arrived[c.CallID] = true
				s.response = append(s.response, s.now.Sub(c.ReceivedAt).Seconds())
			}
			s.ping(u, contract.StatusOnScene)
			transported := c.NeedsIsolation() || s.rng.Float64() < 0.8
			s.at(s.now.Add(s.uniform(10*time.Minute, 25*time.Minute)), func() {
				if !mine() {
					return
				}
				hosp, ok := s.cfg.City.Hospitals[0], false
				for _, h := range s.cfg.City.Hospitals {
					if h.ID == hospitalID {
						hosp, ok = h, true
					}
				}
				if !transported || !ok {
					s.ping(u, contract.StatusAvailable)
					s.goHome(u, gen)
					return
				}
				s.ping(u, contract.StatusTransporting)
				if _, nearest, ok := s.reg.NearestSuitable(c, s.now); ok && s.measured(c) {
					s.added = append(s.added, (s.travel.Duration(scene, hosp.Point, s.now, c.Priority) - nearest).Seconds())
				}
				s.at(s.now.Add(s.noisy(s.travel.Duration(scene, hosp.Point, s.now, c.Priority))), func() {
					if !mine() {
						return
					}
					u.pos = hosp.Point
					s.admit(hosp.ID, hospitals.NeedOf(c).Bed, s.measured(c))
					s.ping(u, contract.StatusAtHospital)
					s.at(s.now.Add(s.uniform(10*time.Minute, 25*time.Minute)), func() {
						if mine() {
							s.ping(u, contract.StatusAvailable)
							s.goHome(u, gen)
						}
					})
				})
			})
		})
	})
}

// goHome drives an available unit back to its station: halfway and home it reports its
// position (the engine may send it elsewhere on the way).
func (s *sim) goHome(u *simUnitState, gen int) {
	from, home := u.pos, u.home
	d := s.noisy(s.travel.Duration(from, home, s.now, 4))
	s.at(s.now.Add(d/2), func() {
		if u.gen == gen {
			u.pos = city.Point{Lat: (from.Lat + home.Lat) / 2, Lng: (from.Lng + home.Lng) / 2}
			s.ping(u, contract.StatusAvailable)
		}
	})
	s.at(s.now.Add(d), func() {
		if u.gen == gen {
			u.pos = home
			s.ping(u, contract.StatusAvailable)
		}
	})
}

// admit puts an ambulance patient in a bed, counting an overflow when none was free, and
// schedules the discharge.
func (s *sim) admit(hospitalID, bed string, count bool) {
	b := s.truth[hospitalID][bed]
	if b == nil {
		if count {
			s.overflow++ // a hospital without that bed kind at all
		}
		return
	}
	if b.occupied() >= b.total && count {
		s.overflow++
	}
	b.amb++
	los := lengthOfStay[bed]
	s.at(s.now.Add(s.uniform(los[0], los[1])), func() { b.amb-- })
}

// report sends a hospital's true occupancy to the registry, as its reporter would.
func (s *sim) report(hospitalID string) {
	rep := contract.CapacityReport{HospitalID: hospitalID, ReportedAt: s.now, Accepting: true, Beds: map[string]contract.Beds{}}
	for bed, b := range s.truth[hospitalID] {
		rep.Beds[bed] = contract.Beds{Total: b.total, Occupied: min(b.occupied(), b.total)}
	}
	if _, err := s.reg.Apply(rep, s.now); err != nil {
		s.err = fmt.Errorf("simulator: report %s: %w", hospitalID, err)
	}
}

// sample records the city's state and tracks the occupancy peak of the focus bed kind across
// the hospitals of the kinds that take it (hospitals.NeedOf).
func (s *sim) sample() {
	var pcts []float64
	for _, h := range s.cfg.City.Hospitals {
		if !slices.Contains(s.focusKinds, h.Kind) {
			continue
		}
		if b := s.truth[h.ID][s.focus]; b != nil && b.total > 0 {
			p := 100 * float64(b.occupied()) / float64(b.total)
			pcts = append(pcts, p)
			s.maxPct = max(s.maxPct, p)
		}
	}
	mean := 0.0
	for _, p := range pcts {
		mean += p
	}
	if len(pcts) > 0 {
		mean /= float64(len(pcts))
		if mean > s.peakMean {
			s.peakMean = mean
			s.spreadPP = slices.Max(pcts) - slices.Min(pcts)
		}
	}
	s.cov.SetTime(s.now)
	for _, u := range s.engine.DrainDirty(true) {
		if u.Status == contract.StatusAvailable && u.CallID == "" && u.FlaggedAt.IsZero() {
			s.cov.Set(u.ID, u.Pos)
		} else {
			s.cov.Remove(u.ID)
		}
	}
	one, two := s.cov.Summary()
	st := s.engine.Stats()
	s.samples = append(s.samples, Sample{At: s.now, Calls: s.nMeasured, Queued: st.Queued, Busy: st.Units - st.Available - st.Flagged,
		OccupancyPct: mean, CoveragePct: one, DoublePct: two})
}

func (s *sim) result() SimResult {
	sum := Summary{Calls: s.nMeasured}
	for _, inc := range s.engine.Queue() {
		if s.measured(inc.Call) {
			sum.Queued++
		}
	}
	cancelled := 0
	for id := range s.assigned {
		if s.assigned[id] {
			sum.Assigned++
		}
	}
	sum.Cancelled = cancelled
	sum.Lost = sum.Calls - sum.Assigned - sum.Queued - sum.Cancelled
	if err := s.engine.Check(); err != nil {
		sum.DuplicateAssignments = -1 // the invariants broke: never expected; shown, not hidden
	}
	within15, within5 := 0, 0
	for _, r := range s.response {
		if r <= 900 {
			within15++
		}
	}
	for _, d := range s.firstDist {
		if d <= 5000 {
			within5++
		}
	}
	if n := len(s.response); n > 0 {
		sum.Within15MinPct = F(100 * float64(within15) / float64(n))
		sum.ResponseSP50 = F(Percentile(s.response, 50))
		sum.ResponseSP90 = F(Percentile(s.response, 90))
	}
	if n := len(s.firstDist); n > 0 {
		sum.Within5KmPct = F(100 * float64(within5) / float64(n))
	}
	sum.HospitalOverflow = &s.overflow
	sum.OccupancyMaxPct = F(s.maxPct)
	sum.OccupancySpreadPP = F(s.spreadPP)
	if n := len(s.samples); n > 0 {
		one, two := 0.0, 0.0
		for _, x := range s.samples {
			one += x.CoveragePct
			two += x.DoublePct
		}
		sum.CoveragePct, sum.DoubleCoveragePct = F(one/float64(n)), F(two/float64(n))
	}
	if len(s.added) > 0 {
		m := 0.0
		for _, a := range s.added {
			m += a
		}
		sum.TransportAddedSMean = F(m / float64(len(s.added)))
	}
	return SimResult{Summary: sum, FocusBed: s.focus, Samples: s.samples, Response: s.response}
}

// Percentile is the p-th percentile of v by the nearest-rank method (NaN for none).
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}
