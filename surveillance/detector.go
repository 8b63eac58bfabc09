package surveillance

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/uber/h3-go/v4"
)

// Levels of an alert.
const (
	LevelCell     = "cell"
	LevelDistrict = "district"
)

// Hour is one hour's counts of fever and infectious calls, by cell and by district.
type Hour struct {
	Start     time.Time // on the hour
	Cells     map[h3.Cell]int
	Districts map[string]int
}

// Counts reports whether a call counts for surveillance: fever, or known infectious.
func Counts(c contract.Call) bool { return c.NeedsIsolation() }

// Detector keeps the hourly counts of the last Config.HistoryHours hours and tests each hour
// as it is observed. Hours must come in order; an hour that never comes is missing, which is
// not the same as zero: windows are scaled up from the hours they hold (a window with fewer
// than half of its hours is not used).
type Detector struct {
	cfg       Config
	ring      int       // hours kept
	first     time.Time // hour index 0
	next      int       // index of the next hour expected
	observed  []bool    // by ring slot
	cells     map[h3.Cell]*series
	districts map[string]*series
	open      map[string][]episode // method/level → the clusters alerting in the last hour
}

type series struct {
	counts      []float64 // by ring slot
	cusum       float64
	lastNonzero int
}

// episode is a cluster that alerted in the last hour observed.
type episode struct {
	id          string
	first, hour time.Time
	keys        []string
}

func (e episode) shares(keys []string) bool {
	for _, k := range keys {
		if slices.Contains(e.keys, k) {
			return true
		}
	}
	return false
}

// NewDetector returns a detector with cfg (zero fields take their defaults).
func NewDetector(cfg Config) *Detector {
	cfg.defaults()
	r := cfg.HistoryHours() + 1
	return &Detector{cfg: cfg, ring: r, observed: make([]bool, r),
		cells: map[h3.Cell]*series{}, districts: map[string]*series{}, open: map[string][]episode{}}
}

// Config returns the detector's rules, defaults filled in.
func (d *Detector) Config() Config { return d.cfg }

// Observe takes one hour's counts and returns the alerts of that hour: every cluster of
// neighbouring cells, and every district, whose count fails C2 or the CUSUM. It refuses,
// with an error naming what is wrong and changing nothing, an hour not on the hour, an hour
// already observed or earlier, a negative count, a cell that is not a valid H3 cell of the
// configured resolution, and a district without a name.
func (d *Detector) Observe(h Hour) ([]contract.Alert, error) {
	t, err := d.check(h)
	if err != nil {
		return nil, err
	}
	for ; d.next < t; d.next++ { // hours never observed: missing
		d.clear(d.next, false)
	}
	d.clear(t, true)
	d.next = t + 1
	slot := t % d.ring
	for c, n := range h.Cells {
		if n > 0 {
			d.addTo(seriesOf(d.cells, c, d.ring), slot, t, n)
		}
	}
	for k, n := range h.Districts {
		if n > 0 {
			d.addTo(seriesOf(d.districts, k, d.ring), slot, t, n)
		}
	}
	start := d.first.Add(time.Duration(t) * time.Hour)
	cellTests := testAll(d, d.cells, t)
	districtTests := testAll(d, d.districts, t)
	var out []contract.Alert
	for _, m := range []string{MethodC2, MethodCUSUM} {
		out = append(out, d.cellAlerts(m, cellTests[m], start)...)
		out = append(out, d.districtAlerts(m, districtTests[m], start)...)
	}
	d.open = map[string][]episode{}
	for _, a := range out {
		keys := a.Cells
		if a.Level == LevelDistrict {
			keys = []string{a.District}
		}
		k := a.Method + "/" + a.Level
		d.open[k] = append(d.open[k], episode{id: a.AlertID, first: a.FirstHour, hour: a.Hour, keys: keys})
	}
	return out, nil
}

func (d *Detector) check(h Hour) (int, error) {
	if !h.Start.Equal(h.Start.Truncate(time.Hour)) {
		return 0, fmt.Errorf("surveillance: hour %s does not start on the hour", h.Start.Format(time.RFC3339))
	}
	first := d.first
	if first.IsZero() {
		first = h.Start
	}
	t := int(h.Start.Sub(first) / time.Hour)
	if t < d.next {
		return 0, fmt.Errorf("surveillance: hour %s is already observed or out of order (next is %s)",
			h.Start.Format(time.RFC3339), first.Add(time.Duration(d.next)*time.Hour).Format(time.RFC3339))
	}
	for c, n := range h.Cells {
		if !c.IsValid() || c.Resolution() != d.cfg.Resolution {
			return 0, fmt.Errorf("surveillance: hour %s: cell %s is not a valid H3 cell of resolution %d",
				h.Start.Format(time.RFC3339), c, d.cfg.Resolution)
		}
		if n < 0 {
			return 0, fmt.Errorf("surveillance: hour %s: cell %s has a negative count (%d)", h.Start.Format(time.RFC3339), c, n)
		}
	}
	for k, n := range h.Districts {
		if k == "" {
			return 0, fmt.Errorf("surveillance: hour %s: a district count without a district", h.Start.Format(time.RFC3339))
		}
		if n < 0 {
			return 0, fmt.Errorf("surveillance: hour %s: district %s has a negative count (%d)", h.Start.Format(time.RFC3339), k, n)
		}
	}
	d.first = first // only a valid hour sets the origin: a refused one changes nothing
	return t, nil
}

