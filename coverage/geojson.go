package coverage

import (
	"math"
	"time"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"
	"github.com/uber/h3-go/v4"
)

// FeatureCollection is the coverage map as GeoJSON: a Feature per cell (its hexagon; the H3
// index, district, demand weight and units in reach as properties) and the summary as
// foreign members.
type FeatureCollection struct {
	Type              string             `json:"type"`
	CoveragePct       float64            `json:"coverage_pct"`
	DoubleCoveragePct float64            `json:"double_coverage_pct"`
	UnitsAvailable    int                `json:"units_available"`
	At                time.Time          `json:"at"`
	Features          []*geojson.Feature `json:"features"`
}

// GeoJSON builds the map of the cells that keep admits (nil keeps all).
func (t *Tracker) GeoJSON(keep func(c Cell, reach int) bool) FeatureCollection {
	one, two := t.Summary()
	fc := FeatureCollection{Type: "FeatureCollection", CoveragePct: round1(one), DoubleCoveragePct: round1(two),
		UnitsAvailable: t.Units(), At: t.at.UTC()}
	for i, c := range t.cells {
		r := int(t.reach[i])
		if keep != nil && !keep(c, r) {
			continue
		}
		fc.Features = append(fc.Features, &geojson.Feature{ID: c.ID.String(), Geometry: CellPolygon(c.ID),
			Properties: map[string]any{"h3": c.ID.String(), "district": c.District, "demand": c.Demand, "reach": r}})
	}
	if fc.Features == nil {
		fc.Features = []*geojson.Feature{}
	}
	return fc
}

// CellPolygon is a cell's hexagon (WGS84, closed ring).
func CellPolygon(c h3.Cell) *geom.Polygon {
	b := h3.CellToBoundary(c)
	ring := make([]geom.Coord, 0, len(b)+1)
	for _, ll := range b {
		ring = append(ring, geom.Coord{math.Round(ll.Lng*1e6) / 1e6, math.Round(ll.Lat*1e6) / 1e6})
	}
	ring = append(ring, ring[0])
	return geom.NewPolygon(geom.XY).MustSetCoords([][]geom.Coord{ring})
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// DistrictSummary is one district's coverage.
type DistrictSummary struct {
	Code              string  `json:"code"`
	CoveragePct       float64 `json:"coverage_pct"`
	DoubleCoveragePct float64 `json:"double_coverage_pct"`
}

// ByDistrict is the demand-weighted coverage of each district, in code order of first
// appearance among the cells.
func (t *Tracker) ByDistrict() []DistrictSummary {
	type acc struct{ all, one, two float64 }
	m := map[string]*acc{}
	var order []string
	for i, c := range t.cells {
		a := m[c.District]
		if a == nil {
			a = &acc{}
			m[c.District] = a
			order = append(order, c.District)
		}
		a.all += c.Demand
		if t.reach[i] >= 1 {
			a.one += c.Demand
		}
		if t.reach[i] >= 2 {
			a.two += c.Demand
		}
	}
	out := make([]DistrictSummary, len(order))
	for i, code := range order {
		a := m[code]
		out[i] = DistrictSummary{Code: code, CoveragePct: round1(100 * a.one / a.all), DoubleCoveragePct: round1(100 * a.two / a.all)}
	}
	return out
}
