package city

import (
	"math"
	"math/rand/v2"
)

// The population proxy: no population raster is at hand, so each district's residents are
// placed by a simple model — SettledShare of them in its towns, around its hospitals (which
// stand in the towns), spread as a normal distribution of TownSigmaM; the rest evenly over the
// district. Uniform placement alone put rural districts' calls in fields and lakes as often as
// in towns.
const (
	SettledShare = 0.6
	TownSigmaM   = 2500
)

// towns are a district's hospital positions, the centres of its settled population.
func (c *City) towns(d *District) []Point {
	var out []Point
	for _, h := range c.Hospitals {
		if h.District == d.Code {
			out = append(out, h.Point)
		}
	}
	return out
}

// SamplePoint draws a resident's position in district d from the population proxy.
func (c *City) SamplePoint(d *District, rng *rand.Rand) Point {
	towns := c.towns(d)
	if len(towns) > 0 && rng.Float64() < SettledShare {
		for tries := 0; tries < 100; tries++ {
			t := towns[rng.IntN(len(towns))]
			p := Point{
				Lat: t.Lat + rng.NormFloat64()*TownSigmaM/111_195,
				Lng: t.Lng + rng.NormFloat64()*TownSigmaM/(111_195*math.Cos(t.Lat*math.Pi/180)),
			}
			if d.Contains(p) {
				return p
			}
		}
	}
	b := &d.box
	for {
		p := Point{Lat: b[1] + rng.Float64()*(b[3]-b[1]), Lng: b[0] + rng.Float64()*(b[2]-b[0])}
		if d.Contains(p) {
			return p
		}
	}
}

// DemandDensity is the population proxy's density at p in district d, in residents per km²:
// what a map of demand uses where there is no call history. areaKm2 is the district's area.
func (c *City) DemandDensity(d *District, p Point, areaKm2 float64) float64 {
	pop := float64(d.Population)
	dens := (1 - SettledShare) * pop / areaKm2
	towns := c.towns(d)
	if len(towns) == 0 {
		return pop / areaKm2
	}
	sigmaKm := float64(TownSigmaM) / 1000
	for _, t := range towns {
		r := DistanceM(p, t) / 1000
		dens += SettledShare * pop / float64(len(towns)) * math.Exp(-r*r/(2*sigmaKm*sigmaKm)) / (2 * math.Pi * sigmaKm * sigmaKm)
	}
	return dens
}