// clear empties hour t's slot in every series, and says whether the hour was observed.
// A series with nothing in its history and no CUSUM left is dropped.
func (d *Detector) clear(t int, observed bool) {
	slot := t % d.ring
	d.observed[slot] = observed
	clearIn(d.cells, slot, t, d.ring)
	clearIn(d.districts, slot, t, d.ring)
}

func clearIn[K comparable](m map[K]*series, slot, t, ring int) {
	for k, s := range m {
		s.counts[slot] = 0
		if t-s.lastNonzero >= ring && s.cusum == 0 {
			delete(m, k)
		}
	}
}

func (d *Detector) addTo(s *series, slot, t, n int) {
	s.counts[slot] += float64(n)
	s.lastNonzero = t
}

func seriesOf[K comparable](m map[K]*series, k K, ring int) *series {
	s := m[k]
	if s == nil {
		s = &series{counts: make([]float64, ring)}
		m[k] = s
	}
	return s
}

// window is a series' count over the WindowHours ending with hour t, scaled up from the
// hours observed; ok is false when fewer than half of them were.
func (d *Detector) window(s *series, t int) (float64, bool) {
	w := d.cfg.WindowHours
	sum, n := 0.0, 0
	for u := t - w + 1; u <= t; u++ {
		if u < 0 || u < d.next-d.ring || !d.observed[u%d.ring] {
			continue
		}
		sum += s.counts[u%d.ring]
		n++
	}
	if 2*n < w || n == 0 {
		return 0, false
	}
	return sum * float64(w) / float64(n), true
}

type tested struct {
	test  Test
	score float64
}

// testAll tests every series at hour t and returns, by method, those alerting.
func testAll[K comparable](d *Detector, m map[K]*series, t int) map[string]map[K]tested {
	out := map[string]map[K]tested{MethodC2: {}, MethodCUSUM: {}}
	for k, s := range m {
		x, ok := d.window(s, t)
		if !ok || (x == 0 && s.cusum == 0) {
			continue
		}
		var base []float64
		for day := d.cfg.LagDays + 1; day <= d.cfg.LagDays+d.cfg.BaselineDays; day++ {
			if b, ok := d.window(s, t-24*day); ok {
				base = append(base, b)
			}
		}
		if len(base) < d.cfg.MinBaseline {
			continue // not enough history to judge
		}
		c2 := C2(x, base, d.cfg.Z, d.cfg.Floor)
		if c2.Alert {
			out[MethodC2][k] = tested{test: c2, score: x}
		}
		s.cusum = CUSUMStep(s.cusum, x, c2.Expected, c2.SD, d.cfg.Floor, d.cfg.CUSUMK)
		if s.cusum > d.cfg.CUSUMH {
			out[MethodCUSUM][k] = tested{test: Test{Observed: x, Expected: c2.Expected, SD: c2.SD, Threshold: d.cfg.CUSUMH, Alert: true},
				score: s.cusum}
		}
	}
	return out
}

// cellAlerts merges alerting cells that are neighbours (H3 grid disk of 1) into clusters.
func (d *Detector) cellAlerts(method string, alerting map[h3.Cell]tested, hour time.Time) []contract.Alert {
	seen := map[h3.Cell]bool{}
	var clusters [][]h3.Cell
	for _, c := range slices.SortedFunc(maps.Keys(alerting), cmpCell) {
		if seen[c] {
			continue
		}
		seen[c] = true
		cluster := []h3.Cell{c}
		for i := 0; i < len(cluster); i++ {
			for _, n := range h3.GridDisk(cluster[i], 1) {
				if _, ok := alerting[n]; ok && !seen[n] {
					seen[n] = true
					cluster = append(cluster, n)
				}
			}
		}
		slices.SortFunc(cluster, cmpCell)
		clusters = append(clusters, cluster)
	}
	var out []contract.Alert
	for _, cl := range clusters {
		a := contract.Alert{Method: method, Level: LevelCell, Hour: hour, WindowHours: d.cfg.WindowHours}
		for _, c := range cl {
			r := alerting[c]
			a.Cells = append(a.Cells, c.String())
			a.Observed += r.test.Observed
			a.Expected += r.test.Expected
			a.Threshold += r.test.Threshold
			a.Score = max(a.Score, r.score)
		}
		if method == MethodC2 {
			a.Score = a.Observed
		}
		out = append(out, d.name(a, a.Cells))
	}
	return out
}

func (d *Detector) districtAlerts(method string, alerting map[string]tested, hour time.Time) []contract.Alert {
	var out []contract.Alert
	for _, k := range slices.Sorted(maps.Keys(alerting)) {
		r := alerting[k]
		a := contract.Alert{Method: method, Level: LevelDistrict, District: k, Hour: hour, WindowHours: d.cfg.WindowHours,
			Observed: r.test.Observed, Expected: r.test.Expected, Threshold: r.test.Threshold, Score: r.score}
		out = append(out, d.name(a, []string{k}))
	}
	return out
}

// name gives a cluster its id and first hour: those of a cluster of the same method and
// level that alerted in the hour before and shares a cell (or is the same district), else
// new ones.
func (d *Detector) name(a contract.Alert, keys []string) contract.Alert {
	a.FirstHour = a.Hour
	a.AlertID = fmt.Sprintf("%s-%s-%s-%s", a.Level, a.Method, a.Hour.UTC().Format("20060102T15"), keys[0])
	for _, e := range d.open[a.Method+"/"+a.Level] {
		if e.hour.Add(time.Hour).Equal(a.Hour) && e.shares(keys) && e.first.Before(a.FirstHour) {
			a.FirstHour, a.AlertID = e.first, e.id
		}
	}
	return a
}

func cmpCell(a, b h3.Cell) int { return cmp.Compare(a, b) }
