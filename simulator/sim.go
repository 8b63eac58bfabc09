// Package simulator runs a day of the city in virtual time: synthetic demand, the dispatch
// engine and the hospital registry exactly as the service runs them, and crews that play
// their part of each incident. It does no I/O: no broker, no database, no wall clock. The
// same seed gives the same result; a day runs in under a second.
package simulator

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/coverage"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/hospitals"
	"github.com/ems120/ems120/results"
	"github.com/ems120/ems120/surveillance"
)

// Scenarios of the simulator.
const (
	ScenarioNormal     = "normal"
	ScenarioFeverSurge = "fever-surge"
	ScenarioOutbreak   = "outbreak"
	ScenarioEpidemic   = "epidemic"
)

// Scenarios lists the scenarios, for flags and errors.
var Scenarios = []string{ScenarioNormal, ScenarioFeverSurge, ScenarioOutbreak, ScenarioEpidemic}

const (
	// warmUp is simulated before the measured hours, with the same demand and rules but no
	// surge, so that the measured hours start from a city in its usual state: units out on
	// calls, patients of earlier hours in their beds.
	warmUp      = 24 * time.Hour
	sampleEvery = 10 * time.Minute
	tickEvery   = time.Minute
	reportEvery = time.Hour
)

// Config configures `ems120 simulate`.
type Config struct {
	City      *city.City
	Scenario  string           // one of Scenarios
	Hours     float64          // simulated time; default 24
	Seed      uint64           // same seed, same result
	Hospitals hospitals.Config // the destination rules (Policy: balanced by default); Travel is set here
	Preempt   bool             // the dispatch policy: pre-emption on or off
	// Decontamination of a unit after a fever or infectious patient; default 30 min, < 0 none.
	Decontamination time.Duration
	Outbreak        Outbreak            // the outbreak scenario's cluster
	Surveillance    surveillance.Config // the fever-call surveillance's rules
	Epidemic        Epidemic            // the epidemic scenario's scale
	Surge           string              // surge mode: off (default), on (from the start of the measured hours) or auto
	SurgeRules      dispatch.SurgeRules // its rules
	CallsPerDay     float64             // default DefaultCallsPerDay
	Start           time.Time           // default 2026-11-28 00:00 in the city's time zone
	Progress        io.Writer           // progress lines (stderr); nil for none
	// Replay, when set, replaces the synthetic demand of the measured hours with these calls
	// (the warm-up keeps its synthetic demand, to start from a city in its usual state).
	Replay []ReplayCall
}

// ReplayCall is a real call for the simulator, After the start of the measured hours.
type ReplayCall struct {
	Call  contract.Call
	After time.Duration
}

// Run runs a discrete-event simulation in virtual time: synthetic calls, the dispatch engine
// and the hospital registry exactly as the service runs them, and a fleet whose crews
// acknowledge, drive (the travel model's time with ±15% noise), stay on scene, transport to
// the hospital the registry chose, hand over and drive home. Hospitals report their real
// occupancy every hour. The same seed gives the same result.
func Run(cfg Config) (results.Sim, error) {
	if err := cfg.defaults(); err != nil {
		return results.Sim{}, err
	}
	loc := cfg.City.Location()
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 11, 28, 0, 0, 0, 0, loc)
	}
	s, err := newSim(cfg, loc)
	if err != nil {
		return results.Sim{}, err
	}
	return s.run()
}

