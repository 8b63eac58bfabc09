package fleetindex

import "github.com/ems120/ems120/city"

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

// NewAdaptive returns an empty index that starts at res and changes resolution with the
// density its searches meet: a city's few hundred units and a load test's hundred thousand,
// crowded into the same centre, both get cells that hold a handful each.
func NewAdaptive(res int) *Index {
	x := New(res)
	x.adaptive, x.baseRes = true, res
	return x
}

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
		nx := New(res)
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
	for i := range x.cells.Len() { // the cells created meanwhile hold no units
		if len(*x.members.At(i)) > 0 {
			x.cells.At(i).outline()
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
