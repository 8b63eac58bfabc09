package dispatch

import (
	"math"

	"github.com/uber/h3-go/v4"

	"github.com/ems120/ems120/city"
)

// IndexResolution is the H3 resolution of the fleet index. At resolution 7 a cell's edge is
// about 1.2 km, so the 5 km circle is a disk of k = 3 (37 cells) and a city's fleet spreads
// over a few hundred cells: a query reads few cells, each with few units.
const IndexResolution = 7

// Index is a spatial index of units on H3 cells. Units are dense int32 handles given by the
// caller. Update and Remove are O(1); Within visits only the cells of an H3 disk that covers
// the search circle.
type Index struct {
	res     int
	spacing float64 // a lower bound on the distance between neighbouring cell centres, metres
	cells   map[h3.Cell][]int32
	where   []slot // by handle
}

type slot struct {
	cell h3.Cell // 0 when absent
	pos  int32   // position in cells[cell]
	p    city.Point
}

// NewIndex returns an empty index at the given H3 resolution.
func NewIndex(res int) *Index {
	// Neighbouring hexagon centres are √3 × edge apart; edges vary over the globe by less
	// than ±40% of the average, so 0.6 × average keeps the bound on the safe side.
	edge := h3.HexagonEdgeLengthAvgM(res) * 0.6
	return &Index{res: res, spacing: math.Sqrt(3) * edge, cells: make(map[h3.Cell][]int32)}
}

// Len is the number of units in the index.
func (x *Index) Len() int {
	n := 0
	for _, c := range x.cells {
		n += len(c)
	}
	return n
}

// Update puts unit h at p, adding it if absent.
func (x *Index) Update(h int32, p city.Point) {
	for int(h) >= len(x.where) {
		x.where = append(x.where, slot{})
	}
	cell := h3.LatLngToCell(h3.NewLatLng(p.Lat, p.Lng), x.res)
	s := &x.where[h]
	s.p = p
	if s.cell == cell {
		return
	}
	if s.cell != 0 {
		x.unlink(h)
	}
	list := x.cells[cell]
	s.cell, s.pos = cell, int32(len(list))
	x.cells[cell] = append(list, h)
}

// Remove takes unit h out of the index; it is a no-op when h is absent.
func (x *Index) Remove(h int32) {
	if int(h) >= len(x.where) || x.where[h].cell == 0 {
		return
	}
	x.unlink(h)
	x.where[h].cell = 0
}

// Contains reports whether unit h is in the index.
func (x *Index) Contains(h int32) bool {
	return int(h) < len(x.where) && x.where[h].cell != 0
}

func (x *Index) unlink(h int32) {
	s := x.where[h]
	list := x.cells[s.cell]
	last := list[len(list)-1]
	list[s.pos] = last
	x.where[last].pos = s.pos
	list = list[:len(list)-1]
	if len(list) == 0 {
		delete(x.cells, s.cell)
	} else {
		x.cells[s.cell] = list
	}
}

// Within calls fn for every unit within radiusM metres (great-circle) of p, with its
// distance. The order is unspecified.
func (x *Index) Within(p city.Point, radiusM float64, fn func(h int32, distM float64)) {
	origin := h3.LatLngToCell(h3.NewLatLng(p.Lat, p.Lng), x.res)
	// A point at distance d from p lies in a cell whose centre is at most d + one cell
	// radius away, i.e. within ceil(d/spacing)+1 rings of p's cell.
	k := int(math.Ceil(radiusM/x.spacing)) + 1
	for _, c := range h3.GridDisk(origin, k) {
		for _, h := range x.cells[c] {
			if d := city.DistanceM(p, x.where[h].p); d <= radiusM {
				fn(h, d)
			}
		}
	}
}
