package simulator

import (
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/results"
	"github.com/ems120/ems120/surveillance"
	"github.com/uber/h3-go/v4"
)

// watch is the fever-call surveillance over the simulated city, as the service runs it: the
// calls counted by hour, each hour tested. Its history — the days the first measured hour's
// baseline reads, before the warm-up — is the same synthetic background's fever calls,
// drawn from a stream of their own so that the dispatch run is the same with or without it.
type watch struct {
	det    *surveillance.Detector
	tally  *surveillance.Tally
	alerts []contract.Alert // of the measured hours
}

func (s *sim) startWatch() {
	det := surveillance.NewDetector(s.cfg.Surveillance)
	w := &watch{det: det, tally: surveillance.NewTally(det.Config().Resolution)}
	s.watch = w
	from := s.now.Add(-time.Duration(det.Config().HistoryHours()) * time.Hour)
	w.tally.Start(from)
	gen := NewGenerator(s.cfg.City, feverMix, s.cfg.Seed+3, "H")
	perMin := s.cfg.CallsPerDay / 1440 * DefaultMix.Category[contract.CategoryFever]
	for h := from; h.Before(s.now); h = h.Add(time.Hour) {
		rate := perMin * hourly[h.In(s.loc).Hour()]
		for t := h.Add(gen.Gap(rate)); t.Before(h.Add(time.Hour)); t = t.Add(gen.Gap(rate)) {
			s.count(gen.Call(t))
		}
	}
	s.observeHours()
	s.every(s.now.Add(time.Hour), time.Hour, s.observeHours)
}

// count adds a call to the tally when it counts for surveillance.
func (s *sim) count(c contract.Call) {
	if !surveillance.Counts(c) {
		return
	}
	s.watch.tally.Add(c.ReceivedAt, c.Lat, c.Lng, s.cfg.City.DistrictCode(city.Point{Lat: c.Lat, Lng: c.Lng}))
}

func (s *sim) observeHours() {
	for _, h := range s.watch.tally.Until(s.now) {
		alerts, err := s.watch.det.Observe(h)
		if err != nil {
			s.err = err
			return
		}
		if !h.Start.Before(s.cfg.Start) {
			s.watch.alerts = append(s.watch.alerts, alerts...)
		}
	}
}

// truth is where and when the scenario put more fever calls than the background: the
// outbreak's cells (or district), the fever surge's districts.
type truth struct {
	start     time.Time
	cells     map[h3.Cell]bool
	districts map[string]bool
}

func (s *sim) injected() *truth {
	t := &truth{cells: map[h3.Cell]bool{}, districts: map[string]bool{}}
	switch s.cfg.Scenario {
	case ScenarioOutbreak:
		t.start = s.outbreakStart()
		for _, c := range s.cfg.Outbreak.Cells {
			t.cells[c] = true
			if d := s.districtOf(c); d != "" {
				t.districts[d] = true
			}
		}
		if s.cfg.Outbreak.District != "" {
			t.districts[s.cfg.Outbreak.District] = true
		}
	case ScenarioFeverSurge:
		t.start = s.cfg.Start
		for _, d := range surgeDistricts {
			t.districts[d] = true
		}
	default:
		return nil
	}
	return t
}

// districtOf is the district of a cell's centre.
func (s *sim) districtOf(c h3.Cell) string {
	ll := h3.CellToLatLng(c)
	return s.cfg.City.DistrictCode(city.Point{Lat: ll.Lat, Lng: ll.Lng})
}

// touches reports whether an alert is about the truth's place: one of its cells, a cell of
// its districts, or one of its districts.
func (s *sim) touches(t *truth, a contract.Alert) bool {
	if a.Level == surveillance.LevelDistrict {
		return t.districts[a.District]
	}
	for _, c := range a.Cells {
		cell := h3.Cell(0)
		if err := cell.UnmarshalText([]byte(c)); err != nil {
			continue
		}
		if t.cells[cell] || (len(t.cells) == 0 && t.districts[s.districtOf(cell)]) {
			return true
		}
	}
	return false
}

// alertFigures scores the measured hours' alerts: the first that touches the injected
// cluster after it started detects it; every other cluster (by alert id) is a false alarm.
func (s *sim) alertFigures(sum *results.Summary) {
	t := s.injected()
	falseIDs := map[string]bool{}
	delay := -1.0
	for _, a := range s.watch.alerts {
		if t != nil && s.touches(t, a) && !a.Hour.Before(t.start.Truncate(time.Hour)) {
			d := max(0, a.Hour.Add(time.Hour).Sub(t.start).Hours())
			if delay < 0 || d < delay {
				delay = d
			}
			continue
		}
		falseIDs[a.AlertID] = true
	}
	n := len(falseIDs)
	sum.FalseAlarms = &n
	sum.FalseAlarmsPerWeek = results.F(float64(n) / (s.cfg.Hours / 168))
	if t != nil {
		detected := delay >= 0
		sum.OutbreakDetected = &detected
		if detected {
			sum.DetectionDelayH = results.F(delay)
		}
	}
}