func (cfg *Config) defaults() error {
	if cfg.City == nil {
		cfg.City = city.Wuhan()
	}
	if cfg.Scenario == "" {
		cfg.Scenario = ScenarioNormal
	}
	if !slices.Contains(Scenarios, cfg.Scenario) {
		return fmt.Errorf("unknown scenario %q (want one of %s)", cfg.Scenario, strings.Join(Scenarios, ", "))
	}
	switch cfg.Surge {
	case "":
		cfg.Surge = SurgeOff
	case SurgeOff, SurgeOn, SurgeAuto:
	default:
		return fmt.Errorf("unknown surge mode %q (want off, on or auto)", cfg.Surge)
	}
	cfg.Epidemic.defaults()
	if cfg.Scenario == ScenarioOutbreak {
		if err := cfg.Outbreak.defaults(cfg.City); err != nil {
			return err
		}
	}
	if cfg.Hospitals.Policy == "" {
		cfg.Hospitals.Policy = hospitals.PolicyBalanced
	}
	if p := cfg.Hospitals.Policy; p != hospitals.PolicyNearest && p != hospitals.PolicyBalanced {
		return fmt.Errorf("unknown hospital policy %q (want nearest or balanced)", p)
	}
	if cfg.Hours <= 0 {
		cfg.Hours = 24
	}
	if cfg.CallsPerDay <= 0 {
		cfg.CallsPerDay = DefaultCallsPerDay
	}
	return nil
}

type sim struct {
	cfg        Config
	loc        *time.Location
	rng        *rand.Rand
	travel     *city.StraightLineModel
	engine     *dispatch.Engine
	reg        *hospitals.Registry
	gen        *Generator
	surge      *Generator
	now        time.Time
	end        time.Time
	q          Agenda
	units      map[string]*simUnit
	truth      map[string]map[string]*bedTruth // hospital → bed kind → truth
	focus      string
	focusKinds []city.HospitalKind
	cov        *coverage.Tracker
	watch      *watch
	// rngOutbreak places the outbreak's calls: a stream of its own, so that the other
	// scenarios draw exactly what they drew before it existed.
	rngOutbreak *rand.Rand

	calls     map[string]contract.Call
	nMeasured int
	assigned  map[string]bool
	arrived   map[string]bool
	firstDist map[string]int
	enRouteS  map[string]float64 // measured calls: receipt → first unit en route, seconds
	deconH    float64            // unit-hours of decontamination within the measured hours
	arrivedS  map[string]float64 // measured calls: receipt → first unit on scene, seconds
	// surge mode
	switches       []dispatch.Surge
	standbyOpened  int
	fangcangAdmits int
	deferredAt     map[string]time.Time // measured calls deferred: when (zero once served)
	deferredWait   []float64            // their receipt → assignment, seconds
	epidemic       *Generator
	response       []float64
	overflow       int
	added          []float64
	samples        []results.Sample
	peakMean       float64
	spreadPP       float64
	maxPct         float64
	err            error
}

func newSim(cfg Config, loc *time.Location) (*sim, error) {
	s := &sim{
		cfg: cfg, loc: loc, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		travel: city.DefaultTravelModel(loc),
		now:    cfg.Start.Add(-warmUp), end: cfg.Start.Add(time.Duration(cfg.Hours * float64(time.Hour))),
		units: map[string]*simUnit{}, truth: map[string]map[string]*bedTruth{},
		calls: map[string]contract.Call{}, assigned: map[string]bool{}, arrived: map[string]bool{}, firstDist: map[string]int{},
		enRouteS: map[string]float64{}, rngOutbreak: rand.New(rand.NewPCG(cfg.Seed, 0x0b7ea6)),
		arrivedS: map[string]float64{}, deferredAt: map[string]time.Time{},
	}
	focusCall := contract.Call{Priority: 3, Category: contract.CategoryOther}
	switch cfg.Scenario {
	case ScenarioFeverSurge:
		focusCall.Category = contract.CategoryFever
	case ScenarioEpidemic:
		focusCall.Infectious = true // isolation beds, at designated hospitals and Fangcang shelters
	}
	need := hospitals.NeedOf(focusCall)
	s.focus, s.focusKinds = need.Bed, need.Kinds
	hcfg := cfg.Hospitals
	hcfg.Travel = s.travel
	s.reg = hospitals.NewRegistry(cfg.City, hcfg)
	s.engine = dispatch.New(dispatch.Config{Travel: s.travel, Preempt: cfg.Preempt, Hospitals: s.reg,
		Decontamination: cfg.Decontamination, Surge: cfg.SurgeRules})
	if err := s.addFleet(); err != nil {
		return nil, err
	}
	s.truth = newBedTruth(cfg.City, cfg.Scenario)
	s.cov = coverage.NewTracker(coverage.ServiceArea(cfg.City, coverage.Resolution), s.travel, s.now)
	s.gen, s.surge = newGenerators(cfg.City, cfg.Seed)
	s.epidemic = NewGenerator(cfg.City, epidemicMix(cfg.Epidemic.FeverShare), cfg.Seed+4, "E")
	return s, nil
}

