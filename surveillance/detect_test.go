package surveillance

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/uber/h3-go/v4"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// testConfig is the defaults but for Z 3, Floor 1.5, CUSUMK 1 and CUSUMH 12, which the known
// answers below use.
func testConfig() Config { return Config{Z: 3, Floor: 1.5, CUSUMK: 1, CUSUMH: 12} }

// centre is a resolution-7 cell in Wuhan's 江汉区; ring are its six neighbours.
var centre = h3.LatLngToCell(h3.NewLatLng(30.6196, 114.2571), 7)

func far() h3.Cell { return h3.LatLngToCell(h3.NewLatLng(30.50, 114.45), 7) }

func TestC2KnownAnswers(t *testing.T) {
	base := []float64{1, 2, 3, 4, 5, 6, 7} // mean 4, sd √(28/6) = 2.1602
	got := C2(10.4, base, 3, 1.5)
	if math.Abs(got.Expected-4) > 1e-9 || math.Abs(got.SD-2.1602469) > 1e-6 || math.Abs(got.Threshold-10.4807407) > 1e-6 {
		t.Fatalf("C2 = %+v, want mean 4, sd 2.1602, threshold 10.4807", got)
	}
	if got.Alert || !C2(10.5, base, 3, 1.5).Alert {
		t.Fatal("10.4 must not alert and 10.5 must, against a threshold of 10.48")
	}
	zero := []float64{0, 0, 0, 0, 0, 0, 0} // a sparse cell: the floor decides
	if C2(4, zero, 3, 1.5).Alert || !C2(5, zero, 3, 1.5).Alert {
		t.Fatal("against an all-zero baseline the threshold is 3·1.5 = 4.5: 4 must not alert, 5 must")
	}
	if s := CUSUMStep(0, 7, 4, 1, 1.5, 1); math.Abs(s-0.5) > 1e-9 { // (7−4)/max(1, 1.5, √4) − 1
		t.Fatalf("CUSUM step = %v, want 0.5", s)
	}
	if got := C2(60, []float64{50, 50, 50, 50, 50, 50, 50}, 3, 1.5); math.Abs(got.Threshold-(50+3*math.Sqrt(50))) > 1e-9 {
		t.Fatalf("seven equal days of 50: the spread is a Poisson count's, √50; threshold %v", got.Threshold)
	}
	if s := CUSUMStep(0.5, 0, 4, 2, 1.5, 1); s != 0 {
		t.Fatalf("CUSUM never goes below zero, got %v", s)
	}
}

// feed observes hours [from, to) with perHour calls in each of cells (and the same total in
// district "420103"), skipping the hours skip says to.
func feed(t *testing.T, d *Detector, from, to int, perHour func(h int) int, cells []h3.Cell, skip func(h int) bool) map[int][]contract.Alert {
	t.Helper()
	out := map[int][]contract.Alert{}
	for h := from; h < to; h++ {
		if skip != nil && skip(h) {
			continue
		}
		hr := Hour{Start: t0.Add(time.Duration(h) * time.Hour), Cells: map[h3.Cell]int{}, Districts: map[string]int{}}
		for _, c := range cells {
			hr.Cells[c] = perHour(h)
			hr.Districts["420103"] += perHour(h)
		}
		a, err := d.Observe(hr)
		if err != nil {
			t.Fatalf("hour %d: %v", h, err)
		}
		if len(a) > 0 {
			out[h] = a
		}
	}
	return out
}

func flat(n int) func(int) int { return func(int) int { return n } }

func TestFlatSeriesNeverAlerts(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		d := NewDetector(testConfig())
		if got := feed(t, d, 0, 24*21, flat(n), []h3.Cell{centre, far()}, nil); len(got) > 0 {
			t.Fatalf("%d calls an hour for three weeks: alerts %v", n, got)
		}
	}
}

