package simulator

import (
	"github.com/ems120/ems120/city"
	"slices"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/results"
)

// sample records the city's state and tracks the occupancy peak of the focus bed kind across
// the hospitals of the kinds that take it (hospitals.NeedOf).
func (s *sim) sample() {
	mean := s.sampleOccupancy()
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
	s.samples = append(s.samples, results.Sample{At: s.now, Calls: s.nMeasured, Queued: st.Queued, Busy: st.Units - st.Available - st.Flagged,
		OccupancyPct: mean, CoveragePct: one, DoublePct: two})
}

// sampleOccupancy is the mean occupancy of the focus bed kind now, across its hospitals; it
// keeps the highest occupancy seen, and the spread at the highest mean.
func (s *sim) sampleOccupancy() float64 {
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
	if len(pcts) == 0 {
		return 0
	}
	mean := 0.0
	for _, p := range pcts {
		mean += p
	}
	mean /= float64(len(pcts))
	if mean > s.peakMean {
		s.peakMean = mean
		s.spreadPP = slices.Max(pcts) - slices.Min(pcts)
	}
	return mean
}

func (s *sim) result() results.Sim {
	sum := results.Summary{Calls: s.nMeasured}
	for _, inc := range s.engine.Queue() {
		if s.measured(inc.Call) {
			sum.Queued++
		}
	}
	sum.Assigned = len(s.assigned)
	sum.Lost = sum.Calls - sum.Assigned - sum.Queued - sum.Cancelled
	if err := s.engine.Check(); err != nil {
		sum.DuplicateAssignments = -1 // the invariants broke: never expected; shown, not hidden
	}
	s.responseFigures(&sum)
	sum.HospitalOverflow = &s.overflow
	sum.OccupancyMaxPct = results.F(s.maxPct)
	sum.OccupancySpreadPP = results.F(s.spreadPP)
	if n := len(s.samples); n > 0 {
		one, two := 0.0, 0.0
		for _, x := range s.samples {
			one += x.CoveragePct
			two += x.DoublePct
		}
		sum.CoveragePct, sum.DoubleCoveragePct = results.F(one/float64(n)), results.F(two/float64(n))
	}
	if len(s.added) > 0 {
		sum.TransportAddedSMean = results.F(mean(s.added))
	}
	s.guidanceFigures(&sum)
	s.surgeFigures(&sum)
	s.alertFigures(&sum)
	return results.Sim{Summary: sum, FocusBed: s.focus, Samples: s.samples, Response: s.response}
}

// responseFigures fills the share within 15 minutes and the response percentiles (arrivals
// on scene), and the share whose first unit was within 5 km.
func (s *sim) responseFigures(sum *results.Summary) {
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
		sum.Within15MinPct = results.F(100 * float64(within15) / float64(n))
		sum.ResponseSP50 = results.F(results.Percentile(s.response, 50))
		sum.ResponseSP90 = results.F(results.Percentile(s.response, 90))
	}
	if n := len(s.firstDist); n > 0 {
		sum.Within5KmPct = results.F(100 * float64(within5) / float64(n))
	}
}

func mean(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m += x
	}
	return m / float64(len(v))
}

// guidanceFigures are the KPIs of China's 2020 pre-hospital emergency guidance: calls with a
// unit en route within 3 minutes of receipt (target 95%), ambulances per 30,000 residents
// (target 1), the share of negative-pressure units (target 40%); and the unit-hours spent
// in decontamination.
func (s *sim) guidanceFigures(sum *results.Summary) {
	within := 0
	for _, sec := range s.enRouteS {
		if sec <= 180 {
			within++
		}
	}
	if s.nMeasured > 0 {
		sum.EnRouteWithin3MinPct = results.F(100 * float64(within) / float64(s.nMeasured))
	}
	np := 0
	for _, u := range s.cfg.City.Fleet {
		if u.Kind == contract.KindNegativePressure {
			np++
		}
	}
	per30k, npPct := city.FleetRatios(len(s.cfg.City.Fleet), np, s.cfg.City.Population())
	sum.AmbulancesPer30k = results.F2(per30k)
	sum.NegativePressurePct = results.F(npPct)
	sum.DecontaminationUnitHours = results.F(s.deconH)
}
