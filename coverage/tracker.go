package coverage

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ems120/ems120/city"
)

// Tracker keeps the coverage of a service area by the available units up to date. Set,
// Remove and SetTime change only the cells within the unit's reach (a few hundred at most);
// the covered and double-covered demand are kept as running sums, so Summary is O(1).
//
// A Tracker is not safe for concurrent use.
type Tracker struct {
	cells  []Cell
	ctr    []city.Sphere // cell centres on the unit sphere, for the haversine without trigonometry
	index  map[h3.Cell]int32
	res    int
	model  city.TravelModel
	at     time.Time // the time of day the reach is computed for
	hour   int
	radius float64 // reach radius when the model is linear; 0 otherwise
	reach  []int32
	// The units by id, as positions in tracked; the records of removed units are reused.
	// Positions rather than pointers: a load test tracks 110,000 units, and the garbage
	// collector marks the tracker at every cycle.
	units   map[string]int32
	tracked []tracked
	free    []int32
	one     float64             // demand with reach ≥ 1
	two     float64             // demand with reach ≥ 2
	disks   map[h3.Cell][]int32 // area cells around an origin cell that may be in reach
	edge    float64             // lower bound on a cell edge here, metres
}

type tracked struct {
	pos   city.Point
	cells []int32 // the area cells it reaches
}

// NewTracker returns a tracker of cells with no units, reach computed for time at.
func NewTracker(cells []Cell, m city.TravelModel, at time.Time) *Tracker {
	t := &Tracker{cells: cells, index: make(map[h3.Cell]int32, len(cells)), model: m,
		reach: make([]int32, len(cells)), units: map[string]int32{}, disks: map[h3.Cell][]int32{},
		ctr: make([]city.Sphere, len(cells))}
	minEdge := math.Inf(1)
	for i, c := range cells {
		t.ctr[i] = c.Center.OnSphere()
		t.index[c.ID] = int32(i)
		t.res = c.ID.Resolution()
		if i%97 == 0 { // a sample of the area's cells for the edge bound
			b := h3.CellToBoundary(c.ID)
			for j := range b {
				k := (j + 1) % len(b)
				minEdge = min(minEdge, city.DistanceM(city.Point{Lat: b[j].Lat, Lng: b[j].Lng}, city.Point{Lat: b[k].Lat, Lng: b[k].Lng}))
			}
		}
	}
	// Cell sizes vary by a few percent across a city; 0.9 × the smallest sampled edge is a
	// safe lower bound for the ring arithmetic below.
	t.edge = 0.9 * minEdge
	t.setTime(at)
	return t
}

func (t *Tracker) setTime(at time.Time) {
	t.at = at
	t.hour = at.Hour()
	t.radius, _ = reachRadius(t.model, at) // 0 for a model that is not linear: ETA per cell
}

// SetTime moves the tracker's clock; when the hour (and so the travel speeds) changes, every
// unit's reach is computed again.
func (t *Tracker) SetTime(at time.Time) {
	prev := t.radius
	hourChanged := at.Hour() != t.hour
	t.setTime(at)
	if hourChanged || t.radius != prev {
		t.Recompute()
	}
}

// Cells returns the service area.
func (t *Tracker) Cells() []Cell { return t.cells }

// Reach returns how many available units reach cell i.
func (t *Tracker) Reach(i int) int { return int(t.reach[i]) }

// Units is the number of units tracked.
func (t *Tracker) Units() int { return len(t.units) }

// UnitIDs returns the ids of the units tracked, in no particular order (MoveUps orders its
// idle list itself).
func (t *Tracker) UnitIDs() []string {
	return slices.Collect(maps.Keys(t.units))
}

// Summary returns the demand-weighted coverage and double coverage, in percent.
func (t *Tracker) Summary() (coveragePct, doublePct float64) {
	return 100 * t.one, 100 * t.two
}

// unit returns the record of a tracked unit, or nil. It is valid until the next Set.
func (t *Tracker) unit(unitID string) *tracked {
	if i, ok := t.units[unitID]; ok {
		return &t.tracked[i]
	}
	return nil
}

