// Package replay reads a CSV of real calls — another city's 911 stream, say — rejecting the
// rows it cannot use with their reasons, and optionally moves the calls onto our city. The
// calls it reads go to the simulator (Simulate) or onto the live stack (loadtest.Replay).
package replay

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

// Where replayed calls go.
const (
	IntoLive     = "live"
	IntoSimulate = "simulate"
)

// Source says how to read a CSV of real calls.
type Source struct {
	LatCol, LngCol, TimeCol string // column names (header row)
	TimeFormat              string // Go layout of TimeCol, e.g. "2006-01-02 15:04:05"
	// TitleCol, when present in the file, classifies each row: rows whose title does not
	// start with OnlyPrefix are skipped (not rejected — they are not medical calls), and the
	// rest of the title sets the priority and category (Triage).
	TitleCol, OnlyPrefix string
	// Relocate moves the calls, keeping their distances and bearings, so that the median
	// call lands on the median station of the city: real calls from another city become a
	// realistic spatial pattern here. Rows more than SourceRadiusKm from the median call are
	// rejected as outside the source's area before the move.
	Relocate       bool
	SourceRadiusKm float64
	Limit          int // use at most this many rows (0: all), counted after skipping
}

// DefaultSource reads ../shared/data/montco/calls.csv: Montgomery County 911 calls, the EMS
// rows only.
var DefaultSource = Source{LatCol: "lat", LngCol: "lng", TimeCol: "timeStamp", TimeFormat: "2006-01-02 15:04:05",
	TitleCol: "title", OnlyPrefix: "EMS:", SourceRadiusKm: 60}

// File is a CSV read for replay: the usable calls, in time order, each with its offset from
// the first, and what was rejected and why.
type File struct {
	Calls    []contract.Call // CallID "RP-<row>", the row's line number: replaying twice is idempotent
	Offsets  []time.Duration // per call, from the first call's time in the file
	Rows     int             // data rows read
	Skipped  int             // rows not selected (OnlyPrefix)
	Rejected map[string]int  // reason → rows
	Examples []string        // the first few rejections, "line N: reason"
}

// RejectedTotal is the number of rejected rows.
func (f File) RejectedTotal() int {
	n := 0
	for _, v := range f.Rejected {
		n += v
	}
	return n
}

// WriteRejections says, for a person, what was read and what was rejected and why.
func (f File) WriteRejections(w io.Writer, name, only string) {
	fmt.Fprintf(w, "replay: %s: %d rows, %d skipped (not %q), %d usable, %d rejected\n", name, f.Rows, f.Skipped, only, len(f.Calls), f.RejectedTotal())
	reasons := make([]string, 0, len(f.Rejected))
	for r := range f.Rejected {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "replay:   rejected %5d  %s\n", f.Rejected[r], r)
	}
	for _, e := range f.Examples {
		fmt.Fprintf(w, "replay:   e.g. %s\n", e)
	}
}

func (f *File) reject(line int, reason string) {
	f.Rejected[reason]++
	if len(f.Examples) < 10 {
		f.Examples = append(f.Examples, fmt.Sprintf("line %d: %s", line, reason))
	}
}

// row is a usable row of the file, before the move.
type row struct {
	line  int
	at    time.Time
	p     city.Point
	title string
}

// columns are the positions of the columns a Source names.
type columns struct {
	lat, lng, time, title int
	hasTitle              bool
}

// Read reads a CSV of calls. A row that cannot be used — wrong field count, a coordinate
// that is not a number or out of range, an unparsable time, outside the source's area,
// outside the city's districts after the move — is rejected with its reason and counted; it
// never stops the read. A file without the named columns is an error.
func Read(r io.Reader, src Source, c *city.City) (File, error) {
	out := File{Rejected: map[string]int{}}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked per row, to reject rather than stop
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return out, fmt.Errorf("replay: reading the header: %w", err)
	}
	cols, err := src.columns(header)
	if err != nil {
		return out, err
	}
	rows, err := src.rows(cr, len(header), cols, &out)
	if err != nil || len(rows) == 0 {
		return out, err
	}
	src.place(rows, c, &out)
	return out, nil
}

// columns finds the named columns in the header; the title column is optional.
func (src Source) columns(header []string) (columns, error) {
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
	}
	var cols columns
	for _, c := range []struct {
		name string
		at   *int
	}{{src.LatCol, &cols.lat}, {src.LngCol, &cols.lng}, {src.TimeCol, &cols.time}} {
		i, ok := col[c.name]
		if !ok {
			return cols, fmt.Errorf("replay: no column %q in the header (%s)", c.name, strings.Join(header, ", "))
		}
		*c.at = i
	}
	cols.title, cols.hasTitle = col[src.TitleCol]
	return cols, nil
}