// addFleet puts every unit of the city at its station, available.
func (s *sim) addFleet() error {
	for _, u := range s.cfg.City.Fleet {
		st, _ := s.cfg.City.Station(u.Station)
		s.units[u.ID] = &simUnit{id: u.ID, home: st.Point, pos: st.Point, lastAt: s.now}
		if err := s.engine.AddUnit(dispatch.Unit{ID: u.ID, Kind: u.Kind, StationID: u.Station, Pos: st.Point,
			Status: contract.StatusAvailable, PingAt: s.now, StatusAt: s.now}); err != nil {
			return fmt.Errorf("simulator: %w", err)
		}
	}
	return nil
}

// at schedules fn at virtual time t.
func (s *sim) at(t time.Time, fn func()) { s.q.At(t, func(time.Time) { fn() }) }

func (s *sim) every(first time.Time, period time.Duration, fn func()) {
	var tick func()
	tick = func() {
		fn()
		s.at(s.now.Add(period), tick)
	}
	s.at(first, tick)
}

func (s *sim) run() (results.Sim, error) {
	s.scheduleReports()
	s.startSurge()
	s.startWatch()
	if s.err != nil {
		return results.Sim{}, s.err
	}
	s.every(s.now, tickEvery, func() { s.handle(s.engine.Tick(s.now)) })
	s.every(s.cfg.Start, sampleEvery, s.sample)
	s.scheduleCalls()
	lastProgress := s.now
	for s.q.Len() > 0 && s.err == nil {
		at, fn := s.q.Pop()
		if at.After(s.end) {
			break
		}
		s.now = at
		fn(at)
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
		return results.Sim{}, s.err
	}
	if s.cfg.Progress != nil {
		for _, l := range describeSwitches(s.switches) {
			fmt.Fprintf(s.cfg.Progress, "simulate: %s\n", l)
		}
	}
	s.now = s.end
	s.sample()
	return s.result(), nil
}

// measured reports whether a call belongs to the measured hours (not the warm-up).
func (s *sim) measured(c contract.Call) bool { return !c.ReceivedAt.Before(s.cfg.Start) }

func (s *sim) receive(c contract.Call) {
	c.ReceivedAt = s.now
	s.calls[c.CallID] = c
	if s.measured(c) {
		s.nMeasured++
	}
	s.count(c)
	s.handle(s.engine.Receive(c, s.now))
}

// handle follows the engine's events: an assignment starts the unit's part.
func (s *sim) handle(evs []dispatch.Event) {
	for _, ev := range evs {
		s.measure(ev)
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
func (s *sim) ping(u *simUnit, st contract.UnitStatus) {
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

// measure keeps the figures events give: when a call's first unit went en route, and the
// decontamination a closed call sets off.
func (s *sim) measure(ev dispatch.Event) {
	c := s.calls[ev.CallID]
	if !s.measured(c) {
		return
	}
	s.noteSurgeEvent(ev, c)
	switch ev.Type {
	case dispatch.EventEnRoute:
		if _, ok := s.enRouteS[ev.CallID]; !ok {
			s.enRouteS[ev.CallID] = ev.At.Sub(c.ReceivedAt).Seconds()
		}
	case dispatch.EventClosed:
		if u, ok := s.engine.Unit(ev.UnitID); ok && u.DeconUntil.After(s.now) {
			until := u.DeconUntil
			if until.After(s.end) {
				until = s.end
			}
			s.deconH += until.Sub(s.now).Hours()
		}
	}
}
