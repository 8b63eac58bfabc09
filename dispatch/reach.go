package dispatch

import (
	"math"

	"github.com/ems120/ems120/city"
)

// Reach answers whether a point lies within a radius of any of a few fixed places: the
// service-area check, which refuses a call that no station can reach. A city has tens to
// hundreds of stations, so Reach reads them all, on the unit sphere with no trigonometry per
// station, and stops at the first one inside the radius — for a call in the city that is
// one of the first few. (A fleet index would walk empty cells between sparse stations, and its
// caches make it single-threaded.)
// Reach is read-only after NewReach and safe for concurrent use.
type Reach struct {
	places []city.Sphere
	maxH   float64 // the radius as a haversine
}

// NewReach returns the check for points within radiusM metres of any of places.
func NewReach(places []city.Point, radiusM float64) *Reach {
	r := &Reach{maxH: city.MToHav(radiusM)}
	for _, p := range places {
		r.places = append(r.places, p.OnSphere())
	}
	return r
}

// Within reports whether some place is within the radius of p (great-circle).
func (r *Reach) Within(p city.Point) bool {
	q := p.OnSphere()
	for i := range r.places {
		if city.Hav(&q, &r.places[i]) <= r.maxH {
			return true
		}
	}
	return false
}

// NearestM is the great-circle distance from p to the nearest place; ok is false when there
// are no places.
func (r *Reach) NearestM(p city.Point) (m float64, ok bool) {
	q := p.OnSphere()
	best := math.Inf(1)
	for i := range r.places {
		best = min(best, city.Hav(&q, &r.places[i]))
	}
	return city.HavToM(best), len(r.places) > 0
}
