package simulator

import (
	"math"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
)

// Times on an incident, estimates from published EMS operations studies: median on-scene
// times of 15–20 minutes and hospital handover of 15–20 minutes are typical; about four in
// five calls are transported (every fever or infectious patient is). The simulator's crews
// and the demo's crews on the real clock both keep them.
const (
	OnSceneMin, OnSceneMax   = 10 * time.Minute, 25 * time.Minute
	HandoverMin, HandoverMax = 10 * time.Minute, 25 * time.Minute
	TransportShare           = 0.8
	AckDelay                 = 5 * time.Second // a crew acknowledges a dispatch on its terminal
)

// simUnit is a unit of the simulated fleet: where it is, and which assignment it plays (gen
// grows with each one; a step of an older one finds it changed and does nothing).
type simUnit struct {
	id     string
	home   city.Point
	pos    city.Point
	gen    int
	lastAt time.Time
}

// crewRun is one unit's part in one incident.
type crewRun struct {
	s    *sim
	u    *simUnit
	gen  int
	call contract.Call
	hosp string // the destination the engine chose
	bed  string // the bed kind the registry booked there
}

// mine reports whether the unit still plays this incident (not pre-empted since).
func (r *crewRun) mine() bool { return r.u.gen == r.gen }

// then schedules step after d, if the unit still plays this incident then.
func (r *crewRun) then(d time.Duration, step func()) {
	r.s.at(r.s.now.Add(d), func() {
		if r.mine() {
			step()
		}
	})
}

func (s *sim) uniform(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.rng.Float64()*float64(hi-lo))
}

// noisy is a realised travel time: the model's, times a log-normal factor with σ 0.15.
func (s *sim) noisy(d time.Duration) time.Duration {
	return time.Duration(float64(d) * math.Exp(0.15*s.rng.NormFloat64()))
}

// dispatch plays one unit's part in an incident, from the assignment to its return home:
// acknowledge, turn out, drive to the scene, stay, then home or transport and hand over.
func (s *sim) dispatch(ev dispatch.Event) {
	u := s.units[ev.UnitID]
	u.gen++
	r := &crewRun{s: s, u: u, gen: u.gen, call: s.calls[ev.CallID], hosp: ev.Assignment.HospitalID}
	r.bed = s.reg.NeedOf(r.call).Bed
	r.then(AckDelay, func() { s.ping(u, contract.StatusDispatched) })
	r.then(s.travel.Turnout(r.call.Priority), r.enRoute)
}

func (r *crewRun) scene() city.Point { return city.Point{Lat: r.call.Lat, Lng: r.call.Lng} }

func (r *crewRun) enRoute() {
	s := r.s
	s.ping(r.u, contract.StatusEnRoute)
	r.then(s.noisy(s.travel.Duration(r.u.pos, r.scene(), s.now, r.call.Priority)), r.onScene)
}

func (r *crewRun) onScene() {
	s, c := r.s, r.call
	r.u.pos = r.scene()
	if !s.arrived[c.CallID] && s.measured(c) {
		s.arrived[c.CallID] = true
		s.response = append(s.response, s.now.Sub(c.ReceivedAt).Seconds())
		s.arrivedS[c.CallID] = s.now.Sub(c.ReceivedAt).Seconds()
	}
	s.ping(r.u, contract.StatusOnScene)
	transported := c.NeedsIsolation() || s.rng.Float64() < TransportShare
	r.then(s.uniform(OnSceneMin, OnSceneMax), func() { r.leaveScene(transported) })
}

func (r *crewRun) leaveScene(transported bool) {
	s, c := r.s, r.call
	h, ok := s.reg.Hospital(r.hosp)
	if !transported || !ok {
		s.ping(r.u, contract.StatusAvailable)
		s.goHome(r.u, r.gen)
		return
	}
	hosp := h.Hospital
	s.ping(r.u, contract.StatusTransporting)
	d := s.travel.Duration(r.scene(), hosp.Point, s.now, c.Priority)
	if _, nearest, ok := s.reg.NearestSuitable(c, s.now); ok && s.measured(c) {
		s.added = append(s.added, (d - nearest).Seconds())
	}
	r.then(s.noisy(d), func() { r.atHospital(hosp) })
}

func (r *crewRun) atHospital(hosp city.Hospital) {
	s := r.s
	r.u.pos = hosp.Point
	s.admit(hosp.ID, r.bed, s.measured(r.call))
	if hosp.Kind == city.HospitalFangcang && s.measured(r.call) {
		s.fangcangAdmits++
	}
	s.ping(r.u, contract.StatusAtHospital)
	r.then(s.uniform(HandoverMin, HandoverMax), func() {
		s.ping(r.u, contract.StatusAvailable)
		s.goHome(r.u, r.gen)
	})
}

// goHome drives an available unit back to its station: halfway and home it reports its
// position (the engine may send it elsewhere on the way).
func (s *sim) goHome(u *simUnit, gen int) {
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