// rows reads the data rows: those not selected are counted as skipped, those unusable as
// rejected, the rest returned.
func (src Source) rows(cr *csv.Reader, fields int, cols columns, out *File) ([]row, error) {
	var rows []row
	selected := 0 // rows past the -only selection: used or rejected
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				out.Rows++
				out.reject(pe.StartLine, "malformed CSV: "+pe.Err.Error())
				continue
			}
			return rows, fmt.Errorf("replay: %w", err)
		}
		line, _ := cr.FieldPos(0)
		out.Rows++
		if len(rec) != fields {
			out.reject(line, fmt.Sprintf("%d fields, the header has %d", len(rec), fields))
			continue
		}
		title := ""
		if cols.hasTitle {
			title = strings.TrimSpace(rec[cols.title])
			if src.OnlyPrefix != "" && !strings.HasPrefix(title, src.OnlyPrefix) {
				out.Skipped++
				continue
			}
		}
		if src.Limit > 0 && selected >= src.Limit {
			return rows, nil
		}
		selected++
		r, reason := src.parse(rec, cols)
		if reason != "" {
			out.reject(line, reason)
			continue
		}
		r.line, r.title = line, strings.TrimSpace(strings.TrimPrefix(title, src.OnlyPrefix))
		rows = append(rows, r)
	}
}

// parse reads a row's position and time; reason says why it cannot be used.
func (src Source) parse(rec []string, cols columns) (r row, reason string) {
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(rec[cols.lat]), 64)
	lng, err2 := strconv.ParseFloat(strings.TrimSpace(rec[cols.lng]), 64)
	switch {
	case err1 != nil || math.IsNaN(lat) || math.IsInf(lat, 0):
		return r, "lat: not a number"
	case err2 != nil || math.IsNaN(lng) || math.IsInf(lng, 0):
		return r, "lng: not a number"
	case lat < -90 || lat > 90:
		return r, "lat: out of range"
	case lng < -180 || lng > 180:
		return r, "lng: out of range"
	case lat == 0 && lng == 0:
		return r, "no location (0, 0)"
	}
	at, err := time.Parse(src.TimeFormat, strings.TrimSpace(rec[cols.time]))
	if err != nil {
		return r, "time: not in the format " + src.TimeFormat
	}
	return row{at: at, p: city.Point{Lat: lat, Lng: lng}}, ""
}

// place puts the rows in time order, moves them onto the city when asked, rejects those
// outside its districts and makes the calls of the rest.
func (src Source) place(rows []row, c *city.City, out *File) {
	move := src.mover(rows, c)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].at.Before(rows[j].at) })
	var first time.Time
	for _, r := range rows {
		p, reason := move(r.p)
		if reason == "" {
			if _, ok := c.DistrictAt(p); !ok {
				reason = "outside the city's districts"
				if src.Relocate {
					reason += " after the move"
				}
			}
		}
		if reason != "" {
			out.reject(r.line, reason)
			continue
		}
		if first.IsZero() {
			first = r.at
		}
		prio, cat := Triage(r.title)
		out.Calls = append(out.Calls, contract.Call{CallID: fmt.Sprintf("RP-%d", r.line), Lat: math.Round(p.Lat*1e6) / 1e6,
			Lng: math.Round(p.Lng*1e6) / 1e6, Priority: prio, Category: cat})
		out.Offsets = append(out.Offsets, r.at.Sub(first))
	}
}

// mover is the move of the rows onto the city: with Relocate, the median call onto the
// median station, as metres east and north, refusing rows outside the source's area;
// without, none.
func (src Source) mover(rows []row, c *city.City) func(city.Point) (city.Point, string) {
	if !src.Relocate {
		return func(p city.Point) (city.Point, string) { return p, "" }
	}
	lats, lngs := make([]float64, len(rows)), make([]float64, len(rows))
	for i, r := range rows {
		lats[i], lngs[i] = r.p.Lat, r.p.Lng
	}
	srcMid := city.Point{Lat: median(lats), Lng: median(lngs)}
	sl, sg := make([]float64, len(c.Stations)), make([]float64, len(c.Stations))
	for i, s := range c.Stations {
		sl[i], sg[i] = s.Lat, s.Lng
	}
	dst := city.Point{Lat: median(sl), Lng: median(sg)}
	dLat, dLng := dst.Lat-srcMid.Lat, dst.Lng-srcMid.Lng
	tooFar := fmt.Sprintf("outside the source's area (more than %.0f km from its median call)", src.SourceRadiusKm)
	return func(p city.Point) (city.Point, string) {
		if city.DistanceM(srcMid, p) > src.SourceRadiusKm*1000 {
			return p, tooFar
		}
		// Metres north stay metres north; metres east scale with the cosine of latitude.
		north := p.Lat - srcMid.Lat
		east := (p.Lng - srcMid.Lng) * math.Cos(srcMid.Lat*math.Pi/180)
		p.Lat = srcMid.Lat + dLat + north
		p.Lng = srcMid.Lng + dLng + east/math.Cos(p.Lat*math.Pi/180)
		return p, ""
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// ReadFile is Read of the file at path.
func ReadFile(path string, src Source, c *city.City) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	return Read(f, src, c)
}