// Set puts an available unit at p (adding it or moving it).
func (t *Tracker) Set(unitID string, p city.Point) {
	u := t.unit(unitID)
	if u == nil {
		var i int32
		if n := len(t.free); n > 0 {
			i, t.free = t.free[n-1], t.free[:n-1]
		} else {
			i = int32(len(t.tracked))
			t.tracked = append(t.tracked, tracked{})
		}
		t.units[unitID] = i
		u = &t.tracked[i]
	} else {
		if u.pos == p {
			return
		}
		t.apply(u.cells, -1)
	}
	u.pos = p
	u.cells = t.reachable(p, u.cells[:0])
	t.apply(u.cells, +1)
}

// Remove takes a unit out (busy, out of service, gone); a no-op for an unknown unit.
func (t *Tracker) Remove(unitID string) {
	i, ok := t.units[unitID]
	if !ok {
		return
	}
	u := &t.tracked[i]
	t.apply(u.cells, -1)
	u.cells = u.cells[:0] // kept for the record's next unit
	delete(t.units, unitID)
	t.free = append(t.free, i)
}

// Recompute rebuilds every count from the units' positions.
func (t *Tracker) Recompute() {
	clear(t.reach)
	t.one, t.two = 0, 0
	for _, i := range t.units {
		u := &t.tracked[i]
		u.cells = t.reachable(u.pos, u.cells[:0])
		t.apply(u.cells, +1)
	}
}

func (t *Tracker) apply(cells []int32, delta int32) {
	for _, i := range cells {
		before := t.reach[i]
		after := before + delta
		t.reach[i] = after
		w := t.cells[i].Demand
		switch {
		case before == 0 && after == 1:
			t.one += w
		case before == 1 && after == 0:
			t.one -= w
		case before == 1 && after == 2:
			t.two += w
		case before == 2 && after == 1:
			t.two -= w
		}
	}
}

// reachable appends the indexes of the area cells whose centres a unit at p reaches. With a
// linear model the reach is a circle, compared as a haversine on the unit sphere (city.Hav:
// no trigonometry per cell, which was most of a unit's move at 100,000 pings a second);
// otherwise every cell within 5 km gets its ETA.
func (t *Tracker) reachable(p city.Point, out []int32) []int32 {
	origin := h3.LatLngToCell(h3.NewLatLng(p.Lat, p.Lng), t.res)
	q := p.OnSphere()
	if t.radius > 0 {
		lim := city.MToHav(t.radius)
		for _, i := range t.disk(origin) {
			if city.Hav(&q, &t.ctr[i]) <= lim {
				out = append(out, i)
			}
		}
		return out
	}
	lim := city.MToHav(StandardRadiusM)
	for _, i := range t.disk(origin) {
		if city.Hav(&q, &t.ctr[i]) <= lim && city.ETA(t.model, p, t.cells[i].Center, t.at, 1) <= StandardETA {
			out = append(out, i)
		}
	}
	return out
}

// disk returns the area cells around an origin cell that a point in it may reach: the rings
// out to where ring k's nearest point is beyond 5 km. Ring k of a hexagonal grid has centres
// at least 1.5·k·e from the origin's centre (e: edge), and each point lies within e of its
// centre, so cells past (1.5k − 2)·e > 5 km cannot hold a reached centre. Cached per origin.
func (t *Tracker) disk(origin h3.Cell) []int32 {
	if d, ok := t.disks[origin]; ok {
		return d
	}
	k := int(math.Ceil((StandardRadiusM/t.edge+2)/1.5)) - 1
	var d []int32
	for _, c := range h3.GridDisk(origin, k) {
		if i, ok := t.index[c]; ok {
			d = append(d, i)
		}
	}
	slices.Sort(d)
	t.disks[origin] = d
	return d
}

