// Package city is the model of a city that ems120 serves: its districts (the service area),
// ambulance stations, hospitals, fleet and demand, and the travel-time model that turns a
// pair of positions into an ETA. The built-in city is Wuhan (see Wuhan and wuhan.json).
package city

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"
	"github.com/twpayne/go-geom/xy"

	"github.com/ems120/ems120/contract"
)

// Point is a WGS84 position.
type Point struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

// City is everything ems120 knows about the place it serves.
type City struct {
	Name      string     `json:"name"`
	TimeZone  string     `json:"timezone"`
	Notes     []string   `json:"notes,omitempty"`
	Districts []District `json:"districts"`
	Stations  []Station  `json:"stations"`
	Hospitals []Hospital `json:"hospitals"`
	Fleet     []Unit     `json:"fleet"`
}

// District is an administrative district; together they are the service area.
type District struct {
	Code       string          `json:"code"`
	Name       string          `json:"name"`
	Population int             `json:"population"`
	Central    bool            `json:"central"`
	Boundary   json.RawMessage `json:"boundary"` // GeoJSON Polygon or MultiPolygon, WGS84

	area *geom.MultiPolygon
	box  [4]float64 // the boundary's bounds: min lng, min lat, max lng, max lat
}

func (d *District) setArea(area *geom.MultiPolygon) {
	d.area = area
	b := area.Bounds()
	d.box = [4]float64{b.Min(0), b.Min(1), b.Max(0), b.Max(1)}
}

// Area is the district's boundary.
func (d *District) Area() *geom.MultiPolygon { return d.area }

// Contains reports whether p lies inside the district: inside a polygon's outer ring and none
// of its holes. A point outside the boundary's bounds is answered without reading the rings,
// and the rings are read in place (the load generator and the replay ask for every call).
func (d *District) Contains(p Point) bool {
	if p.Lng < d.box[0] || p.Lat < d.box[1] || p.Lng > d.box[2] || p.Lat > d.box[3] {
		return false
	}
	c := geom.Coord{p.Lng, p.Lat}
	flat, layout := d.area.FlatCoords(), d.area.Layout()
	start := 0 // the polygon's first coordinate in flat
	for _, ends := range d.area.Endss() {
		if len(ends) == 0 {
			continue
		}
		in := xy.IsPointInRing(layout, c, flat[start:ends[0]])
		for j := 1; in && j < len(ends); j++ {
			in = !xy.IsPointInRing(layout, c, flat[ends[j-1]:ends[j]])
		}
		if in {
			return true
		}
		start = ends[len(ends)-1]
	}
	return false
}

// Station is an ambulance station (急救站).
type Station struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	District string `json:"district"`
	Point
}

// HospitalKind is the role a hospital plays in the city's plan.
type HospitalKind string

// Hospital kinds.
const (
	// HospitalDesignated (定点医院) takes confirmed infectious patients.
	HospitalDesignated HospitalKind = "designated"
	// HospitalFeverClinic (发热门诊) is a general hospital with a fever clinic: suspected fever
	// patients, and its emergency department takes the rest.
	HospitalFeverClinic HospitalKind = "fever_clinic"
	// HospitalFangcang (方舱医院) is a shelter hospital for mild, stable infectious cases.
	HospitalFangcang HospitalKind = "fangcang"
	// HospitalGeneral is a general emergency department without a fever clinic.
	HospitalGeneral HospitalKind = "general"
)

// Hospital is a destination for transported patients.
type Hospital struct {
	ID        string                   `json:"id"`
	Name      string                   `json:"name"`
	Kind      HospitalKind             `json:"kind"`
	District  string                   `json:"district"`
	Accepting bool                     `json:"accepting"`
	Beds      map[string]contract.Beds `json:"beds"` // initial bed state, by contract bed kind
	// StandbyBeds are isolation beds a peace-and-war hospital (平战结合医院) keeps closed in
	// normal times and opens in surge mode, StandbyOpenHours after the switch.
	StandbyBeds      int     `json:"standby_beds,omitempty"`
	StandbyOpenHours float64 `json:"standby_open_hours,omitempty"`
	Point
}

// Unit is one ambulance of the fleet and its home station.
type Unit struct {
	ID      string            `json:"id"`
	Kind    contract.UnitKind `json:"kind"`
	Station string            `json:"station"`
	Start   *Point            `json:"start,omitempty"` // where it is when first seeded; default its station
}

// StartPoint is where a unit is when it is first put in the record: Start, or its station.
func (c *City) StartPoint(u Unit) Point {
	if u.Start != nil {
		return *u.Start
	}
	st, _ := c.Station(u.Station)
	return st.Point
}

// Load reads a city file (the JSON form of City).
func Load(path string) (*City, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load city: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load city %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a city from its JSON form.
func Parse(b []byte) (*City, error) {
	var c City
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *City) init() error {
	var errs []error
	if len(c.Districts) == 0 {
		errs = append(errs, errors.New("no districts"))
	}
	for i := range c.Districts {
		d := &c.Districts[i]
		var g geom.T
		if err := geojson.Unmarshal(d.Boundary, &g); err != nil {
			errs = append(errs, fmt.Errorf("district %s boundary: %w", d.Code, err))
			continue
		}
		switch g := g.(type) {
		case *geom.MultiPolygon:
			d.setArea(g)
		case *geom.Polygon:
			mp := geom.NewMultiPolygon(geom.XY)
			if err := mp.Push(g); err != nil {
				errs = append(errs, fmt.Errorf("district %s boundary: %w", d.Code, err))
			}
			d.setArea(mp)
		default:
			errs = append(errs, fmt.Errorf("district %s boundary is a %T, want a (multi)polygon", d.Code, g))
		}
	}
	stations := make(map[string]bool, len(c.Stations))
	for _, s := range c.Stations {
		if stations[s.ID] {
			errs = append(errs, fmt.Errorf("station %s appears twice", s.ID))
		}
		stations[s.ID] = true
		if err := contract.ValidateLatLng(s.Lat, s.Lng); err != nil {
			errs = append(errs, fmt.Errorf("station %s: %w", s.ID, err))
		}
	}
	hospitals := make(map[string]bool, len(c.Hospitals))
	for _, h := range c.Hospitals {
		if hospitals[h.ID] {
			errs = append(errs, fmt.Errorf("hospital %s appears twice", h.ID))
		}
		hospitals[h.ID] = true
		if err := contract.ValidateLatLng(h.Lat, h.Lng); err != nil {
			errs = append(errs, fmt.Errorf("hospital %s: %w", h.ID, err))
		}
		for k, b := range h.Beds {
			if b.Total < 0 || b.Occupied < 0 || b.Occupied > b.Total {
				errs = append(errs, fmt.Errorf("hospital %s beds %s: %+v", h.ID, k, b))
			}
		}
	}
	units := make(map[string]bool, len(c.Fleet))
	for _, u := range c.Fleet {
		if units[u.ID] {
			errs = append(errs, fmt.Errorf("unit %s appears twice", u.ID))
		}
		units[u.ID] = true
		if !u.Kind.Valid() {
			errs = append(errs, fmt.Errorf("unit %s: unknown kind %q", u.ID, u.Kind))
		}
		if !stations[u.Station] {
			errs = append(errs, fmt.Errorf("unit %s: unknown station %q", u.ID, u.Station))
		}
	}
	return errors.Join(errs...)
}

// Location is the city's time zone (UTC when the zone is unknown to this machine): the
// hour of day sets travel speeds and demand.
func (c *City) Location() *time.Location {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Station returns the station with the given id.
func (c *City) Station(id string) (Station, bool) {
	for _, s := range c.Stations {
		if s.ID == id {
			return s, true
		}
	}
	return Station{}, false
}

// DistrictAt returns the district containing p.
func (c *City) DistrictAt(p Point) (*District, bool) {
	for i := range c.Districts {
		if c.Districts[i].Contains(p) {
			return &c.Districts[i], true
		}
	}
	return nil, false
}

// DistrictCode is the code of the district containing p, or "" outside every district.
func (c *City) DistrictCode(p Point) string {
	if d, ok := c.DistrictAt(p); ok {
		return d.Code
	}
	return ""
}

// Population is the sum of the districts' populations.
func (c *City) Population() int {
	n := 0
	for _, d := range c.Districts {
		n += d.Population
	}
	return n
}

// NewDistrict builds a district from its boundary.
func NewDistrict(code, name string, population int, central bool, area *geom.MultiPolygon) (District, error) {
	b, err := geojson.Marshal(area, geojson.EncodeGeometryWithMaxDecimalDigits(5))
	if err != nil {
		return District{}, fmt.Errorf("district %s boundary: %w", code, err)
	}
	d := District{Code: code, Name: name, Population: population, Central: central, Boundary: b}
	d.setArea(area)
	return d, nil
}

// FleetRatios are a fleet's ratios in China's 2020 pre-hospital guidance: ambulances per
// 30,000 residents (target 1), and the share of negative-pressure units, percent (target 40),
// from the fleet's size and its negative-pressure units.
func FleetRatios(units, negativePressure, population int) (per30k, negativePressurePct float64) {
	if population > 0 {
		per30k = float64(units) / (float64(population) / 30000)
	}
	if units > 0 {
		negativePressurePct = 100 * float64(negativePressure) / float64(units)
	}
	return per30k, negativePressurePct
}
