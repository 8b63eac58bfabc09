package hospitals

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

// BenchmarkChoose: one destination for a call of the load test's mix in Wuhan, booked and
// released again, with free beds everywhere ("free") and with every bed taken ("full", a
// surge: the path the 5,000-calls-per-second load test takes after its first seconds).
func BenchmarkChoose(b *testing.B) {
	c := city.Wuhan()
	rng := rand.New(rand.NewPCG(1, 2))
	cats := []contract.Category{contract.CategoryCardiac, contract.CategoryTrauma, contract.CategoryFever, contract.CategoryOther}
	calls := make([]contract.Call, 4096)
	for i := range calls {
		p := c.Hospitals[rng.IntN(len(c.Hospitals))].Point
		calls[i] = contract.Call{CallID: fmt.Sprintf("B%d", i), Lat: p.Lat + rng.NormFloat64()*0.02, Lng: p.Lng + rng.NormFloat64()*0.02,
			Priority: 1 + rng.IntN(4), Category: cats[rng.IntN(len(cats))], Infectious: rng.IntN(5) == 0}
	}
	for _, full := range []bool{false, true} {
		name := "free"
		if full {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			r := NewRegistry(c, Config{Travel: city.DefaultTravelModel(time.UTC)})
			if full {
				fill(b, r, calls)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				call := calls[i%len(calls)]
				if ch := r.Choose(call, t0); full && !allFull(ch) {
					b.Fatalf("every hospital is full, but the choice was %+v", ch)
				}
				r.Release(call.CallID)
			}
		})
	}
}

// fill books beds until a whole pass over the calls finds every hospital full.
func fill(b *testing.B, r *Registry, calls []contract.Call) {
	for pass, n := 0, 0; pass < 1000; pass++ {
		filled := true
		for _, call := range calls {
			call.CallID = fmt.Sprintf("F%d", n)
			n++
			filled = allFull(r.Choose(call, t0)) && filled
		}
		if filled {
			return
		}
	}
	b.Fatal("the hospitals never filled")
}

// allFull: the choice found no free bed (the initial estimates are stale, so the reason may
// carry the stale suffix).
func allFull(ch Choice) bool {
	return strings.HasPrefix(ch.Reason, ReasonAllFull) || ch.Reason == ReasonNone
}
