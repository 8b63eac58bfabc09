// Package report draws what analysts look at: the coverage map and the plots of a run. It
// renders with gonum/plot to PNG.
package report

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/uber/h3-go/v4"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/coverage"
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
	minLat, maxLat, minLng, maxLng := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i, cell := range cells {
		b := h3.CellToBoundary(cell.ID)
		xys := make(plotter.XYs, len(b))
		for j, ll := range b {
			xys[j] = plotter.XY{X: ll.Lng, Y: ll.Lat}
			minLat, maxLat = math.Min(minLat, ll.Lat), math.Max(maxLat, ll.Lat)
			minLng, maxLng = math.Min(minLng, ll.Lng), math.Max(maxLng, ll.Lng)
		}
		poly, err := plotter.NewPolygon(xys)
		if err != nil {
			return err
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
	for _, l := range []struct {
		name string
		c    color.Color
	}{{"no unit in reach", colNone}, {"one unit", colOne}, {"two or more", colTwo}} {
		poly, _ := plotter.NewPolygon(plotter.XYs{{X: minLng, Y: minLat}, {X: minLng, Y: minLat}, {X: minLng, Y: minLat}})
		poly.Color, poly.LineStyle.Width = l.c, 0
		p.Legend.Add(l.name, poly)
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = minLng, maxLng, minLat, maxLat
	// Equal distances in both directions: a degree of longitude is cos(latitude) of one of latitude.
	aspect := (maxLat - minLat) / ((maxLng - minLng) * math.Cos((minLat+maxLat)/2*math.Pi/180))
	wIn := vg.Length(widthPx) / 96 * vg.Inch
	canvas := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(wIn, wIn*vg.Length(aspect)+vg.Inch/2), vgimg.UseDPI(96))}
	p.Draw(draw.New(canvas))
	_, err = canvas.WriteTo(w)
	return err
}
