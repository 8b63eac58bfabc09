package fleetindex

import (
	"math"

	"github.com/ems120/ems120/city"
)

// ringLowerBound is a lower bound on the distance from a point in the origin cell to any
// point of a cell k rings out. Neighbouring centres are √3·e apart (e: the edge); the cells
// of ring k have centres at least k·(3/2)·e from the origin's centre (the middle of a ring's
// side), each point of a cell lies within e of its centre, and the query point lies within e
// of the origin's centre: so (1.5k − 2)·e, with e a lower bound on the edge.
func ringLowerBound(k int, e float64) float64 {
	return (1.5*float64(k) - 2) * e
}

// ringsFor is the number of rings that covers a circle of radius r around any point of the
// origin cell: the first k with ringLowerBound(k+1) > r.
func ringsFor(r, e float64) int {
	return int(math.Ceil((r/e+2)/1.5)) - 1
}

func (x *Index) before(a, b int32) bool {
	if b < 0 {
		return true
	}
	if x.less != nil {
		return x.less(a, b)
	}
	return a < b
}

// Nearest returns the unit nearest to p (great-circle) within maxM metres (at most
// MaxSearchM) that accept admits (nil admits every unit), with its distance. Ties go to the
// smaller handle, or as the index's tie-break says.
func (x *Index) Nearest(p city.Point, maxM float64, accept func(h int32) bool) (best int32, bestM float64, ok bool) {
	x.adopt(false)
	best = -1
	if x.n == 0 {
		return best, math.Inf(1), false
	}
	maxM = min(maxM, MaxSearchM)
	q := locOf(p)
	g := x.locate(p)
	edge := x.cells.At(g).outline().edge
	maxH, bestH := city.MToHav(maxM), math.Inf(1)
	bestDist := math.Inf(1) // metres, kept in step with bestH for the ring bound
	read, visited, scan, far := 0, 0, false, false
	consider := func(h int32, pt *city.Sphere) {
		if accept != nil && !accept(h) {
			return
		}
		d := city.Hav(&q.s, pt)
		if d <= maxH && (d < bestH || d == bestH && x.before(h, best)) {
			best, bestH = h, d
		}
	}
	x.rings(g, ringsFor(maxM, edge), func(k int, ring []int32) bool {
		if ringLowerBound(k, edge) > min(bestDist, maxM) {
			return false
		}
		// Past as many cells as there are units, reading every unit is the cheaper way on
		// (a search in a sparse fleet, or far from it).
		if visited += len(ring); visited > x.n+64 {
			scan = true
			return false
		}
		if x.coarse != nil && visited > fineWalk {
			far = true
			return false
		}
		for _, c := range ring {
			m := *x.members.At(c)
			read += len(m)
			for i := range m {
				consider(m[i].h, &m[i].s)
			}
		}
		if best >= 0 {
			bestDist = city.HavToM(bestH)
		}
		return true
	})
	if far {
		x.observe(read, visited)
		return x.coarse.Nearest(p, maxM, accept)
	}
	if scan {
		for h := range x.where {
			if x.where[h].cell != 0 {
				consider(int32(h), &x.where[h].loc.s)
			}
		}
		// The cells ran out of units before the search found its answer: far too many
		// cells for the fleet, which is what the resolution should answer to.
		read, visited = x.n, 8*visited
		if best >= 0 {
			bestDist = city.HavToM(bestH)
		}
	}
	x.observe(read, visited)
	if best < 0 {
		return best, math.Inf(1), false
	}
	return best, bestDist, true
}

// Within calls fn for every unit within radiusM metres (great-circle) of p, with its
// distance. The order is unspecified.
func (x *Index) Within(p city.Point, radiusM float64, fn func(h int32, distM float64)) {
	x.adopt(false)
	if x.n == 0 {
		return
	}
	radiusM = min(radiusM, MaxSearchM)
	q := locOf(p)
	g := x.locate(p)
	maxH := city.MToHav(radiusM)
	kMax := ringsFor(radiusM, x.cells.At(g).outline().edge)
	disk := 3*kMax*(kMax+1) + 1 // the cells within kMax rings
	if disk > x.n+64 {          // more cells than units: read the units instead
		for h := range x.where {
			if x.where[h].cell != 0 {
				if d := hav(&q, &x.where[h].loc); d <= maxH {
					fn(int32(h), city.HavToM(d))
				}
			}
		}
		return
	}
	if x.coarse != nil && disk > fineWalk {
		x.coarse.Within(p, radiusM, fn)
		return
	}
	x.rings(g, kMax, func(_ int, ring []int32) bool {
		for _, c := range ring {
			m := *x.members.At(c)
			for i := range m {
				if d := city.Hav(&q.s, &m[i].s); d <= maxH {
					fn(m[i].h, city.HavToM(d))
				}
			}
		}
		return true
	})
}
