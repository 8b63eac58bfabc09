// Package report draws what analysts look at: the coverage map and the plots of a run. It
// renders with gonum/plot to PNG.
package report

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"

	"github.com/uber/h3-go/v4"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/coverage"
	"github.com/ems120/ems120/results"
)

// Colours of the map: cells by how many units reach them.
var (
	colNone   = color.RGBA{R: 0xd7, G: 0x30, B: 0x27, A: 0xff} // no unit in reach
	colOne    = color.RGBA{R: 0xfd, G: 0xae, B: 0x61, A: 0xff} // one unit
	colTwo    = color.RGBA{R: 0x1a, G: 0x98, B: 0x50, A: 0xff} // two or more
	colBorder = color.RGBA{R: 0x20, G: 0x20, B: 0x20, A: 0xff}
)

var hospitalColours = map[city.HospitalKind]color.Color{
	city.HospitalDesignated:  color.RGBA{R: 0x8b, A: 0xff},
	city.HospitalFeverClinic: color.RGBA{R: 0xff, G: 0x00, B: 0xff, A: 0xff},
	city.HospitalFangcang:    color.RGBA{R: 0x6a, G: 0x3d, B: 0x9a, A: 0xff},
	city.HospitalGeneral:     color.Black,
}

// CoverageMap draws the service area's cells coloured by the units that reach them, the
// district borders, the stations and the hospitals, as a PNG of about widthPx pixels wide.
func CoverageMap(w io.Writer, c *city.City, cells []coverage.Cell, reach func(i int) int, title string, widthPx int) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "longitude"
	p.Y.Label.Text = "latitude"
	box, err := addCells(p, cells, reach)
	if err != nil {
		return err
	}
	if err := addBorders(p, c); err != nil {
		return err
	}
	if err := addPlaces(p, c); err != nil {
		return err
	}
	for _, l := range []struct {
		name string
		c    color.Color
	}{{"no unit in reach", colNone}, {"one unit", colOne}, {"two or more", colTwo}} {
		poly, _ := plotter.NewPolygon(plotter.XYs{{X: box.minLng, Y: box.minLat}, {X: box.minLng, Y: box.minLat}, {X: box.minLng, Y: box.minLat}})
		poly.Color, poly.LineStyle.Width = l.c, 0
		p.Legend.Add(l.name, poly)
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = box.minLng, box.maxLng, box.minLat, box.maxLat
	// Equal distances in both directions: a degree of longitude is cos(latitude) of one of latitude.
	aspect := (box.maxLat - box.minLat) / ((box.maxLng - box.minLng) * math.Cos((box.minLat+box.maxLat)/2*math.Pi/180))
	wIn := vg.Length(widthPx) / 96 * vg.Inch
	canvas := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(wIn, wIn*vg.Length(aspect)+vg.Inch/2), vgimg.UseDPI(96))}
	p.Draw(draw.New(canvas))
	_, err = canvas.WriteTo(w)
	return err
}

// bounds is the map's extent in degrees.
type bounds struct{ minLat, maxLat, minLng, maxLng float64 }

// addCells draws the cells, coloured by reach, and returns their extent.
func addCells(p *plot.Plot, cells []coverage.Cell, reach func(i int) int) (bounds, error) {
	box := bounds{math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)}
	for i, cell := range cells {
		b := h3.CellToBoundary(cell.ID)
		xys := make(plotter.XYs, len(b))
		for j, ll := range b {
			xys[j] = plotter.XY{X: ll.Lng, Y: ll.Lat}
			box.minLat, box.maxLat = math.Min(box.minLat, ll.Lat), math.Max(box.maxLat, ll.Lat)
			box.minLng, box.maxLng = math.Min(box.minLng, ll.Lng), math.Max(box.maxLng, ll.Lng)
		}
		poly, err := plotter.NewPolygon(xys)
		if err != nil {
			return box, err
		}
		switch r := reach(i); {
		case r == 0:
			poly.Color = colNone
		case r == 1:
			poly.Color = colOne
		default:
			poly.Color = colTwo
		}
		poly.LineStyle.Width = 0
		p.Add(poly)
	}
	return box, nil
}

