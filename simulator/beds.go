package simulator

import (
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

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

// surgeStartOc is the fever surge's starting occupancy of every bed kind (before the
// warm-up), so that the spread measures the policy rather than the city file's numbers.
const surgeStartOc = 0.55

// bedTruth is a hospital's real occupancy of one bed kind: its patients from before the run
// (base) and the ambulance patients admitted since (amb).
type bedTruth struct {
	total, base, amb int
}

func (b *bedTruth) occupied() int { return b.base + b.amb }

// newBedTruth is every hospital's beds as the city file reports them (the fever surge: at
// surgeStartOc), by hospital and bed kind.
func newBedTruth(c *city.City, scenario string) map[string]map[string]*bedTruth {
	truth := map[string]map[string]*bedTruth{}
	for _, h := range c.Hospitals {
		m := map[string]*bedTruth{}
		for bed, b := range h.Beds {
			base := b.Occupied
			if scenario == ScenarioFeverSurge {
				base = int(math.Round(surgeStartOc * float64(b.Total)))
			}
			m[bed] = &bedTruth{total: b.Total, base: base}
		}
		truth[h.ID] = m
	}
	return truth
}

// scheduleReports has every hospital report at the start, then hourly, staggered so they do
// not all report in the same second.
func (s *sim) scheduleReports() {
	for _, h := range s.cfg.City.Hospitals {
		f := fnv.New32a()
		f.Write([]byte(h.ID))
		offset := time.Duration(f.Sum32()%3600) * time.Second
		s.report(h.ID)
		s.every(s.now.Add(offset), reportEvery, func() { s.report(h.ID) })
	}
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
