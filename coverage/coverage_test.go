package coverage

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/internal/testenv"
)

var (
	wuhan  = city.Wuhan()
	loc, _ = time.LoadLocation("Asia/Shanghai")
	model  = city.DefaultTravelModel(loc)
	noon   = time.Date(2026, 11, 28, 12, 0, 0, 0, loc)
	rush   = time.Date(2026, 11, 28, 8, 0, 0, 0, loc)
	cells  = ServiceArea(wuhan, Resolution)
)

func TestWuhanServiceArea(t *testing.T) {
	km2, sum := 0.0, 0.0
	for _, c := range cells {
		km2 += c.AreaKm2
		sum += c.Demand
	}
	// Wuhan's 13 districts cover 8,569 km².
	if math.Abs(km2-8569) > 0.03*8569 {
		t.Fatalf("%d cells cover %.0f km², want 8,569 ± 3%%", len(cells), km2)
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("demand sums to %v, want 1", sum)
	}
	// The population proxy puts more demand per km² in the central districts.
	dens := map[bool][2]float64{}
	for _, c := range cells {
		d, _ := wuhan.DistrictAt(c.Center)
		central := d != nil && d.Central
		v := dens[central]
		dens[central] = [2]float64{v[0] + c.Demand, v[1] + c.AreaKm2}
	}
	if dens[true][0]/dens[true][1] < 5*dens[false][0]/dens[false][1] {
		t.Errorf("central demand density %.2g/km² is not well above the outer districts' %.2g", dens[true][0]/dens[true][1], dens[false][0]/dens[false][1])
	}
}

// The built-in city's simplified boundaries give the same service area as the full district
// polygons in ../shared/data/wuhan/districts.geojson, district by district.
func TestServiceAreaMatchesSharedDistricts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.SharedData(t, "wuhan"), "districts.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	var fc geojson.FeatureCollection
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	full := &city.City{}
	for _, f := range fc.Features {
		code := strconv.Itoa(int(f.Properties["adcode"].(float64)))
		d, err := city.NewDistrict(code, fmt.Sprint(f.Properties["name"]), 1, false, f.Geometry.(*geom.MultiPolygon))
		if err != nil {
			t.Fatal(err)
		}
		full.Districts = append(full.Districts, d)
	}
	fromShared := ServiceArea(full, Resolution)
	count := func(cs []Cell) map[string]int {
		m := map[string]int{}
		for _, c := range cs {
			m[c.District]++
		}
		return m
	}
	a, b2 := count(fromShared), count(cells)
	if diff := math.Abs(float64(len(fromShared)-len(cells))) / float64(len(fromShared)); diff > 0.01 {
		t.Errorf("%d cells from the shared polygons, %d from the built-in: %.1f%% apart", len(fromShared), len(cells), 100*diff)
	}
	for code, n := range a {
		if d := math.Abs(float64(n-b2[code])) / float64(n); d > 0.05 {
			t.Errorf("district %s: %d cells from the shared polygons, %d built in", code, n, b2[code])
		}
	}
}

func randomPoint(rng *rand.Rand) city.Point {
	return city.Point{Lat: 30.45 + rng.Float64()*0.3, Lng: 114.1 + rng.Float64()*0.4}
}

func check(t *testing.T, tr *Tracker, pos map[string]city.Point, at time.Time, step int) {
	t.Helper()
	var units []city.Point
	for _, p := range pos {
		units = append(units, p)
	}
	want := Compute(cells, units, model, at)
	for i := range cells {
		if int(tr.reach[i]) != want.Reach[i] {
			t.Fatalf("step %d: cell %d reach %d, recompute says %d", step, i, tr.reach[i], want.Reach[i])
		}
	}
	one, two := tr.Summary()
	if math.Abs(one-want.CoveragePct) > 1e-6 || math.Abs(two-want.DoubleCoveragePct) > 1e-6 {
		t.Fatalf("step %d: summary %.6f/%.6f, recompute %.6f/%.6f", step, one, two, want.CoveragePct, want.DoubleCoveragePct)
	}
}

// After long random sequences of units coming free, moving, going busy and the clock
// crossing into the rush hour and out, the incremental counts equal a full recompute.
func TestIncrementalEqualsRecompute(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tr := NewTracker(cells, model, noon)
	pos := map[string]city.Point{}
	at := noon
	for step := 0; step < 3000; step++ {
		id := fmt.Sprintf("U%02d", rng.IntN(60))
		switch r := rng.IntN(100); {
		case r < 45:
			p := randomPoint(rng)
			if old, ok := pos[id]; ok && rng.IntN(2) == 0 {
				p = city.Point{Lat: old.Lat + (rng.Float64()-0.5)*0.01, Lng: old.Lng + (rng.Float64()-0.5)*0.01}
			}
			tr.Set(id, p)
			pos[id] = p
		case r < 75:
			tr.Remove(id)
			delete(pos, id)
		case r < 77:
			tr.Set(id, pos[id]) // no move: nothing changes
			if _, ok := pos[id]; !ok {
				tr.Remove(id)
			}
		default:
			if rng.IntN(20) == 0 {
				if at.Equal(noon) {
					at = rush
				} else {
					at = noon
				}
				tr.SetTime(at)
			}
		}
		if step%250 == 0 || step == 2999 {
			check(t, tr, pos, at, step)
		}
	}
	if tr.Units() != len(pos) {
		t.Fatalf("tracker has %d units, want %d", tr.Units(), len(pos))
	}
}

