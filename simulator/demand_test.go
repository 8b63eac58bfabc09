package simulator

import (
	"testing"
	"time"

	"github.com/ems120/ems120/city"
)

func TestGeneratorIsDeterministicAndInside(t *testing.T) {
	c := city.Wuhan()
	a, b := NewGenerator(c, DefaultMix, 7, "T"), NewGenerator(c, DefaultMix, 7, "T")
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	prio := map[int]int{}
	for i := 0; i < 2000; i++ {
		x, y := a.Call(at), b.Call(at)
		if x != y {
			t.Fatalf("call %d differs between two generators with one seed: %+v vs %+v", i, x, y)
		}
		if _, ok := c.DistrictAt(city.Point{Lat: x.Lat, Lng: x.Lng}); !ok {
			t.Fatalf("call %+v is outside the city", x)
		}
		if !x.Category.Valid() || x.Priority < 1 || x.Priority > 4 {
			t.Fatalf("invalid call %+v", x)
		}
		prio[x.Priority]++
	}
	// The mix is honoured: P1 is about a tenth.
	if p1 := float64(prio[1]) / 2000; p1 < 0.07 || p1 > 0.13 {
		t.Errorf("P1 share = %.3f, want ≈0.10", p1)
	}
	if g := a.Gap(60); g <= 0 {
		t.Errorf("gap = %v", g)
	}
}
