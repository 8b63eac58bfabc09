package fleetindex

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/ems120/ems120/city"
)

// The adaptive index refines when a dense fleet is loaded, coarsens as the fleet thins out,
// and answers every query as the brute-force scan does at each resolution it passes through.
func TestAdaptiveIndexFollowsDensity(t *testing.T) {
	f := fixture(100_000)
	x := NewAdaptive(DefaultResolution)
	for i, p := range f.pts {
		if f.available[i] {
			x.Update(int32(i), p)
		}
	}
	x.Settle()
	if x.Resolution() <= DefaultResolution {
		t.Fatalf("80,000 units over Wuhan left the index at resolution %d; want finer than %d", x.Resolution(), DefaultResolution)
	}
	loaded := x.Resolution()
	check := func(when string) {
		t.Helper()
		for i, q := range f.queries[:200] {
			want, wantD := f.scanNearest(q)
			got, gotD, ok := x.Nearest(q, math.Inf(1), nil)
			if !ok || got != want && math.Abs(gotD-wantD) > 1e-6 {
				t.Fatalf("%s (resolution %d), query %d: index %d at %.1f m, scan %d at %.1f m", when, x.Resolution(), i, got, gotD, want, wantD)
			}
		}
	}
	check("loaded")
	// Thin the fleet to one unit in 400: searches read few units, and the index coarsens.
	for i := range f.pts {
		if f.available[i] && i%400 != 0 {
			x.Remove(int32(i))
			f.available[i] = false
		}
	}
	defer func() { delete(fixtures, 100_000) }() // the fixture was changed
	for k := 0; k < 20*adaptEvery; k++ {
		x.Nearest(f.queries[k%len(f.queries)], math.Inf(1), nil)
	}
	x.Settle()
	if x.Resolution() >= loaded {
		t.Fatalf("after thinning to %d units the index stayed at resolution %d", x.Len(), x.Resolution())
	}
	check("thinned")
}

// A change of resolution is built in the background from a copy of the positions; units
// moved, added and removed meanwhile must all be where they are now once it is adopted.
func TestRebuildKeepsChangesMadeMeanwhile(t *testing.T) {
	f := fixture(20_000)
	pts := append([]city.Point(nil), f.pts...)
	in := make([]bool, len(pts))
	x := NewAdaptive(DefaultResolution)
	for i := range pts {
		if i%2 == 0 {
			x.Update(int32(i), pts[i])
			in[i] = true
		}
	}
	x.Settle()
	from := x.Resolution()
	x.rebuild(from + 1)
	if x.next == nil {
		t.Fatal("rebuild did not start")
	}
	// While it builds: move a quarter of the units, add the odd ones below 4,000, remove
	// every tenth even one.
	for i := range pts {
		switch {
		case in[i] && i%4 == 0:
			pts[i] = pts[(i+7919)%len(pts)]
			x.Update(int32(i), pts[i])
		case !in[i] && i < 4000:
			x.Update(int32(i), pts[i])
			in[i] = true
		case in[i] && i%10 == 2:
			x.Remove(int32(i))
			in[i] = false
		}
	}
	x.adopt(true)
	if x.Resolution() != from+1 {
		t.Fatalf("resolution %d after the rebuild; want %d", x.Resolution(), from+1)
	}
	want := 0
	for i := range pts {
		if in[i] {
			want++
		}
		if x.Contains(int32(i)) != in[i] {
			t.Fatalf("unit %d: in the index %v, want %v", i, x.Contains(int32(i)), in[i])
		}
	}
	if x.Len() != want {
		t.Fatalf("Len %d, want %d", x.Len(), want)
	}
	// The coarse level (Index.coarse) has followed every change too.
	if x.coarse == nil {
		t.Fatalf("resolution %d, finer than %d, has no coarse level", x.Resolution(), DefaultResolution)
	}
	for i := range pts {
		if x.coarse.Contains(int32(i)) != in[i] {
			t.Fatalf("unit %d: in the coarse level %v, want %v", i, x.coarse.Contains(int32(i)), in[i])
		}
	}
	if x.coarse.Len() != want || x.coarse.Resolution() != DefaultResolution {
		t.Fatalf("coarse level: %d units at resolution %d, want %d at %d", x.coarse.Len(), x.coarse.Resolution(), want, DefaultResolution)
	}
	for qi, q := range f.queries[:300] {
		wantH, wantD := -1, math.Inf(1)
		for i := range pts {
			if d := city.DistanceM(q, pts[i]); in[i] && d < wantD {
				wantH, wantD = i, d
			}
		}
		got, gotD, ok := x.Nearest(q, math.Inf(1), nil)
		if !ok || int(got) != wantH && math.Abs(gotD-wantD) > 1e-3 {
			t.Fatalf("query %d: index %d at %.1f m, scan %d at %.1f m", qi, got, gotD, wantH, wantD)
		}
	}
}

