package dispatch

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ems120/ems120/city"
)

// Reach against the haversine distance to every place, on points spread from the centre of
// a Wuhan-like cluster of places to far outside it.
func TestReachAgreesWithDistanceToEveryPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var places []city.Point
	for range 70 {
		places = append(places, city.Point{Lat: 30.45 + rng.Float64()*0.3, Lng: 114.15 + rng.Float64()*0.4})
	}
	const radius = 40_000
	r := NewReach(places, radius)
	inside, outside := 0, 0
	for range 20_000 {
		p := city.Point{Lat: 29.5 + rng.Float64()*2, Lng: 113 + rng.Float64()*2.6}
		want := math.Inf(1)
		for _, s := range places {
			want = min(want, city.DistanceM(p, s))
		}
		got, ok := r.NearestM(p)
		if !ok || math.Abs(got-want) > 1e-3 {
			t.Fatalf("NearestM(%v) = %v, %v; the nearest place is %.3f m away", p, got, ok, want)
		}
		if math.Abs(want-radius) < 0.01 {
			continue // on the boundary to within rounding
		}
		if r.Within(p) != (want <= radius) {
			t.Fatalf("Within(%v) = %v, but the nearest place is %.1f m away (radius %d m)", p, r.Within(p), want, radius)
		}
		if want <= radius {
			inside++
		} else {
			outside++
		}
	}
	if inside < 1000 || outside < 1000 {
		t.Fatalf("the points should fall on both sides of the radius: %d inside, %d outside", inside, outside)
	}
	if _, ok := NewReach(nil, radius).NearestM(places[0]); ok || NewReach(nil, radius).Within(places[0]) {
		t.Fatal("no places: nothing is within reach and there is no nearest")
	}
}
