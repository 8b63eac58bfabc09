// Package fleetindex is a spatial index of moving units on H3 cells: O(1) position updates,
// nearest-unit and within-a-radius searches, and an adaptive resolution that follows the
// density its searches meet. The dispatch engine keeps its dispatchable units in one; it
// knows nothing of dispatch rules.
package fleetindex

import (
	"github.com/uber/h3-go/v4"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/internal/blocks"
)

// DefaultResolution is the H3 resolution an index starts at, chosen by measurement
// (BenchmarkIndexResolution; the table is in BENCHMARKS.md). At Wuhan's latitude a
// resolution-7 cell has 1.2 km edges and 4.4 km²; the 5 km circle is 3–4 rings. For a city's
// fleet (500 to 10,000 units) it is the fastest resolution for searches and pings alike; an
// adaptive index moves to finer cells from there when its searches meet a crowded fleet.
const DefaultResolution = 7

// MaxSearchM caps a search radius: an ambulance 200 km away is no answer.
const MaxSearchM = 200_000

// Index is a spatial index of units on H3 cells. Units are dense int32 handles given by the
// caller. Update and Remove are O(1), and an update that stays in the unit's cell or moves to
// a neighbouring one (a driving unit's 30-second ping, almost always) is settled in Go
// against the cells' cached outlines, without calling into the H3 C library. Nearest walks
// rings outwards from the query's cell and stops as soon as no farther ring can hold a closer
// unit; Within visits the disk that covers a circle. Cells hold their units and know their
// neighbours, so a search walks from cell to cell by position: no map lookup and no call into
// H3 per cell visited. A search that walks fineWalk cells of an index refined for a crowded
// fleet without its answer goes on at the coarse level (Index.coarse).
//
// The index holds no pointers but one per occupied cell (its units): the cells live in
// blocks and refer to each other, and units to their cells, by position, so the garbage
// collector, which marks the index at every cycle, has little of it to trace
// (TestIndexRecordsHoldNoPointers; BenchmarkFullGC in loadtest).
//
// An Index is not safe for concurrent use.
type Index struct {
	res  int
	less func(a, b int32) bool // tie-break between equally near units; nil: the smaller handle
	n    int
	// Adaptive resolution (NewAdaptive): the units a nearest-unit search reads, averaged
	// over recent searches; too many and the index moves to finer cells, very few (and finer
	// than it started) to coarser ones.
	adaptive    bool
	baseRes     int
	read        float64 // moving average of units read per search
	visits      float64 // moving average of cells visited per search
	searches    int
	lastRebuild int
	occupied    int    // cells holding at least one unit
	where       []slot // by handle
	// The cells by position (0 is no cell), their units in step, and their positions by
	// id. A search creates the cells it reaches: a load test's index at resolution 10 has
	// 600,000 of them.
	cells   blocks.List[cellGeo]
	members blocks.List[[]member]
	geo     map[h3.Cell]int32
	stamp   uint32 // the current search's mark on the cells it has reached
	ringA   []int32
	ringB   []int32
	// grid remembers the cell found for each square of a lat/lng grid finer than the cells
	// (gridQ degrees a side), so that finding a query's cell is a map lookup and a
	// point-in-hexagon test instead of a call into the H3 C library.
	grid  map[[2]int32]int32
	gridQ float64
	// A change of resolution is built in the background from a copy of the positions and
	// adopted by the next call into the index, which first replays on it the units changed
	// meanwhile: a search or an update never waits for a rebuild, which for 100,000 units
	// computes tens of thousands of cells' outlines and neighbours afresh.
	next    chan *Index // the rebuild in progress; nil when none
	touched []int32     // units updated or removed since the rebuild's copy was taken
	// coarse holds the same units on cells of the starting resolution while an adaptive
	// index is finer than that. A search that has walked fineWalk fine cells without its
	// answer goes on there: at resolution 10 a 5 km circle is 7,600 cells and a 20 km one
	// 120,000, each created on first need (TestFarSearchGoesCoarse).
	coarse *Index
}

// fineWalk is the number of fine cells a search walks before it goes on at the coarse
// resolution (Index.coarse): 18 rings, 1.8 km at resolution 10, 4.9 km at 9.
const fineWalk = 1024

