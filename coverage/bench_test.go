package coverage

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ems120/ems120/city"
)

// fleet places n units by the city's population proxy, as calls are placed.
func fleet(n int) []city.Point {
	rng := rand.New(rand.NewPCG(uint64(n), 3))
	cum := []float64{}
	acc := 0.0
	for _, d := range wuhan.Districts {
		acc += float64(d.Population)
		cum = append(cum, acc)
	}
	out := make([]city.Point, n)
	for i := range out {
		x := rng.Float64() * acc
		j := 0
		for cum[j] < x {
			j++
		}
		out[i] = wuhan.SamplePoint(&wuhan.Districts[j], rng)
	}
	return out
}

// BenchmarkCoverageRecompute is a full recompute of Wuhan's 13,500 resolution-8 cells.
func BenchmarkCoverageRecompute(b *testing.B) {
	for _, n := range []int{500, 5000} {
		b.Run(fmt.Sprintf("units=%d", n), func(b *testing.B) {
			tr := NewTracker(cells, model, noon)
			for i, p := range fleet(n) {
				tr.Set(fmt.Sprint(i), p)
			}
			for b.Loop() {
				tr.Recompute()
			}
		})
	}
}

// BenchmarkCoverageUpdate is one incremental update: a unit moves (up to 2 km), or goes busy
// and comes free again elsewhere — each op is one Set of a unit to a new position.
func BenchmarkCoverageUpdate(b *testing.B) {
	for _, n := range []int{500, 5000} {
		b.Run(fmt.Sprintf("units=%d", n), func(b *testing.B) {
			tr := NewTracker(cells, model, noon)
			pts := fleet(n)
			for i, p := range pts {
				tr.Set(fmt.Sprint(i), p)
			}
			rng := rand.New(rand.NewPCG(1, 1))
			ids := make([]string, 4096)
			moves := make([]city.Point, 4096)
			for i := range moves {
				j := rng.IntN(n)
				ids[i] = fmt.Sprint(j)
				moves[i] = city.Point{Lat: pts[j].Lat + (rng.Float64()-0.5)*0.018, Lng: pts[j].Lng + (rng.Float64()-0.5)*0.02}
			}
			i := 0
			for b.Loop() {
				tr.Set(ids[i&4095], moves[i&4095])
				i++
			}
		})
	}
}

// BenchmarkMoveUps is one round of advice: up to three moves for Wuhan's fleet.
func BenchmarkMoveUps(b *testing.B) {
	tr := NewTracker(cells, model, noon)
	var idle []string
	for i, p := range fleet(258) {
		id := fmt.Sprint(i)
		tr.Set(id, p)
		if i%3 == 0 {
			idle = append(idle, id)
		}
	}
	for b.Loop() {
		tr.MoveUps(idle, wuhan.Stations, 3, 100)
	}
}
