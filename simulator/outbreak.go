package simulator

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/uber/h3-go/v4"
)

// Outbreak is a growing fever cluster injected over the normal background: extra fever calls
// in Cells (or, when District is set, spread over that district by its population proxy),
// from StartH hours into the measured hours, at PerHour calls an hour then, multiplied by
// GrowthPerDay each day.
type Outbreak struct {
	Cells        []h3.Cell
	District     string
	StartH       float64
	PerHour      float64
	GrowthPerDay float64
}

// Defaults of the outbreak scenario: three neighbouring resolution-7 cells around the Huanan
// seafood market (江汉区, where the first 2019 cluster was traced), a day into the measured
// hours, one extra fever call an hour across them, doubling every two days.
const (
	DefaultOutbreakLat, DefaultOutbreakLng = 30.6196, 114.2571
	DefaultOutbreakStartH                  = 24
	DefaultOutbreakPerHour                 = 1
)

// DefaultOutbreakGrowth doubles the cluster's calls every two days.
var DefaultOutbreakGrowth = math.Sqrt2

// DefaultOutbreakCells are the default cluster's cells: the cell at the market and two of
// its neighbours that are neighbours of each other.
func DefaultOutbreakCells() []h3.Cell {
	c := h3.LatLngToCell(h3.NewLatLng(DefaultOutbreakLat, DefaultOutbreakLng), 7)
	ring := h3.GridDisk(c, 1)[1:]
	for _, n := range ring[1:] {
		if slices.Contains(h3.GridDisk(ring[0], 1), n) {
			return []h3.Cell{c, ring[0], n}
		}
	}
	return []h3.Cell{c, ring[0]}
}

func (o *Outbreak) defaults(c *city.City) error {
	if o.District != "" && len(o.Cells) > 0 {
		return fmt.Errorf("outbreak: give its cells or its district, not both")
	}
	if o.District != "" && !slices.ContainsFunc(c.Districts, func(d city.District) bool { return d.Code == o.District }) {
		return fmt.Errorf("outbreak: no district %q in %s", o.District, c.Name)
	}
	for _, cell := range o.Cells {
		if !cell.IsValid() {
			return fmt.Errorf("outbreak: %s is not a valid H3 cell", cell)
		}
	}
	if o.District == "" && len(o.Cells) == 0 {
		o.Cells = DefaultOutbreakCells()
	}
	if o.StartH < 0 {
		return fmt.Errorf("outbreak: start hour %g is before the measured hours", o.StartH)
	}
	if o.PerHour <= 0 {
		o.PerHour = DefaultOutbreakPerHour
	}
	if o.GrowthPerDay <= 0 {
		o.GrowthPerDay = DefaultOutbreakGrowth
	}
	return nil
}

// scheduleOutbreak adds the cluster's calls, hour by hour, at the rate of the hour's middle.
func (s *sim) scheduleOutbreak() {
	o := s.cfg.Outbreak
	start := s.outbreakStart()
	gen := NewGenerator(s.cfg.City, feverMix, s.cfg.Seed+2, "O")
	for h := start; h.Before(s.end); h = h.Add(time.Hour) {
		days := (h.Sub(start) + 30*time.Minute).Hours() / 24
		perMin := o.PerHour * math.Pow(o.GrowthPerDay, days) / 60
		until := h.Add(time.Hour)
		if until.After(s.end) {
			until = s.end
		}
		s.poisson(gen, h, until, perMin, func(c *contract.Call) { s.placeOutbreakCall(c) })
	}
}

func (s *sim) outbreakStart() time.Time {
	return s.cfg.Start.Add(time.Duration(s.cfg.Outbreak.StartH * float64(time.Hour)))
}

// placeOutbreakCall moves a call into the cluster: a random one of its cells, a uniform
// point in it; or a point of its district.
func (s *sim) placeOutbreakCall(c *contract.Call) {
	o := s.cfg.Outbreak
	if o.District != "" {
		for i := range s.cfg.City.Districts {
			if d := &s.cfg.City.Districts[i]; d.Code == o.District {
				p := s.cfg.City.SamplePoint(d, s.rngOutbreak)
				c.Lat, c.Lng, c.Address = p.Lat, p.Lng, d.Name+"（模拟聚集）"
			}
		}
		return
	}
	cell := o.Cells[s.rngOutbreak.IntN(len(o.Cells))]
	ll := h3.CellToLatLng(cell)
	centre := city.Point{Lat: ll.Lat, Lng: ll.Lng}
	p := centre
	for range 100 {
		r, a := 1500*math.Sqrt(s.rngOutbreak.Float64()), 2*math.Pi*s.rngOutbreak.Float64()
		q := centre.Offset(r*math.Cos(a), r*math.Sin(a))
		if h3.LatLngToCell(h3.NewLatLng(q.Lat, q.Lng), cell.Resolution()) == cell {
			p = q
			break
		}
	}
	c.Lat, c.Lng = math.Round(p.Lat*1e6)/1e6, math.Round(p.Lng*1e6)/1e6
	c.Address = "（模拟聚集）"
}

// feverMix is the mix of fever calls alone: the fever surge's, the outbreak's, the history's.
var feverMix = Mix{Priority: DefaultMix.Priority, Category: map[contract.Category]float64{contract.CategoryFever: 1},
	Infectious: DefaultMix.Infectious}