func TestRushHourShrinksReach(t *testing.T) {
	tr := NewTracker(cells, model, noon)
	for _, u := range wuhan.Fleet {
		s, _ := wuhan.Station(u.Station)
		tr.Set(u.ID, s.Point)
	}
	off, _ := tr.Summary()
	tr.SetTime(rush)
	peak, _ := tr.Summary()
	if !(peak < off) {
		t.Fatalf("coverage %.1f%% at 08:00 is not below %.1f%% at noon", peak, off)
	}
	t.Logf("Wuhan fleet at its stations: %.1f%% of demand covered at noon, %.1f%% at 08:00", off, peak)
}

func TestWithHistory(t *testing.T) {
	cs := ServiceArea(wuhan, Resolution)
	p := cs[100].Center
	var calls []city.Point
	for i := 0; i < 800; i++ {
		calls = append(calls, p)
	}
	calls = append(calls, city.Point{Lat: 0, Lng: 0}) // outside: ignored
	if n := WithHistory(cs, calls); n != 800 {
		t.Fatalf("%d calls placed, want 800", n)
	}
	if cs[100].Demand < 0.79 {
		t.Fatalf("a cell with 800 of 800 calls weighs %.3f, want ≈ 0.8 (200 pseudo-calls keep the proxy)", cs[100].Demand)
	}
}

// The greedy move-up advice against an exhaustive search over every choice of up to three
// moves, on small random instances: how far from the best it falls.
func TestMoveUpsAgainstExhaustive(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	var gaps []float64
	worst := 1.0
	for inst := 0; inst < 40; inst++ {
		tr := NewTracker(cells, model, noon)
		var idle []string
		for i := 0; i < 14; i++ {
			id := fmt.Sprintf("U%02d", i)
			p := randomPoint(rng)
			if i < 6 { // the candidates to move, in two clusters
				c := []city.Point{{Lat: 30.60, Lng: 114.25}, {Lat: 30.52, Lng: 114.35}}[i%2]
				p = city.Point{Lat: c.Lat + rng.Float64()*0.03, Lng: c.Lng + rng.Float64()*0.03}
				idle = append(idle, id)
			}
			tr.Set(id, p)
		}
		var stations []city.Station
		for i := 0; i < 8; i++ {
			stations = append(stations, city.Station{ID: fmt.Sprintf("S%d", i), Point: randomPoint(rng)})
		}
		greedy := 0.0
		for _, m := range tr.MoveUps(idle, stations, 3, 100) {
			greedy += m.GainPct / 100
		}
		best := exhaustive(tr, idle, stations, 3)
		if greedy > best+1e-9 {
			t.Fatalf("instance %d: greedy %.5f beats exhaustive %.5f: the exhaustive search is wrong", inst, greedy, best)
		}
		if best > 0 {
			gaps = append(gaps, (best-greedy)/best)
			worst = min(worst, greedy/best)
		}
	}
	mean := 0.0
	for _, g := range gaps {
		mean += g
	}
	mean /= float64(len(gaps))
	t.Logf("greedy vs exhaustive, up to three moves, %d instances: mean gap %.2f%%, worst instance %.1f%% of the best", len(gaps), 100*mean, 100*worst)
	if mean > 0.10 || worst < 0.63 {
		t.Errorf("greedy is far from the best: mean gap %.1f%%, worst %.1f%%", 100*mean, 100*worst)
	}
}

// exhaustive tries every set of up to k moves (distinct units, any stations) and returns the
// best gain in covered demand, using the same reach arithmetic as MoveUps but no greed.
func exhaustive(tr *Tracker, idle []string, stations []city.Station, k int) float64 {
	stationCells := make([][]int32, len(stations))
	for i, s := range stations {
		stationCells[i] = tr.reachable(s.Point, nil)
	}
	var rec func(reach []int32, from, left int, acc float64) float64
	rec = func(reach []int32, from, left int, acc float64) float64 {
		best := acc
		if left == 0 {
			return best
		}
		for a := from; a < len(idle); a++ {
			u := tr.unit(idle[a])
			for si := range stations {
				g, _ := gain(tr.cells, reach, u.cells, stationCells[si])
				move := func(d int32) {
					for _, i := range u.cells {
						reach[i] -= d
					}
					for _, i := range stationCells[si] {
						reach[i] += d
					}
				}
				move(1)
				best = max(best, rec(reach, a+1, left-1, acc+g))
				move(-1)
			}
		}
		return best
	}
	return rec(slices.Clone(tr.reach), 0, k, 0)
}

// A unit reaches exactly the cells whose centres lie within its reach radius by the
// great-circle distance (city.DistanceM), up to a metre for rounding.
func TestReachableMatchesDistance(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, at := range []time.Time{noon, rush} {
		tr := NewTracker(cells, model, at)
		if tr.radius <= 0 {
			t.Fatalf("the default model should give a reach radius at %s", at)
		}
		for range 200 {
			p := randomPoint(rng)
			got := map[int32]bool{}
			for _, i := range tr.reachable(p, nil) {
				got[i] = true
			}
			for i, c := range cells {
				d := city.DistanceM(p, c.Center)
				if math.Abs(d-tr.radius) < 1 {
					continue
				}
				if want := d <= tr.radius; got[int32(i)] != want {
					t.Fatalf("unit at %v, cell %s at %.1f m, radius %.1f m: reached %v, want %v", p, c.ID, d, tr.radius, got[int32(i)], want)
				}
			}
		}
	}
}