// A step from 1 to 5 calls an hour after 10 days: every baseline window is 24 with sd 0, so
// C2's threshold is 24 + 3·√24 = 38.70, and the window first exceeds it with the step's
// fourth hour (24 + 4·4 = 40). The cluster keeps its id and first hour while it goes on
// alerting.
func TestStepIsDetectedWhenTheWindowCrossesTheThreshold(t *testing.T) {
	d := NewDetector(testConfig())
	step := 240
	got := feed(t, d, 0, step+7, func(h int) int { return map[bool]int{true: 5, false: 1}[h >= step] }, []h3.Cell{centre}, nil)
	for h := range got {
		if h < step+3 {
			t.Fatalf("alert at hour %d, before the window crossed 38.7: %v", h, got[h])
		}
	}
	first := c2Cell(got[step+3])
	if first == nil || first.Observed != 40 || first.Expected != 24 || math.Abs(first.Threshold-(24+3*math.Sqrt(24))) > 1e-9 {
		t.Fatalf("the step's fourth hour: want a C2 cell alert observed 40, expected 24, threshold 38.70; got %+v", got[step+3])
	}
	last := c2Cell(got[step+6])
	if last == nil || last.AlertID != first.AlertID || !last.FirstHour.Equal(first.FirstHour) || !first.FirstHour.Equal(t0.Add(time.Duration(step+3)*time.Hour)) {
		t.Fatalf("the cluster must keep its id and first hour: first %+v, three hours later %+v", first, last)
	}
	if !hasDistrict(got[step+3], MethodC2, "420103") {
		t.Fatalf("the district's series is the same and must alert with it: %v", got[step+3])
	}
}

// A sustained rise too small for C2 in any one hour is what the CUSUM is for.
func TestCUSUMSeesASmallSustainedRise(t *testing.T) {
	d := NewDetector(testConfig())
	// Baseline alternates 0 and 2 calls an hour: windows of 24, sd 0, C2 threshold 38.7.
	base := func(h int) int { return 2 * (h % 2) }
	step := 240
	rise := func(h int) int {
		if h >= step && h%6 == 0 {
			return base(h) + 3 // twelve more a day: the window reaches 36 at most, under 38.7
		}
		return base(h)
	}
	got := feed(t, d, 0, step+72, rise, []h3.Cell{centre}, nil)
	sawCUSUM := false
	for h, as := range got {
		for _, a := range as {
			if a.Method == MethodC2 {
				t.Fatalf("hour %d: C2 alerted on a rise it cannot see: %+v", h, a)
			}
			sawCUSUM = sawCUSUM || (a.Method == MethodCUSUM && h >= step)
		}
	}
	if !sawCUSUM {
		t.Fatal("the CUSUM never alerted on a rise of twelve calls a day sustained for three days")
	}
}

func TestNeighboursMergeIntoOneCluster(t *testing.T) {
	ring := h3.GridDisk(centre, 1)
	cells := []h3.Cell{centre, ring[1], ring[2], far()}
	d := NewDetector(testConfig())
	got := feed(t, d, 0, 245, func(h int) int { return map[bool]int{true: 6, false: 1}[h >= 240] }, cells, nil)
	var clusters []contract.Alert
	for _, a := range got[244] {
		if a.Method == MethodC2 && a.Level == LevelCell {
			clusters = append(clusters, a)
		}
	}
	if len(clusters) != 2 {
		t.Fatalf("want two clusters (three neighbours, one far cell), got %+v", clusters)
	}
	sizes := map[int]bool{len(clusters[0].Cells): true, len(clusters[1].Cells): true}
	if !sizes[3] || !sizes[1] {
		t.Fatalf("cluster sizes: want 3 and 1, got %v and %v", clusters[0].Cells, clusters[1].Cells)
	}
}

