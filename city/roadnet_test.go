package city

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ems120/ems120/internal/testenv"
)

// TestTravelModelAgainstEdmontonRoads measures the default straight-line travel model against
// shortest lights-and-sirens times over a real road network (Edmonton, from the JEMSS
// simulator's city model), for 300 random pairs of road nodes 1–15 km apart, and reports the
// error. The model's speeds are Wuhan's, so its absolute error here says how far Edmonton's
// arterial speeds are from them; the circuity and the error after fitting one speed say
// whether the model's form (straight line × circuity ÷ speed) holds on real roads.
func TestTravelModelAgainstEdmontonRoads(t *testing.T) {
	dir := testenv.SharedData(t, "edmonton")
	r, err := LoadJEMSS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Nodes() != 51_331 {
		t.Fatalf("%d nodes, want 51,331", r.Nodes())
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	randomAccessNode := func() int {
		for {
			if n := rng.IntN(r.Nodes()); r.HasAccess(n) {
				return n
			}
		}
	}
	type pair struct{ straightKm, roadKm, roadMin float64 }
	var pairs []pair
	tried := 0
	for len(pairs) < 300 {
		src := randomAccessNode()
		mins, km := r.ShortestTimes(src, ModeLightsAndSirens)
		for got := 0; got < 10; {
			dst := randomAccessNode()
			d := DistanceM(r.Node(src), r.Node(dst)) / 1000
			if d < 1 || d > 15 {
				continue
			}
			tried++
			got++
			if !math.IsInf(mins[dst], 1) {
				pairs = append(pairs, pair{d, km[dst], mins[dst]})
			}
		}
	}
	if connected := float64(len(pairs)) / float64(tried); connected < 0.9 {
		t.Fatalf("only %.0f%% of node pairs are connected: the network did not load right", 100*connected)
	}
	m := DefaultTravelModel(time.UTC)
	offPeak := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)
	var circ, errPct, absPct []float64
	var sumStraight, sumMin float64
	for _, p := range pairs {
		circ = append(circ, p.roadKm/p.straightKm)
		model := p.straightKm * 1000 * m.SecondsPerMetre(offPeak, 1) / 60
		errPct = append(errPct, 100*(model-p.roadMin)/p.roadMin)
		absPct = append(absPct, math.Abs(100*(model-p.roadMin)/p.roadMin))
		sumStraight += p.straightKm
		sumMin += p.roadMin
	}
	// One speed per straight-line kilometre, fitted to the network: the model's form with
	// Edmonton's speeds.
	fitKmPerMin := sumStraight / sumMin
	var fitAbs []float64
	for _, p := range pairs {
		fitAbs = append(fitAbs, math.Abs(100*(p.straightKm/fitKmPerMin-p.roadMin)/p.roadMin))
	}
	roadKmh := 0.0
	for _, p := range pairs {
		roadKmh += p.roadKm / (p.roadMin / 60)
	}
	roadKmh /= float64(len(pairs))
	t.Logf("Edmonton, %d pairs 1–15 km apart (%d tried):", len(pairs), tried)
	t.Logf("  circuity (road km / straight km): median %.2f, mean %.2f (the model uses %.2f)", median(circ), mean(circ), m.Circuity)
	t.Logf("  lights-and-sirens speed along the road: mean %.0f km/h (the model's off-peak: %.0f km/h)", roadKmh, m.OffPeakKmh)
	t.Logf("  default model vs road time: mean error %+.0f%%, median |error| %.0f%%, mean |error| %.0f%%", mean(errPct), median(absPct), mean(absPct))
	t.Logf("  one speed fitted to the network (%.0f km/h of straight line): median |error| %.0f%%, mean |error| %.0f%%",
		fitKmPerMin*60, median(fitAbs), mean(fitAbs))
	if c := median(circ); c < 1.1 || c > 1.8 {
		t.Errorf("median circuity %.2f is outside [1.1, 1.8]: the network or the distances are wrong", c)
	}
	if e := mean(fitAbs); e > 30 {
		t.Errorf("with a fitted speed the straight-line form is still %.0f%% off on average: the form does not hold", e)
	}
	// The network also serves as a TravelModel.
	var tm TravelModel = r
	a, b := r.Node(randomAccessNode()), Point{Lat: 53.5461, Lng: -113.4938} // downtown Edmonton
	if d := tm.Duration(a, b, offPeak, 1); d <= 0 || d > 2*time.Hour {
		t.Errorf("road-network duration %v", d)
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