type slot struct {
	cell int32 // 0 when absent
	pos  int32 // position in the cell's members
	loc  loc
}

// member is a unit in a cell, with its point: a search reads a cell in one sweep.
type member struct {
	s city.Sphere
	h int32
}

// loc is a position with its point on the unit sphere.
type loc struct {
	p city.Point
	s city.Sphere
}

func locOf(p city.Point) loc { return loc{p: p, s: p.OnSphere()} }

func hav(a, b *loc) float64 { return city.Hav(&a.s, &b.s) }

// New returns an empty index at the given H3 resolution.
func New(res int) *Index {
	x := &Index{}
	x.setRes(res)
	return x
}

func (x *Index) setRes(res int) {
	x.res = res
	x.cells, x.members = blocks.List[cellGeo]{}, blocks.List[[]member]{}
	x.cells.Add(cellGeo{}) // position 0: no cell
	x.members.Add(nil)
	x.geo = make(map[h3.Cell]int32)
	x.grid = make(map[[2]int32]int32)
	// A quarter of an edge: most squares lie inside one cell.
	x.gridQ = h3.HexagonEdgeLengthAvgM(res) / 4 / 111_195
}

// SetTieBreak orders equally near units for Nearest: less(a, b) reports whether a goes first.
// Without one the smaller handle does.
func (x *Index) SetTieBreak(less func(a, b int32) bool) { x.less = less }

// Resolution is the index's current H3 resolution.
func (x *Index) Resolution() int { return x.res }

// Len is the number of units in the index.
func (x *Index) Len() int { return x.n }

// Update puts unit h at p, adding it if absent.
func (x *Index) Update(h int32, p city.Point) {
	x.adopt(false)
	if x.coarse != nil {
		x.coarse.Update(h, p)
	}
	if x.next != nil {
		x.touched = append(x.touched, h)
	}
	for int(h) >= len(x.where) {
		x.where = append(x.where, slot{})
	}
	s := &x.where[h]
	s.loc = locOf(p)
	if s.cell != 0 {
		if x.cells.At(s.cell).contains(p) {
			(*x.members.At(s.cell))[s.pos].s = s.loc.s // same cell
			return
		}
		for _, n := range x.neighbours(s.cell) {
			if x.cells.At(n).contains(p) {
				x.move(h, n)
				return
			}
		}
	}
	x.move(h, x.locate(p))
}

func (x *Index) move(h int32, g int32) {
	s := &x.where[h]
	if s.cell == g {
		(*x.members.At(g))[s.pos].s = s.loc.s
		return
	}
	if s.cell != 0 {
		x.unlink(h)
	} else {
		x.n++
		// A fleet loaded in bulk gets fine enough cells before the first search: more than
		// crowdedCell units an occupied cell on average is past what searches should read.
		if x.n%4096 == 0 && x.crowded() {
			defer x.rebuild(x.res + 1)
		}
	}
	m := x.members.At(g)
	if len(*m) == 0 {
		x.occupied++
	}
	s.cell, s.pos = g, int32(len(*m))
	*m = append(*m, member{s: s.loc.s, h: h})
}

// Remove takes unit h out of the index; it is a no-op when h is absent.
func (x *Index) Remove(h int32) {
	x.adopt(false)
	if x.coarse != nil {
		x.coarse.Remove(h)
	}
	if int(h) >= len(x.where) || x.where[h].cell == 0 {
		return
	}
	if x.next != nil {
		x.touched = append(x.touched, h)
	}
	x.unlink(h)
	x.where[h].cell = 0
	x.n--
}

// Contains reports whether unit h is in the index.
func (x *Index) Contains(h int32) bool {
	return int(h) < len(x.where) && x.where[h].cell != 0
}

func (x *Index) unlink(h int32) {
	s := x.where[h]
	mp := x.members.At(s.cell)
	m := *mp
	n := len(m) - 1
	m[s.pos] = m[n]
	x.where[m[n].h].pos = s.pos
	*mp = m[:n]
	if n == 0 {
		x.occupied--
	}
}