// addBorders draws the districts' outlines.
func addBorders(p *plot.Plot, c *city.City) error {
	for i := range c.Districts {
		area := c.Districts[i].Area()
		for pi := 0; pi < area.NumPolygons(); pi++ {
			flat := area.Polygon(pi).LinearRing(0).FlatCoords()
			xys := make(plotter.XYs, 0, len(flat)/2)
			for j := 0; j+1 < len(flat); j += 2 {
				xys = append(xys, plotter.XY{X: flat[j], Y: flat[j+1]})
			}
			line, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			line.Color, line.Width = colBorder, vg.Points(0.6)
			p.Add(line)
		}
	}
	return nil
}

// addPlaces marks the stations and the hospitals, by kind, with their legend.
func addPlaces(p *plot.Plot, c *city.City) error {
	st := make(plotter.XYs, len(c.Stations))
	for i, s := range c.Stations {
		st[i] = plotter.XY{X: s.Lng, Y: s.Lat}
	}
	stations, err := plotter.NewScatter(st)
	if err != nil {
		return err
	}
	stations.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{B: 0xb0, A: 0xff}, Radius: vg.Points(2.2), Shape: draw.TriangleGlyph{}}
	p.Add(stations)
	p.Legend.Add("ambulance station", stations)
	for _, kind := range []city.HospitalKind{city.HospitalDesignated, city.HospitalFeverClinic, city.HospitalFangcang, city.HospitalGeneral} {
		var xys plotter.XYs
		for _, h := range c.Hospitals {
			if h.Kind == kind {
				xys = append(xys, plotter.XY{X: h.Lng, Y: h.Lat})
			}
		}
		if len(xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: hospitalColours[kind], Radius: vg.Points(2.6), Shape: draw.CrossGlyph{}}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("hospital: %s", kind), sc)
	}
	return nil
}

// WriteCoverageMap draws the tracker's coverage of c at the time of day `at` (HH:MM) to a
// PNG file.
func WriteCoverageMap(path string, c *city.City, t *coverage.Tracker, at string, widthPx int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	one, two := t.Summary()
	title := fmt.Sprintf("%s at %s: %.1f%% of demand within 5 km / 15 min of an available unit (%.1f%% of two); %d units at %d stations",
		c.Name, at, one, two, len(c.Fleet), len(c.Stations))
	err = CoverageMap(f, c, t.Cells(), t.Reach, title, widthPx)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteCoverage prints the tracker's coverage of c at the time of day `at`: the summary JSON
// with the live counts and every district's figures (asJSON), or a line for the city and one
// per district for a person.
func WriteCoverage(w io.Writer, c *city.City, t *coverage.Tracker, at string, asJSON bool) error {
	one, two := t.Summary()
	out := struct {
		results.Summary
		UnitsAvailable int                        `json:"units_available"`
		Cells          int                        `json:"cells"`
		At             string                     `json:"at"`
		ByDistrict     []coverage.DistrictSummary `json:"by_district"`
	}{UnitsAvailable: t.Units(), Cells: len(t.Cells()), At: at, ByDistrict: t.ByDistrict()}
	out.CoveragePct, out.DoubleCoveragePct = results.F(one), results.F(two)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(w, "%s at %s: coverage %.1f%%, double coverage %.1f%% (%d units, %d cells)\n", c.Name, at, one, two, t.Units(), len(t.Cells()))
	for _, d := range out.ByDistrict {
		name := d.Code
		for _, cd := range c.Districts {
			if cd.Code == d.Code {
				name = cd.Name
			}
		}
		fmt.Fprintf(w, "  %-8s %-6s coverage %5.1f%%  double %5.1f%%\n", d.Code, name, d.CoveragePct, d.DoubleCoveragePct)
	}
	return nil
}

// CoverageFiles are what `ems120 coverage` writes beside its summary: the cells as GeoJSON,
// the map as a PNG of WidthPx pixels (each only when its path is set).
type CoverageFiles struct {
	GeoJSON, PNG string
	WidthPx      int
}

// Write writes the tracker's coverage of c at the time of day `at` to the files asked for.
func (f CoverageFiles) Write(c *city.City, t *coverage.Tracker, at string) error {
	if f.GeoJSON != "" {
		b, err := json.Marshal(t.GeoJSON(nil))
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.GeoJSON, b, 0o644); err != nil {
			return err
		}
	}
	if f.PNG != "" {
		return WriteCoverageMap(f.PNG, c, t, at, f.WidthPx)
	}
	return nil
}