// Hours missing are not zeros: a window is scaled up from the hours it holds. After a
// 12-hour gap in the feed, 12 hours at 3 calls an hour are a window of 72 (read as zeros, 36,
// under the threshold of 38.7).
func TestMissingHoursAreNotZeros(t *testing.T) {
	d := NewDetector(testConfig())
	gapFrom := 240
	gap := func(h int) bool { return h >= gapFrom && h < gapFrom+12 }
	got := feed(t, d, 0, gapFrom+24, func(h int) int { return map[bool]int{true: 3, false: 1}[h >= gapFrom] }, []h3.Cell{centre}, gap)
	a := c2Cell(got[gapFrom+23])
	if a == nil || a.Observed != 72 {
		t.Fatalf("12 hours at 3 after a 12-hour gap: want an alert with the window scaled to 72, got %v", got)
	}
	// An hour skipped is missing; it cannot be observed afterwards.
	if _, err := d.Observe(Hour{Start: t0.Add(time.Duration(gapFrom+26) * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, err := d.Observe(Hour{Start: t0.Add(time.Duration(gapFrom+25) * time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("a skipped hour observed late: want out of order, got %v", err)
	}
}

func TestCountsThatMakeNoSenseAreRefused(t *testing.T) {
	h := t0.Add(5 * time.Hour)
	bad := map[string]Hour{
		"does not start on the hour":     {Start: h.Add(time.Minute)},
		"negative count":                 {Start: h, Cells: map[h3.Cell]int{centre: -1}},
		"not a valid H3 cell":            {Start: h, Cells: map[h3.Cell]int{h3.Cell(12345): 1}},
		"resolution 7":                   {Start: h, Cells: map[h3.Cell]int{centre.Parent(5): 1}},
		"a district count without":       {Start: h, Districts: map[string]int{"": 2}},
		"district 420103 has a negative": {Start: h, Districts: map[string]int{"420103": -2}},
	}
	d := NewDetector(testConfig())
	for want, hr := range bad {
		if _, err := d.Observe(hr); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error saying %q, got %v", want, err)
		}
	}
	// The refused hours were five hours after t0; a detector that saw nothing valid yet
	// must still take t0 as its first hour.
	if _, err := d.Observe(Hour{Start: t0, Cells: map[h3.Cell]int{centre: 1}}); err != nil {
		t.Fatalf("a refused hour must change nothing, but an earlier valid one after it is refused: %v", err)
	}
	if _, err := d.Observe(Hour{Start: h, Cells: map[h3.Cell]int{centre: 1}}); err != nil {
		t.Fatalf("a refused hour must change nothing, but the valid one after is refused: %v", err)
	}
	if _, err := d.Observe(Hour{Start: h}); err == nil || !strings.Contains(err.Error(), "already observed") {
		t.Fatalf("the same hour twice: want already observed, got %v", err)
	}
}

func TestTallyHandsOutEveryHourOnce(t *testing.T) {
	tl := NewTally(7)
	tl.Start(t0)
	tl.Add(t0.Add(10*time.Minute), 30.6196, 114.2571, "420103")
	tl.Add(t0.Add(2*time.Hour+5*time.Minute), 30.6196, 114.2571, "")
	hours := tl.Until(t0.Add(3 * time.Hour))
	if len(hours) != 3 || hours[0].Cells[centre] != 1 || hours[0].Districts["420103"] != 1 ||
		len(hours[1].Cells) != 0 || hours[2].Cells[centre] != 1 || len(hours[2].Districts) != 0 {
		t.Fatalf("three hours, the middle one empty: got %+v", hours)
	}
	tl.Add(t0.Add(30*time.Minute), 30.6196, 114.2571, "420103") // late: its hour is gone
	hours = tl.Until(t0.Add(4 * time.Hour))
	if len(hours) != 1 || !hours[0].Start.Equal(t0.Add(3*time.Hour)) || hours[0].Cells[centre] != 1 {
		t.Fatalf("a late call counts in the first open hour: got %+v", hours)
	}
}

func c2Cell(as []contract.Alert) *contract.Alert {
	for i := range as {
		if as[i].Method == MethodC2 && as[i].Level == LevelCell {
			return &as[i]
		}
	}
	return nil
}

func hasDistrict(as []contract.Alert, method, district string) bool {
	for _, a := range as {
		if a.Method == method && a.Level == LevelDistrict && a.District == district {
			return true
		}
	}
	return false
}
