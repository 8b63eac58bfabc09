package dispatch

import (
	"math"
	"testing"
)

// The adaptive index refines when a dense fleet is loaded, coarsens as the fleet thins out,
// and answers every query as the brute-force scan does at each resolution it passes through.
func TestAdaptiveIndexFollowsDensity(t *testing.T) {
	f := fixture(100_000)
	x := NewAdaptiveIndex(IndexResolution)
	for i, p := range f.pts {
		if f.available[i] {
			x.Update(int32(i), p)
		}
	}
	if x.Resolution() <= IndexResolution {
		t.Fatalf("80,000 units over Wuhan left the index at resolution %d; want finer than %d", x.Resolution(), IndexResolution)
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
	if x.Resolution() >= loaded {
		t.Fatalf("after thinning to %d units the index stayed at resolution %d", x.Len(), x.Resolution())
	}
	check("thinned")
}