// Move is one piece of move-up advice: send an idle unit to a station.
type Move struct {
	UnitID      string  `json:"unit_id"`
	ToStation   string  `json:"to_station"`
	GainPct     float64 `json:"gain_pct"`        // covered demand gained, percentage points
	GainDoubled float64 `json:"double_gain_pct"` // double-covered demand gained (the tie-breaker)
}

// MoveUps recommends up to maxMoves moves of idle units to stations that regain the most
// covered demand: greedy maximal covering, one move at a time, each the best for the city as
// the earlier moves left it; ties go to the larger double-coverage gain, then to the unit and
// station ids. Moves stop when none gains or coverage reaches targetPct. idle lists the units
// that may move (available and at rest); a unit moves at most once.
func (t *Tracker) MoveUps(idle []string, stations []city.Station, maxMoves int, targetPct float64) []Move {
	reach := slices.Clone(t.reach)
	one := t.one
	stationCells := make([][]int32, len(stations))
	for i, s := range stations {
		stationCells[i] = t.reachable(s.Point, nil)
	}
	moved := map[string]bool{}
	var moves []Move
	idle = slices.Clone(idle)
	slices.Sort(idle)
	for len(moves) < maxMoves && 100*one < targetPct {
		best, bestGain, bestDouble := -1, 0.0, 0.0
		bestUnit := ""
		for _, id := range idle {
			u := t.unit(id)
			if u == nil || moved[id] {
				continue
			}
			for si, sc := range stationCells {
				g, g2 := gain(t.cells, reach, u.cells, sc)
				if g > bestGain+1e-12 || (math.Abs(g-bestGain) <= 1e-12 && g > 0 && g2 > bestDouble+1e-12) {
					best, bestGain, bestDouble, bestUnit = si, g, g2, id
				}
			}
		}
		if best < 0 {
			break
		}
		u := t.unit(bestUnit)
		for _, i := range u.cells {
			reach[i]--
		}
		for _, i := range stationCells[best] {
			reach[i]++
		}
		one += bestGain
		moved[bestUnit] = true
		moves = append(moves, Move{UnitID: bestUnit, ToStation: stations[best].ID, GainPct: 100 * bestGain, GainDoubled: 100 * bestDouble})
	}
	return moves
}

// gain is what moving a unit from the cells `from` to the cells `to` does to covered and
// double-covered demand, given the reach counts (which include the unit at `from`). Both
// lists are sorted.
func gain(cells []Cell, reach []int32, from, to []int32) (g1, g2 float64) {
	i, j := 0, 0
	for i < len(from) || j < len(to) {
		switch {
		case j == len(to) || i < len(from) && from[i] < to[j]: // lost
			c := from[i]
			if reach[c] == 1 {
				g1 -= cells[c].Demand
			} else if reach[c] == 2 {
				g2 -= cells[c].Demand
			}
			i++
		case i == len(from) || to[j] < from[i]: // gained
			c := to[j]
			if reach[c] == 0 {
				g1 += cells[c].Demand
			} else if reach[c] == 1 {
				g2 += cells[c].Demand
			}
			j++
		default: // in both: unchanged
			i++
			j++
		}
	}
	return g1, g2
}

// AtStations is the coverage of the city at time when with its whole fleet available, each
// unit at its station: the planning view of `ems120 coverage`.
func AtStations(c *city.City, m city.TravelModel, when time.Time) *Tracker {
	t := NewTracker(ServiceArea(c, Resolution), m, when)
	for _, u := range c.Fleet {
		st, _ := c.Station(u.Station)
		t.Set(u.ID, st.Point)
	}
	return t
}

// AtTimeOfDay is the time hhmm ("HH:MM") on a fixed weekday in the city's time zone: the
// hour of day sets the travel speeds.
func AtTimeOfDay(c *city.City, hhmm string) (time.Time, error) {
	hm, err := time.Parse("15:04", hhmm)
	if err != nil {
		return time.Time{}, fmt.Errorf("time of day %q: want HH:MM", hhmm)
	}
	loc := c.Location()
	return time.Date(2026, 11, 28, hm.Hour(), hm.Minute(), 0, 0, loc), nil
}