// A search far from every unit it accepts (a fever call where the negative-pressure units
// nearby are all out) goes on at the coarse level after fineWalk fine cells, and answers as
// the scan does. Walking on at the fine resolution created every cell it reached: in a load
// test's 200,000-unit fleet at resolution 10 that was up to 200,000 cells for one search,
// and half a second. The fleet here is crowded into the centre, as a load test's is, so the
// index refines to resolution 10; its far searches may create at most 2×fineWalk cells each
// (a ring's worth past the budget), where the walk to the end created tens of thousands.
func TestFarSearchGoesCoarse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var pts []city.Point
	for range 50_000 { // the centre: 50,000 units within 4 km
		pts = append(pts, centre.Offset((rng.Float64()-0.5)*8000, (rng.Float64()-0.5)*8000))
	}
	f := fixture(20_000)
	pts = append(pts, f.pts...) // and 20,000 over the whole city
	locs := make([]loc, len(pts))
	x := NewAdaptive(DefaultResolution)
	for i, p := range pts {
		locs[i] = locOf(p)
		x.Update(int32(i), p)
		// The centre alone is crowded at every resolution up to the finest: settled there,
		// the index is at resolution 10 whatever the timing of the background rebuilds
		// started while loading. (Settled only at the end, the resolution depended on how
		// far those rebuilds had got: with the city-wide units in, resolution 9 is no longer
		// crowded, and a slow machine stopped there.)
		if i == 50_000-1 {
			x.Settle()
		}
	}
	x.Settle()
	if x.Resolution() < maxAdaptiveRes || x.coarse == nil {
		t.Fatalf("the crowded fleet left the index at resolution %d (coarse level %v); the test needs %d",
			x.Resolution(), x.coarse != nil, maxAdaptiveRes)
	}
	rare := func(h int32) bool { return h%2000 == 0 } // 35 of the 70,000
	cells := x.cells.Len()
	const searches = 40
	for qi, q := range f.queries[:searches] {
		ql := locOf(q)
		want, wantH := int32(-1), math.Inf(1)
		for i := range locs {
			if h := hav(&ql, &locs[i]); rare(int32(i)) && h < wantH {
				want, wantH = int32(i), h
			}
		}
		got, gotD, ok := x.Nearest(q, math.Inf(1), rare)
		if !ok || got != want {
			t.Fatalf("query %d: index %d at %.1f m (found %v), scan %d at %.1f m", qi, got, gotD, ok, want, city.HavToM(wantH))
		}
		// Within goes coarse too when its disk is more than fineWalk cells.
		n := 0
		x.Within(q, 5000, func(h int32, d float64) {
			if d > 5000 || math.Abs(d-city.HavToM(hav(&ql, &locs[h]))) > 1e-6 {
				t.Fatalf("query %d: Within 5 km gave unit %d at %.1f m", qi, h, d)
			}
			n++
		})
		wantN := 0
		for i := range locs {
			if city.HavToM(hav(&ql, &locs[i])) <= 5000 {
				wantN++
			}
		}
		if n != wantN {
			t.Fatalf("query %d: Within 5 km gave %d units, the scan %d", qi, n, wantN)
		}
	}
	if grown := x.cells.Len() - cells; grown > searches*2*fineWalk {
		t.Fatalf("%d far searches created %d fine cells; want at most %d", searches, grown, searches*2*fineWalk)
	}
}

// TestIndexRecordsHoldNoPointers keeps the index's per-cell and per-unit records free of
// pointers: the garbage collector then has nothing to trace in them, and a 110,000-unit
// fleet's index is marked at every cycle (BenchmarkFullGC in loadtest). The one pointer per
// cell is Index.members, each cell's units.
func TestIndexRecordsHoldNoPointers(t *testing.T) {
	var holds func(reflect.Type) bool
	holds = func(ty reflect.Type) bool {
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.String, reflect.Interface,
			reflect.Chan, reflect.Func, reflect.UnsafePointer:
			return true
		case reflect.Array:
			return holds(ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				if holds(ty.Field(i).Type) {
					return true
				}
			}
		}
		return false
	}
	for _, v := range []any{cellGeo{}, slot{}, member{}} {
		if ty := reflect.TypeOf(v); holds(ty) {
			t.Errorf("%v holds a pointer", ty)
		}
	}
}

func TestIndexMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := New(DefaultResolution)
	pts := make([]city.Point, 3000)
	for i := range pts {
		pts[i] = centre.Offset((rng.Float64()-0.5)*60_000, (rng.Float64()-0.5)*60_000)
		x.Update(int32(i), pts[i])
	}
	// Move and remove some, so the swap-remove bookkeeping is exercised.
	for i := 0; i < 1000; i++ {
		h := rng.IntN(len(pts))
		if i%3 == 0 {
			x.Remove(int32(h))
			pts[h] = city.Point{Lat: 999}
			continue
		}
		pts[h] = pts[h].Offset((rng.Float64()-0.5)*3000, (rng.Float64()-0.5)*3000)
		x.Update(int32(h), pts[h])
	}
	for q := 0; q < 200; q++ {
		p := centre.Offset((rng.Float64()-0.5)*60_000, (rng.Float64()-0.5)*60_000)
		r := []float64{1000, 5000, 12_000}[q%3]
		got := map[int32]bool{}
		x.Within(p, r, func(h int32, d float64) { got[h] = true })
		for i, pt := range pts {
			if pt.Lat == 999 {
				if got[int32(i)] {
					t.Fatalf("removed unit %d returned", i)
				}
				continue
			}
			if (city.DistanceM(p, pt) <= r) != got[int32(i)] {
				t.Fatalf("query %d r=%.0f: unit %d at %.0f m: index says %v", q, r, i, city.DistanceM(p, pt), got[int32(i)])
			}
		}
	}
}

var centre = city.Point{Lat: 30.5928, Lng: 114.3055}
