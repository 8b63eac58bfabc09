package fleetindex

import (
	"math"

	"github.com/uber/h3-go/v4"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/internal/blocks"
)

// cellGeo is what the index keeps about a cell, computed once. It holds no pointers.
type cellGeo struct {
	id    h3.Cell
	stamp uint32  // the last search that reached the cell
	edge  float64 // 0.9 × the cell's shortest edge: a lower bound on edges around it, metres
	// The outline and the neighbours live in the record itself, not in slices of their own:
	// a search walks tens of cells, and a 110,000-unit fleet has tens of thousands of cells.
	verts [6]city.Point // the outline, in order, when the cell has six vertices
	nv    uint8         // the outline's vertices (0 until first needed); other than 6: not kept
	ccw   bool          // the outline's orientation in the lat/lng plane
	nn    int8          // the neighbours in nbrs; -1 until first needed (a pentagon has 5)
	nbrs  [6]int32      // the neighbours' positions
}

// cell returns the cell's position, creating its record (without its outline) on first use.
func (x *Index) cell(c h3.Cell) int32 {
	if i, ok := x.geo[c]; ok {
		return i
	}
	i := x.cells.Add(cellGeo{id: c, nn: -1})
	x.members.Add(nil)
	x.geo[c] = i
	return i
}

// outline fills in the cell's outline and edge bound on first need.
func (g *cellGeo) outline() *cellGeo {
	if g.nv != 0 {
		return g
	}
	b := h3.CellToBoundary(g.id)
	minEdge := math.Inf(1)
	area := 0.0
	g.nv = uint8(len(b))
	for i := range b {
		j := (i + 1) % len(b)
		if len(b) == len(g.verts) {
			g.verts[i] = city.Point{Lat: b[i].Lat, Lng: b[i].Lng}
		}
		minEdge = min(minEdge, city.DistanceM(city.Point{Lat: b[i].Lat, Lng: b[i].Lng}, city.Point{Lat: b[j].Lat, Lng: b[j].Lng}))
		area += b[i].Lng*b[j].Lat - b[j].Lng*b[i].Lat
	}
	// H3 cell sizes change by well under 10% over the few dozen rings a search walks.
	g.edge = 0.9 * minEdge
	g.ccw = area > 0
	return g
}

// contains reports whether p lies in the cell, treating its edges as straight lines in the
// lat/lng plane: at 0.5 km an edge bows away from that line by millimetres, far inside the
// margins of the search bounds. A cell with a vertex on an icosahedron edge (more than six
// vertices) is not convex in that plane; it answers false and the caller asks H3.
func (g *cellGeo) contains(p city.Point) bool {
	if g.outline().nv != uint8(len(g.verts)) {
		return false
	}
	for i := range g.verts {
		a, b := g.verts[i], g.verts[(i+1)%len(g.verts)]
		cross := (b.Lng-a.Lng)*(p.Lat-a.Lat) - (b.Lat-a.Lat)*(p.Lng-a.Lng)
		if (cross < 0) == g.ccw && cross != 0 {
			return false
		}
	}
	return true
}

// neighbours returns the positions of cell i's neighbours, found on first need. The slice is
// the cell record's own.
func (x *Index) neighbours(i int32) []int32 {
	if g := x.cells.At(i); g.nn >= 0 {
		return g.nbrs[:g.nn]
	}
	return x.findNeighbours(i)
}

func (x *Index) findNeighbours(i int32) []int32 {
	g := x.cells.At(i)
	n := 0
	for _, c := range h3.GridDisk(g.id, 1) {
		if c != g.id && n < len(g.nbrs) {
			g.nbrs[n] = x.cell(c)
			n++
		}
	}
	g.nn = int8(n)
	return g.nbrs[:n]
}

// rings calls visit with the cells of each ring around g in turn — ring 0 is g, ring k the
// cells k steps away on the grid — found by stepping from each cell of the ring before to
// its neighbours not reached yet, until visit returns false or k passes kMax.
func (x *Index) rings(g int32, kMax int, visit func(k int, ring []int32) bool) {
	x.stamp++
	if x.stamp == 0 { // wrapped: clear the old marks so none looks current
		for _, b := range x.cells.Blocks() {
			for i := range b {
				b[i].stamp = 0
			}
		}
		x.stamp = 1
	}
	x.cells.At(g).stamp = x.stamp
	ring := append(x.ringA[:0], g)
	next := x.ringB[:0]
	for k := 0; k <= kMax; k++ {
		if !visit(k, ring) || k == kMax {
			break
		}
		next = next[:0]
		// neighbours(c) by hand, the cells' blocks held in a local: this is the search's inner
		// loop, and neighbours is over the inliner's budget.
		cells, stamp := x.cells.Blocks(), x.stamp
		for _, c := range ring {
			g := &cells[c>>blocks.Shift][c&blocks.Mask]
			if g.nn < 0 {
				x.findNeighbours(c)
				cells = x.cells.Blocks() // it may have more blocks
			}
			for _, n := range g.nbrs[:g.nn] {
				if m := &cells[n>>blocks.Shift][n&blocks.Mask].stamp; *m != stamp {
					*m = stamp
					next = append(next, n)
				}
			}
		}
		ring, next = next, ring
	}
	x.ringA, x.ringB = ring[:0], next[:0] // keep the buffers for the next search
}

// locate returns the position of the cell that holds p.
func (x *Index) locate(p city.Point) int32 {
	key := [2]int32{int32(math.Floor(p.Lat / x.gridQ)), int32(math.Floor(p.Lng / x.gridQ))}
	if i, ok := x.grid[key]; ok && x.cells.At(i).contains(p) {
		return i
	}
	i := x.cell(h3.LatLngToCell(h3.NewLatLng(p.Lat, p.Lng), x.res))
	x.grid[key] = i
	return i
}
