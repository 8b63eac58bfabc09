package dispatch

import (
	"math"

	"github.com/uber/h3-go/v4"

	"github.com/ems120/ems120/city"
)

// IndexResolution is the H3 resolution of the fleet index, chosen by measurement
// (BenchmarkIndexResolution; the table is in BENCHMARKS.md). At Wuhan's latitude a
// resolution-7 cell has 1.2 km edges and 4.4 km²; the 5 km circle is 3–4 rings. From 500 to
// 10,000 units it is the fastest resolution for all three operations that matter — the
// dispatcher's 5 km candidate search (Within), pings (Update: a driving unit rarely leaves so
// large a cell) and nearest-unit queries — and at 100,000 units still the fastest for Within
// and Update; only the nearest-unit query is faster there at resolution 8 (12 µs against
// 36 µs), and the dispatcher does not use it on its hot path. Resolutions 6 and 9 lose
// across the board at 10,000 units.
const IndexResolution = 7

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
// blocks and refer to each other, and units to their cells, by position. The garbage
// collector marks a 110,000-unit fleet's index at every cycle of a load test, and with a
// pointer per cell and per unit it was a third of what it had to scan (BenchmarkFullGC).
//
// An Index is not safe for concurrent use.
type Index struct {
	res  int
	less func(a, b int32) bool // tie-break between equally near units; nil: the smaller handle
	n    int
	// Adaptive resolution (NewAdaptiveIndex): the units a nearest-unit search reads, averaged
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
	cells   blocks[cellGeo]
	members blocks[[]member]
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
	// meanwhile: a search or an update never waits for a rebuild (a quarter of a second
	// for 100,000 units, and the cells' outlines and neighbours computed afresh).
	next    chan *Index // the rebuild in progress; nil when none
	touched []int32     // units updated or removed since the rebuild's copy was taken
	// coarse holds the same units on cells of the starting resolution while an adaptive
	// index is finer than that. A search that has walked fineWalk fine cells without its
	// answer goes on there: at resolution 10 a 5 km circle is 7,600 cells and a 20 km one
	// 120,000, each created on first need, and a load test's calls far from any unit of the
	// kind they ask for spent up to half a second each walking them.
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
	i := x.cells.add(cellGeo{id: c, nn: -1})
	x.members.add(nil)
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
	if g := x.cells.at(i); g.nn >= 0 {
		return g.nbrs[:g.nn]
	}
	return x.findNeighbours(i)
}

func (x *Index) findNeighbours(i int32) []int32 {
	g := x.cells.at(i)
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
		for _, b := range x.cells.b {
			for i := range b {
				b[i].stamp = 0
			}
		}
		x.stamp = 1
	}
	x.cells.at(g).stamp = x.stamp
	ring := append(x.ringA[:0], g)
	next := x.ringB[:0]
	for k := 0; k <= kMax; k++ {
		if !visit(k, ring) || k == kMax {
			break
		}
		next = next[:0]
		// neighbours(c) by hand, the cells' blocks held in a local: this is the search's inner
		// loop, and neighbours is over the inliner's budget.
		cells, stamp := x.cells.b, x.stamp
		for _, c := range ring {
			g := &cells[c>>blockShift][c&blockMask]
			if g.nn < 0 {
				x.findNeighbours(c)
				cells = x.cells.b // it may have more blocks
			}
			for _, n := range g.nbrs[:g.nn] {
				if m := &cells[n>>blockShift][n&blockMask].stamp; *m != stamp {
					*m = stamp
					next = append(next, n)
				}
			}
		}
		ring, next = next, ring
	}
	x.ringA, x.ringB = ring[:0], next[:0] // keep the buffers for the next search
}

// NewIndex returns an empty index at the given H3 resolution.
func NewIndex(res int) *Index {
	x := &Index{}
	x.setRes(res)
	return x
}

func (x *Index) setRes(res int) {
	x.res = res
	x.cells, x.members = blocks[cellGeo]{}, blocks[[]member]{}
	x.cells.add(cellGeo{}) // position 0: no cell
	x.members.add(nil)
	x.geo = make(map[h3.Cell]int32)
	x.grid = make(map[[2]int32]int32)
	// A quarter of an edge: most squares lie inside one cell.
	x.gridQ = h3.HexagonEdgeLengthAvgM(res) / 4 / 111_195
}

// locate returns the position of the cell that holds p.
func (x *Index) locate(p city.Point) int32 {
	key := [2]int32{int32(math.Floor(p.Lat / x.gridQ)), int32(math.Floor(p.Lng / x.gridQ))}
	if i, ok := x.grid[key]; ok && x.cells.at(i).contains(p) {
		return i
	}
	i := x.cell(h3.LatLngToCell(h3.NewLatLng(p.Lat, p.Lng), x.res))
	x.grid[key] = i
	return i
}

// Adaptive resolution: a search costs a little for each cell it visits and a little more for
// each unit it reads. When searches read many more units than they visit cells
// (readsPerVisit×, plus a floor for small searches), the index moves one resolution finer;
// when they visit many more cells than they read units, one coarser (not below where it
// started). One step changes that ratio about sevenfold, less than the readsPerVisit² gap
// between the two thresholds, so the resolution cannot flap between two steps.
const (
	readsPerVisit  = 4
	adaptFloor     = 32
	maxAdaptiveRes = 10
	adaptEvery     = 1024 // searches between checks
	crowdedCell    = 8    // units an occupied cell, on average, that makes loading refine at once
)

