package city

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

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
		if d.Code != s.District {
			t.Errorf("station %s says district %s, lies in %s", s.ID, s.District, d.Code)
		}
		if d.Central {
			central++
		}
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
