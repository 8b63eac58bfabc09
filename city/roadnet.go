package city

import (
	"bufio"
	"compress/gzip"
	"container/heap"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Travel modes of a road network.
const (
	ModeLightsAndSirens = 0
	ModeRegular         = 1
)

// RoadNetwork is a directed road graph with a travel time per arc and mode, read from a JEMSS
// city model (nodes.csv.gz, arcs.csv.gz, travel_1.csv). It implements TravelModel with
// shortest-time paths, so it can replace the straight-line model where a network exists; one
// Dijkstra search per query makes it a tool for measurement and planning, not for the
// dispatcher's hot path.
type RoadNetwork struct {
	nodes      []Point
	access     []bool  // the node connects to off-road positions
	adj        [][]arc // outgoing arcs by node
	offRoadKmh [2]float64
	grid       map[[2]int32][]int32 // access nodes by 0.01° cell, for the nearest-node search
}

type arc struct {
	to  int32
	km  float64
	min [2]float64 // minutes by mode
}

// LoadJEMSS reads a JEMSS road network from dir.
func LoadJEMSS(dir string) (*RoadNetwork, error) {
	r := &RoadNetwork{grid: map[[2]int32][]int32{}}
	nodes, err := readJEMSSTable(filepath.Join(dir, "nodes.csv.gz"), "nodes")
	if err != nil {
		return nil, err
	}
	r.nodes = make([]Point, len(nodes))
	r.access = make([]bool, len(nodes))
	for _, row := range nodes {
		i, x, y, acc, err := parse4(row)
		if err != nil || i < 1 || int(i) > len(nodes) {
			return nil, fmt.Errorf("nodes: bad row %v", row)
		}
		r.nodes[int(i)-1] = Point{Lat: y, Lng: x}
		r.access[int(i)-1] = acc == 1
		if acc == 1 {
			k := gridKey(Point{Lat: y, Lng: x})
			r.grid[k] = append(r.grid[k], int32(i)-1)
		}
	}
	arcs, err := readJEMSSTable(filepath.Join(dir, "arcs.csv.gz"), "arcs")
	if err != nil {
		return nil, err
	}
	r.adj = make([][]arc, len(r.nodes))
	for _, row := range arcs {
		if len(row) < 6 {
			return nil, fmt.Errorf("arcs: bad row %v", row)
		}
		var v [5]float64
		for j := range v {
			if v[j], err = strconv.ParseFloat(row[j+1], 64); err != nil {
				return nil, fmt.Errorf("arcs: bad row %v", row)
			}
		}
		from, to := int(v[0])-1, int(v[1])-1
		if from < 0 || to < 0 || from >= len(r.nodes) || to >= len(r.nodes) {
			return nil, fmt.Errorf("arcs: node out of range in %v", row)
		}
		// JEMSS times are in days.
		r.adj[from] = append(r.adj[from], arc{to: int32(to), km: v[2], min: [2]float64{v[3] * 1440, v[4] * 1440}})
	}
	// Off-road speeds: travel_1.csv, "travelModeIndex,offRoadSpeed" in km/day.
	r.offRoadKmh = [2]float64{45, 31}
	if rows, err := readJEMSSTable(filepath.Join(dir, "travel_1.csv"), "travelModes"); err == nil {
		for _, row := range rows {
			m, err1 := strconv.Atoi(row[0])
			sp, err2 := strconv.ParseFloat(row[1], 64)
			if err1 == nil && err2 == nil && m >= 1 && m <= 2 {
				r.offRoadKmh[m-1] = sp / 24
			}
		}
	}
	return r, nil
}

func parse4(row []string) (a, b, c, d float64, err error) {
	if len(row) < 4 {
		return 0, 0, 0, 0, fmt.Errorf("short row")
	}
	var v [4]float64
	for j := range v {
		if v[j], err = strconv.ParseFloat(row[j], 64); err != nil {
			return
		}
	}
	return v[0], v[1], v[2], v[3], nil
}

// readJEMSSTable reads the rows of the named table: the line after the table-name line is the
// header; the table ends at a blank row.
func readJEMSSTable(path, table string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rd io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		rd = gz
	}
	sc := bufio.NewScanner(rd)
	var rows [][]string
	state := 0 // 0 before the table, 1 at its header, 2 in its rows
	for sc.Scan() {
		fields := strings.Split(strings.TrimRight(sc.Text(), "\r"), ",")
		switch state {
		case 0:
			if fields[0] == table {
				state = 1
			}
		case 1:
			state = 2
		case 2:
			if fields[0] == "" {
				return rows, nil
			}
			rows = append(rows, fields)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if state == 0 {
		return nil, fmt.Errorf("%s: no table %q", path, table)
	}
	return rows, nil
}

func gridKey(p Point) [2]int32 {
	return [2]int32{int32(math.Floor(p.Lat * 100)), int32(math.Floor(p.Lng * 100))}
}

// Nodes is the number of nodes; Node returns one.
func (r *RoadNetwork) Nodes() int           { return len(r.nodes) }
func (r *RoadNetwork) Node(i int) Point     { return r.nodes[i] }
func (r *RoadNetwork) HasAccess(i int) bool { return r.access[i] }

// NearestAccessNode is the node with off-road access nearest to p, within about 5 km.
func (r *RoadNetwork) NearestAccessNode(p Point) (int, float64, bool) {
	best, bestD := -1, math.Inf(1)
	k := gridKey(p)
	for ring := int32(0); ring <= 5; ring++ {
		for dy := -ring; dy <= ring; dy++ {
			for dx := -ring; dx <= ring; dx++ {
				if max(abs32(dx), abs32(dy)) != ring {
					continue
				}
				for _, n := range r.grid[[2]int32{k[0] + dy, k[1] + dx}] {
					if d := DistanceM(p, r.nodes[n]); d < bestD {
						best, bestD = int(n), d
					}
				}
			}
		}
		// A 0.01° cell is at least ~650 m wide at these latitudes: past a ring that far
		// beyond the best, nothing nearer can remain.
		if best >= 0 && float64(ring)*650 > bestD {
			break
		}
	}
	return best, bestD, best >= 0
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// ShortestTimes runs Dijkstra from node src by the given mode and returns, per node, the
// minutes and kilometres of the fastest path (+Inf where unreachable).
func (r *RoadNetwork) ShortestTimes(src, mode int) (minutes, km []float64) {
	minutes = make([]float64, len(r.nodes))
	km = make([]float64, len(r.nodes))
	for i := range minutes {
		minutes[i], km[i] = math.Inf(1), math.Inf(1)
	}
	minutes[src], km[src] = 0, 0
	pq := &nodeHeap{{n: int32(src)}}
	for pq.Len() > 0 {
		it := heap.Pop(pq).(nodeItem)
		if it.t > minutes[it.n] {
			continue
		}
		for _, a := range r.adj[it.n] {
			if t := it.t + a.min[mode]; t < minutes[a.to] {
				minutes[a.to], km[a.to] = t, km[it.n]+a.km
				heap.Push(pq, nodeItem{n: a.to, t: t})
			}
		}
	}
	return minutes, km
}

type nodeItem struct {
	n int32
	t float64
}

type nodeHeap []nodeItem

func (h nodeHeap) Len() int           { return len(h) }
func (h nodeHeap) Less(i, j int) bool { return h[i].t < h[j].t }
func (h nodeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)        { *h = append(*h, x.(nodeItem)) }
func (h *nodeHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// Duration implements TravelModel: off-road to the nearest access node, the fastest path
// (lights and sirens for priority 1–2, regular driving for 3–4), off-road to the destination.
// The hour does not matter: the network's speeds do not vary by time of day. Where either end
// has no access node within reach, or no path connects them, it falls back to a straight line
// at the off-road speed.
func (r *RoadNetwork) Duration(from, to Point, _ time.Time, priority int) time.Duration {
	mode := ModeLightsAndSirens
	if priority >= 3 {
		mode = ModeRegular
	}
	offRoad := func(m float64) float64 { return m / 1000 / r.offRoadKmh[mode] * 60 }
	a, da, ok1 := r.NearestAccessNode(from)
	b, db, ok2 := r.NearestAccessNode(to)
	if !ok1 || !ok2 {
		return minutesToDuration(offRoad(DistanceM(from, to)))
	}
	mins, _ := r.ShortestTimes(a, mode)
	if math.IsInf(mins[b], 1) {
		return minutesToDuration(offRoad(DistanceM(from, to)))
	}
	return minutesToDuration(offRoad(da) + mins[b] + offRoad(db))
}

// Turnout implements TravelModel with the default model's turnout times.
func (r *RoadNetwork) Turnout(priority int) time.Duration {
	return DefaultTravelModel(time.UTC).Turnout(priority)
}

func minutesToDuration(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }
