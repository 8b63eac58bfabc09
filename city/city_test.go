package city

import (
	"encoding/csv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/xy"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/internal/testenv"
)

func TestWuhan(t *testing.T) {
	c := Wuhan()
	if got := len(c.Districts); got != 13 {
		t.Errorf("districts = %d, want 13", got)
	}
	central := 0
	for _, s := range c.Stations {
		d, ok := c.DistrictAt(s.Point)
		if !ok {
			t.Errorf("station %s at %v is outside every district", s.ID, s.Point)
			continue
		}
		if d.Code != s.District || c.DistrictCode(s.Point) != s.District {
			t.Errorf("station %s says district %s, lies in %s", s.ID, s.District, d.Code)
		}
		if d.Central {
			central++
		}
	}
	if got := c.DistrictCode(Point{Lat: 0, Lng: 0}); got != "" {
		t.Errorf("a point outside every district has district code %q, want none", got)
	}
	if central < 65 || central > 75 {
		t.Errorf("stations in the central districts = %d, want about 70", central)
	}
	kinds := map[HospitalKind]int{}
	for _, h := range c.Hospitals {
		kinds[h.Kind]++
		if len(h.Beds) == 0 {
			t.Errorf("hospital %s has no beds", h.ID)
		}
	}
	for _, k := range []HospitalKind{HospitalDesignated, HospitalFeverClinic, HospitalFangcang, HospitalGeneral} {
		if kinds[k] == 0 {
			t.Errorf("no hospital of kind %s", k)
		}
	}
	units := map[contract.UnitKind]int{}
	for _, u := range c.Fleet {
		units[u.Kind]++
	}
	if units[contract.KindNegativePressure] == 0 || units[contract.KindALS] == 0 || units[contract.KindBLS] == 0 {
		t.Errorf("fleet mix %v lacks a kind", units)
	}
	if p := c.Population(); p < 11_000_000 || p > 14_000_000 {
		t.Errorf("population %d is not Wuhan's", p)
	}
}

func TestWuhanMatchesSharedHospitals(t *testing.T) {
	dir := testenv.SharedData(t, "wuhan")
	f, err := os.Open(filepath.Join(dir, "hospitals_2020.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Hospital{}
	for _, h := range Wuhan().Hospitals {
		byName[h.Name] = h
	}
	for _, r := range rows[1:] {
		h, ok := byName[r[1]]
		if !ok {
			t.Errorf("hospital %s (%s) of the data is not in the built-in city", r[1], r[0])
			continue
		}
		lat, _ := strconv.ParseFloat(r[2], 64)
		lng, _ := strconv.ParseFloat(r[3], 64)
		if d := DistanceM(h.Point, Point{lat, lng}); d > 1 {
			t.Errorf("hospital %s is %.0f m from its position in the data", r[1], d)
		}
		if r[0] == "designated" && h.Kind != HospitalDesignated {
			t.Errorf("hospital %s is designated in the data, %s in the city", r[1], h.Kind)
		}
	}
}

func TestDistanceM(t *testing.T) {
	tests := []struct {
		name string
		a, b Point
		want float64
	}{
		{"same point", Point{30.6, 114.3}, Point{30.6, 114.3}, 0},
		{"one degree of latitude", Point{30, 114}, Point{31, 114}, 111_195},
		// 金银潭医院 to 协和医院, measured on a map: about 9.5 km.
		{"jinyintan to xiehe", Point{30.669239, 114.279572}, Point{30.586648, 114.269275}, 9_235},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DistanceM(tt.a, tt.b); math.Abs(got-tt.want) > 0.005*tt.want+1 {
				t.Errorf("DistanceM = %.0f, want %.0f", got, tt.want)
			}
		})
	}
}

func TestDefaultTravelModel(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	m := DefaultTravelModel(loc)
	from, to := Point{30.60, 114.28}, Point{30.60 + 5000/111_195.0, 114.28} // 5 km north
	noon := time.Date(2026, 11, 28, 12, 0, 0, 0, loc)
	rush := time.Date(2026, 11, 28, 8, 0, 0, 0, loc)
	night := time.Date(2026, 11, 28, 3, 0, 0, 0, loc)
	// 5 km × 1.4 = 7 km at 40 km/h = 630 s.
	if got := m.Duration(from, to, noon, 1); math.Abs(got.Seconds()-630) > 3 {
		t.Errorf("noon priority 1 = %v, want ≈630 s", got)
	}
	if !(m.Duration(from, to, rush, 1) > m.Duration(from, to, noon, 1)) {
		t.Error("rush hour is not slower than noon")
	}
	if !(m.Duration(from, to, night, 1) < m.Duration(from, to, noon, 1)) {
		t.Error("night is not faster than noon")
	}
	if !(m.Duration(from, to, noon, 4) > m.Duration(from, to, noon, 1)) {
		t.Error("priority 4 is not slower than priority 1")
	}
	if got := ETA(m, from, to, noon, 1) - m.Duration(from, to, noon, 1); got != time.Minute {
		t.Errorf("turnout = %v, want 1m", got)
	}
}

