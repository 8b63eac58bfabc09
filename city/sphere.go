package city

import "math"

// Sphere is a point on the unit sphere, (cos φ cos λ, cos φ sin λ, sin φ). Computed once for
// a point that is compared with many others, it ranks them by distance with no trigonometry
// per comparison (Hav).
type Sphere struct{ X, Y, Z float64 }

// OnSphere is p on the unit sphere.
func (p Point) OnSphere() Sphere {
	sLa, cLa := math.Sincos(p.Lat * math.Pi / 180)
	sLo, cLo := math.Sincos(p.Lng * math.Pi / 180)
	return Sphere{X: cLa * cLo, Y: cLa * sLo, Z: sLa}
}

// Hav is the haversine of the central angle θ between a and b: monotonic in distance, so it
// ranks like distance without the arcsine and square root. It is a quarter of the squared
// chord between the two points on the unit sphere (chord = 2 sin θ/2), which takes no
// trigonometry: the sines of the haversine formula were a third of a nearest-unit search in
// a dense fleet.
func Hav(a, b *Sphere) float64 {
	dx, dy, dz := a.X-b.X, a.Y-b.Y, a.Z-b.Z
	return (dx*dx + dy*dy + dz*dz) / 4
}

// HavToM is the great-circle distance, in metres, of a haversine.
func HavToM(h float64) float64 { return 2 * EarthRadiusM * math.Asin(math.Sqrt(min(1, h))) }

// MToHav is the haversine of a great-circle distance in metres (+Inf past half the globe).
func MToHav(m float64) float64 {
	if m >= math.Pi*EarthRadiusM {
		return math.Inf(1)
	}
	s := math.Sin(m / (2 * EarthRadiusM))
	return s * s
}

// Offset is the point eastM metres east and northM metres north of p, for distances of a few
// kilometres: a degree of latitude is taken as 111,195 m, a degree of longitude as the
// great-circle distance between two points a degree apart on p's parallel.
func (p Point) Offset(eastM, northM float64) Point {
	const mPerDeg = 111_195.0
	lngM := DistanceM(Point{Lat: p.Lat}, Point{Lat: p.Lat, Lng: 1})
	return Point{Lat: p.Lat + northM/mPerDeg, Lng: p.Lng + eastM/lngM}
}