// NewStationIndex indexes stations by their position in the slice: Nearest returns the
// index of the nearest station.
func NewStationIndex(stations []city.Station) *Index {
	x := NewIndex(IndexResolution)
	for i, st := range stations {
		x.Update(int32(i), st.Point)
	}
	return x
}

// NewAdaptiveIndex returns an empty index that starts at res and changes resolution with the
// density its searches meet: a city's few hundred units and a load test's hundred thousand,
// crowded into the same centre, both get cells that hold a handful each.
func NewAdaptiveIndex(res int) *Index {
	x := NewIndex(res)
	x.adaptive, x.baseRes = true, res
	return x
}

// Resolution is the index's current H3 resolution.
func (x *Index) Resolution() int { return x.res }

// observe records how many units a search read and how many cells it visited and, every
// adaptEvery searches, changes the resolution if the averages say so.
func (x *Index) observe(read, visited int) {
	if !x.adaptive {
		return
	}
	const alpha = 1.0 / 256
	x.read += alpha * (float64(read) - x.read)
	x.visits += alpha * (float64(visited) - x.visits)
	x.searches++
	if x.searches-x.lastRebuild < adaptEvery {
		return
	}
	switch {
	case x.read > readsPerVisit*x.visits+adaptFloor && x.res < maxAdaptiveRes:
		x.rebuild(x.res + 1)
	case x.visits > readsPerVisit*x.read+adaptFloor && x.res > x.baseRes:
		x.rebuild(x.res - 1)
	default:
		x.lastRebuild = x.searches - adaptEvery/2 // look again soon, not at every search
	}
}

// crowded reports whether the units, on average, crowd the occupied cells past what a
// search should read: more than crowdedCell an occupied cell.
func (x *Index) crowded() bool {
	return x.adaptive && x.n > crowdedCell*x.occupied && x.res < maxAdaptiveRes
}

// rebuild starts moving every unit to cells of another resolution, in the background (see
// Index.next); a no-op while another rebuild is in progress. O(units), rare.
func (x *Index) rebuild(res int) {
	if x.next != nil {
		return
	}
	type unit struct {
		h int32
		p city.Point
	}
	units := make([]unit, 0, x.n)
	for h := range x.where {
		if x.where[h].cell != 0 {
			units = append(units, unit{int32(h), x.where[h].loc.p})
		}
	}
	next := make(chan *Index, 1)
	x.next, x.touched = next, x.touched[:0]
	go func() {
		nx := NewIndex(res)
		for _, u := range units {
			nx.Update(u.h, u.p)
		}
		nx.warm()
		next <- nx
	}()
}

// warm computes the outline and the neighbours of every occupied cell, which searches
// around it will ask for.
func (x *Index) warm() {
	for i := range x.cells.n { // the cells created meanwhile hold no units
		if len(*x.members.at(i)) > 0 {
			x.cells.at(i).outline()
			x.neighbours(i)
		}
	}
}

// adopt takes over a finished rebuild (waiting for it when wait is set), after replaying
// the changes made since its copy was taken.
func (x *Index) adopt(wait bool) {
	if x.next == nil { // the usual case: this stays small enough to inline
		return
	}
	x.adoptNext(wait)
}

func (x *Index) adoptNext(wait bool) {
	var nx *Index
	if wait {
		nx = <-x.next
	} else {
		select {
		case nx = <-x.next:
		default:
			return
		}
	}
	for _, h := range x.touched {
		if x.Contains(h) {
			nx.Update(h, x.where[h].loc.p)
		} else {
			nx.Remove(h)
		}
	}
	nx.less, nx.adaptive, nx.baseRes = x.less, x.adaptive, x.baseRes
	switch {
	case nx.res == x.baseRes:
		nx.coarse = nil
	case x.coarse != nil:
		nx.coarse = x.coarse
	default: // x is at the starting resolution and up to date: it becomes the coarse level
		old := *x
		old.adaptive, old.next, old.touched = false, nil, nil
		nx.coarse = &old
	}
	nx.searches, nx.lastRebuild = x.searches, x.searches
	nx.touched = x.touched[:0]
	*x = *nx
}

// Settle waits for a change of resolution in progress and adopts it, and refines the cells
// until the units no longer crowd them: a fleet loaded in bulk starts at the resolution it
// needs, with its cells' outlines and neighbours already computed.
func (x *Index) Settle() {
	for {
		x.adopt(true)
		if !x.crowded() {
			return
		}
		x.rebuild(x.res + 1)
	}
}

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
		if x.cells.at(s.cell).contains(p) {
			(*x.members.at(s.cell))[s.pos].s = s.loc.s // same cell
			return
		}
		for _, n := range x.neighbours(s.cell) {
			if x.cells.at(n).contains(p) {
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
		(*x.members.at(g))[s.pos].s = s.loc.s
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
	m := x.members.at(g)
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
	mp := x.members.at(s.cell)
	m := *mp
	n := len(m) - 1
	m[s.pos] = m[n]
	x.where[m[n].h].pos = s.pos
	*mp = m[:n]
	if n == 0 {
		x.occupied--
	}
}

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
	edge := x.cells.at(g).outline().edge
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
			m := *x.members.at(c)
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
	kMax := ringsFor(radiusM, x.cells.at(g).outline().edge)
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
			m := *x.members.at(c)
			for i := range m {
				if d := city.Hav(&q.s, &m[i].s); d <= maxH {
					fn(m[i].h, city.HavToM(d))
				}
			}
		}
		return true
	})
}