// containsByPolygons is District.Contains as it was written first: each polygon built with
// go-geom, its outer ring and then its holes tested in turn.
func containsByPolygons(d *District, p Point) bool {
	c := geom.Coord{p.Lng, p.Lat}
	for i := 0; i < d.area.NumPolygons(); i++ {
		poly := d.area.Polygon(i)
		if !xy.IsPointInRing(geom.XY, c, poly.LinearRing(0).FlatCoords()) {
			continue
		}
		inHole := false
		for j := 1; j < poly.NumLinearRings(); j++ {
			if xy.IsPointInRing(geom.XY, c, poly.LinearRing(j).FlatCoords()) {
				inHole = true
			}
		}
		if !inHole {
			return true
		}
	}
	return false
}

// Contains reads the rings in place behind a bounds check; it answers as the polygons do, for
// Wuhan's districts and for a district of two polygons, one with a hole.
func TestContainsMatchesPolygons(t *testing.T) {
	square := func(x0, y0, x1, y1 float64) []geom.Coord {
		return []geom.Coord{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}
	}
	mp := geom.NewMultiPolygon(geom.XY).MustSetCoords([][][]geom.Coord{
		{square(114.0, 30.0, 114.2, 30.2), square(114.05, 30.05, 114.15, 30.15)}, // a hole
		{square(114.3, 30.3, 114.4, 30.4)},
	})
	holed, err := NewDistrict("T", "test", 1, false, mp)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		p    Point
		want bool
	}{{Point{30.02, 114.02}, true}, {Point{30.1, 114.1}, false}, {Point{30.35, 114.35}, true}, {Point{30.25, 114.25}, false}} {
		if got := holed.Contains(p.p); got != p.want {
			t.Errorf("%+v: Contains %v, want %v", p.p, got, p.want)
		}
	}
	c := Wuhan()
	ds := []*District{&holed}
	for i := range c.Districts {
		ds = append(ds, &c.Districts[i])
	}
	rng := rand.New(rand.NewPCG(1, 2))
	inside := 0
	for _, d := range ds {
		b := d.area.Bounds()
		// Points over the bounds and a margin around them, and points on the vertices.
		w, h := b.Max(0)-b.Min(0), b.Max(1)-b.Min(1)
		pts := make([]Point, 0, 3000)
		for range 2000 {
			pts = append(pts, Point{Lat: b.Min(1) - h/10 + rng.Float64()*h*1.2, Lng: b.Min(0) - w/10 + rng.Float64()*w*1.2})
		}
		flat := d.area.FlatCoords()
		for i := 0; i+1 < len(flat) && len(pts) < cap(pts); i += 2 * max(1, len(flat)/2000) {
			pts = append(pts, Point{Lat: flat[i+1], Lng: flat[i]})
		}
		for _, p := range pts {
			got, want := d.Contains(p), containsByPolygons(d, p)
			if got != want {
				t.Fatalf("district %s, %+v: Contains %v, the polygons say %v", d.Code, p, got, want)
			}
			if got {
				inside++
			}
		}
	}
	if inside == 0 {
		t.Fatal("no point fell inside any district")
	}
}

// BenchmarkContains: the district test as the load generator uses it (points drawn over the
// city's districts), against the polygon-building version it replaced.
func BenchmarkContains(b *testing.B) {
	c := Wuhan()
	rng := rand.New(rand.NewPCG(3, 4))
	pts := make([]Point, 4096)
	for i := range pts {
		d := &c.Districts[rng.IntN(len(c.Districts))]
		pts[i] = Point{Lat: d.box[1] + rng.Float64()*(d.box[3]-d.box[1]), Lng: d.box[0] + rng.Float64()*(d.box[2]-d.box[0])}
	}
	for _, impl := range []struct {
		name string
		f    func(*District, Point) bool
	}{{"in-place", (*District).Contains}, {"polygons", containsByPolygons}} {
		b.Run(impl.name, func(b *testing.B) {
			n := 0
			for i := 0; b.Loop(); i++ {
				p := pts[i%len(pts)]
				for j := range c.Districts {
					if impl.f(&c.Districts[j], p) {
						n++
						break
					}
				}
			}
			if n == 0 {
				b.Fatal("no point inside a district")
			}
		})
	}
}
