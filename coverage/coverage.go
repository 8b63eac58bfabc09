// Package coverage measures which parts of the city an ambulance can reach within the 5 km /
// 15-minute standard: the service area as H3 cells with a demand weight each, the number of
// available units that reach each cell, the demand-weighted share reached by one and by two
// units, and move-up advice when that share drops. The Tracker keeps it all up to date
// incrementally: a unit that moves, becomes busy or comes free changes only the cells within
// its reach. It does no I/O.
package coverage

import (
	"math"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ems120/ems120/city"
)

// Resolution of the service-area cells: at Wuhan's latitude a resolution-8 cell is about
// 0.63 km², small against the 5 km circle (78 km²) and fine enough for district-level maps.
const Resolution = 8

// The standard.
const (
	StandardRadiusM = 5000
	StandardETA     = 15 * time.Minute
)

// Cell is one H3 cell of the service area.
type Cell struct {
	ID       h3.Cell
	Center   city.Point
	District string  // district code
	AreaKm2  float64 // the cell's area
	Demand   float64 // expected share of the city's calls; the weights sum to 1
}

// ServiceArea covers the city's districts with H3 cells at res. Each cell's demand weight is
// the city's population proxy (city.DemandDensity) times its area, normalised to sum to 1.
// A cell on a border between districts belongs to the first district, in code order.
func ServiceArea(c *city.City, res int) []Cell {
	var cells []Cell
	seen := map[h3.Cell]bool{}
	for i := range c.Districts {
		d := &c.Districts[i]
		var mine []Cell
		area := d.Area()
		for p := 0; p < area.NumPolygons(); p++ {
			poly := area.Polygon(p)
			gp := h3.GeoPolygon{GeoLoop: loop(poly.LinearRing(0).FlatCoords())}
			for r := 1; r < poly.NumLinearRings(); r++ {
				gp.Holes = append(gp.Holes, loop(poly.LinearRing(r).FlatCoords()))
			}
			for _, id := range h3.PolygonToCells(gp, res) {
				if seen[id] {
					continue
				}
				seen[id] = true
				ll := h3.CellToLatLng(id)
				mine = append(mine, Cell{ID: id, Center: city.Point{Lat: ll.Lat, Lng: ll.Lng}, District: d.Code, AreaKm2: h3.CellAreaKm2(id)})
			}
		}
		districtKm2 := 0.0
		for _, cell := range mine {
			districtKm2 += cell.AreaKm2
		}
		for j := range mine {
			mine[j].Demand = c.DemandDensity(d, mine[j].Center, districtKm2) * mine[j].AreaKm2
		}
		cells = append(cells, mine...)
	}
	normalise(cells)
	return cells
}

func normalise(cells []Cell) {
	total := 0.0
	for _, c := range cells {
		total += c.Demand
	}
	if total == 0 {
		return
	}
	for i := range cells {
		cells[i].Demand /= total
	}
}

func loop(flat []float64) h3.GeoLoop {
	out := make(h3.GeoLoop, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		out = append(out, h3.LatLng{Lat: flat[i+1], Lng: flat[i]})
	}
	return out
}

// HistoryPseudoCalls is how many calls' worth of weight the population proxy keeps when a
// call history is blended in: with a short history the proxy still speaks; with a long one
// the history does.
const HistoryPseudoCalls = 200

// WithHistory re-weights demand by where calls came from: weight = (calls in the cell +
// HistoryPseudoCalls × proxy weight) / (calls + HistoryPseudoCalls). Calls outside the area
// are ignored. It returns how many calls fell inside.
func WithHistory(cells []Cell, calls []city.Point) int {
	index := make(map[h3.Cell]int, len(cells))
	res := 0
	for i, c := range cells {
		index[c.ID] = i
		res = c.ID.Resolution()
	}
	counts := make([]float64, len(cells))
	n := 0
	for _, p := range calls {
		if i, ok := index[h3.LatLngToCell(h3.NewLatLng(p.Lat, p.Lng), res)]; ok {
			counts[i]++
			n++
		}
	}
	if n == 0 {
		return 0
	}
	for i := range cells {
		cells[i].Demand = (counts[i] + HistoryPseudoCalls*cells[i].Demand) / float64(n+HistoryPseudoCalls)
	}
	normalise(cells)
	return n
}

// Result is the coverage of an area by a set of units.
type Result struct {
	Reach             []int   // units reaching each cell, by cell index
	CoveragePct       float64 // demand-weighted share reached by ≥ 1 unit
	DoubleCoveragePct float64 // … by ≥ 2 units
}

// Compute counts, for every cell, the units that reach its centre within the standard, by
// brute force over every pair. It is the reference the Tracker is tested against.
func Compute(cells []Cell, units []city.Point, m city.TravelModel, at time.Time) Result {
	r := Result{Reach: make([]int, len(cells))}
	var one, two float64
	for i, c := range cells {
		for _, u := range units {
			if city.DistanceM(u, c.Center) <= StandardRadiusM && city.ETA(m, u, c.Center, at, 1) <= StandardETA {
				r.Reach[i]++
			}
		}
		if r.Reach[i] >= 1 {
			one += c.Demand
		}
		if r.Reach[i] >= 2 {
			two += c.Demand
		}
	}
	r.CoveragePct, r.DoubleCoveragePct = 100*one, 100*two
	return r
}

// reachRadius is how far a unit reaches within the standard with a model whose time grows
// linearly with distance: min(5 km, what 15 minutes less turnout covers). ok is false for a
// model that is not linear.
func reachRadius(m city.TravelModel, at time.Time) (float64, bool) {
	lm, ok := m.(interface {
		SecondsPerMetre(time.Time, int) float64
	})
	if !ok {
		return 0, false
	}
	spm := lm.SecondsPerMetre(at, 1)
	r := (StandardETA - m.Turnout(1)).Seconds() / spm
	return math.Min(StandardRadiusM, r), true
}
