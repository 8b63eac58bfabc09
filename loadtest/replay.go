package loadtest

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/service"
)

// ReplaySource says how to read a CSV of real calls.
type ReplaySource struct {
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

// DefaultReplaySource reads ../shared/data/montco/calls.csv: Montgomery County 911 calls, the
// EMS rows only.
var DefaultReplaySource = ReplaySource{LatCol: "lat", LngCol: "lng", TimeCol: "timeStamp", TimeFormat: "2006-01-02 15:04:05",
	TitleCol: "title", OnlyPrefix: "EMS:", SourceRadiusKm: 60}

// Replayed is a CSV read for replay: the usable calls, in time order, each with its offset
// from the first, and what was rejected and why.
type Replayed struct {
	Calls    []contract.Call // CallID "RP-<row>", the row's line number: replaying twice is idempotent
	Offsets  []time.Duration // per call, from the first call's time in the file
	Rows     int             // data rows read
	Skipped  int             // rows not selected (OnlyPrefix)
	Rejected map[string]int  // reason → rows
	Examples []string        // the first few rejections, "line N: reason"
}

// RejectedTotal is the number of rejected rows.
func (r Replayed) RejectedTotal() int {
	n := 0
	for _, v := range r.Rejected {
		n += v
	}
	return n
}

// ReadReplay reads a CSV of calls. A row that cannot be used — wrong field count, a
// coordinate that is not a number or out of range, an unparsable time, outside the source's
// area, outside the city's districts after the move — is rejected with its reason and
// counted; it never stops the read. A file without the named columns is an error.
func ReadReplay(r io.Reader, src ReplaySource, c *city.City) (Replayed, error) {
	out := Replayed{Rejected: map[string]int{}}
	selected := 0 // rows past the -only selection: used or rejected
	reject := func(line int, reason string) {
		out.Rejected[reason]++
		if len(out.Examples) < 10 {
			out.Examples = append(out.Examples, fmt.Sprintf("line %d: %s", line, reason))
		}
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked per row, to reject rather than stop
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return out, fmt.Errorf("replay: reading the header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
	}
	idx := func(name string) (int, error) {
		if i, ok := col[name]; ok {
			return i, nil
		}
		return 0, fmt.Errorf("replay: no column %q in the header (%s)", name, strings.Join(header, ", "))
	}
	latI, err := idx(src.LatCol)
	if err != nil {
		return out, err
	}
	lngI, err := idx(src.LngCol)
	if err != nil {
		return out, err
	}
	timeI, err := idx(src.TimeCol)
	if err != nil {
		return out, err
	}
	titleI, hasTitle := col[src.TitleCol]
	type row struct {
		line  int
		at    time.Time
		p     city.Point
		title string
	}
	var rows []row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				out.Rows++
				reject(pe.StartLine, "malformed CSV: "+pe.Err.Error())
				continue
			}
			return out, fmt.Errorf("replay: %w", err)
		}
		line, _ := cr.FieldPos(0)
		out.Rows++
		if len(rec) != len(header) {
			reject(line, fmt.Sprintf("%d fields, the header has %d", len(rec), len(header)))
			continue
		}
		title := ""
		if hasTitle {
			title = strings.TrimSpace(rec[titleI])
			if src.OnlyPrefix != "" && !strings.HasPrefix(title, src.OnlyPrefix) {
				out.Skipped++
				continue
			}
		}
		if src.Limit > 0 && selected >= src.Limit {
			break
		}
		selected++
		lat, err1 := strconv.ParseFloat(strings.TrimSpace(rec[latI]), 64)
		lng, err2 := strconv.ParseFloat(strings.TrimSpace(rec[lngI]), 64)
		switch {
		case err1 != nil || math.IsNaN(lat) || math.IsInf(lat, 0):
			reject(line, "lat: not a number")
			continue
		case err2 != nil || math.IsNaN(lng) || math.IsInf(lng, 0):
			reject(line, "lng: not a number")
			continue
		case lat < -90 || lat > 90:
			reject(line, "lat: out of range")
			continue
		case lng < -180 || lng > 180:
			reject(line, "lng: out of range")
			continue
		case lat == 0 && lng == 0:
			reject(line, "no location (0, 0)")
			continue
		}
		at, err := time.Parse(src.TimeFormat, strings.TrimSpace(rec[timeI]))
		if err != nil {
			reject(line, "time: not in the format "+src.TimeFormat)
			continue
		}
		rows = append(rows, row{line: line, at: at, p: city.Point{Lat: lat, Lng: lng}, title: strings.TrimSpace(strings.TrimPrefix(title, src.OnlyPrefix))})
	}
	if len(rows) == 0 {
		return out, nil
	}
	// The move: median call → median station, as metres east and north.
	var dLat, dLng float64
	var srcMid city.Point
	if src.Relocate {
		lats, lngs := make([]float64, len(rows)), make([]float64, len(rows))
		for i, r := range rows {
			lats[i], lngs[i] = r.p.Lat, r.p.Lng
		}
		srcMid = city.Point{Lat: median(lats), Lng: median(lngs)}
		sl, sg := make([]float64, len(c.Stations)), make([]float64, len(c.Stations))
		for i, s := range c.Stations {
			sl[i], sg[i] = s.Lat, s.Lng
		}
		dst := city.Point{Lat: median(sl), Lng: median(sg)}
		dLat, dLng = dst.Lat-srcMid.Lat, dst.Lng-srcMid.Lng
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].at.Before(rows[j].at) })
	var first time.Time
	for _, r := range rows {
		p := r.p
		if src.Relocate {
			if d := city.DistanceM(srcMid, p); d > src.SourceRadiusKm*1000 {
				reject(r.line, fmt.Sprintf("outside the source's area (more than %.0f km from its median call)", src.SourceRadiusKm))
				continue
			}
			// Metres north stay metres north; metres east scale with the cosine of latitude.
			north := (p.Lat - srcMid.Lat)
			east := (p.Lng - srcMid.Lng) * math.Cos(srcMid.Lat*math.Pi/180)
			p.Lat = srcMid.Lat + dLat + north
			p.Lng = srcMid.Lng + dLng + east/math.Cos(p.Lat*math.Pi/180)
		}
		if _, ok := c.DistrictAt(p); !ok {
			reject(r.line, "outside the city's districts"+map[bool]string{true: " after the move", false: ""}[src.Relocate])
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
	return out, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// triage maps words of a call's title (English 911 call types, as in the Montgomery County
// data) to a priority and category. The first match wins; the rest are priority 3, other.
// The mapping follows the usual dispatch-protocol grouping: immediately life-threatening
// (cardiac, breathing, stroke, unconscious, major bleeding or penetrating trauma) is 1;
// serious but not immediately life-threatening is 2; the rest 3.
var triage = []struct {
	word     string
	priority int
	category contract.Category
}{
	{"CARDIAC", 1, contract.CategoryCardiac},
	{"RESPIRATORY", 1, contract.CategoryRespiratory},
	{"CHOKING", 1, contract.CategoryRespiratory},
	{"STROKE", 1, contract.CategoryStroke},
	{"CVA", 1, contract.CategoryStroke},
	{"UNCONSCIOUS", 1, contract.CategoryOther},
	{"UNRESPONSIVE", 1, contract.CategoryOther},
	{"HEMORRHAGING", 1, contract.CategoryTrauma},
	{"SHOOTING", 1, contract.CategoryTrauma},
	{"STABBING", 1, contract.CategoryTrauma},
	{"AMPUTATION", 1, contract.CategoryTrauma},
	{"ELECTROCUTION", 1, contract.CategoryTrauma},
	{"VEHICLE ACCIDENT", 2, contract.CategoryTrauma},
	{"HEAD INJURY", 2, contract.CategoryTrauma},
	{"BURN", 2, contract.CategoryTrauma},
	{"MATERNITY", 2, contract.CategoryMaternity},
	{"SEIZURE", 2, contract.CategoryOther},
	{"OVERDOSE", 2, contract.CategoryOther},
	{"POISONING", 2, contract.CategoryOther},
	{"CARBON MONOXIDE", 2, contract.CategoryOther},
	{"ALTERED MENTAL", 2, contract.CategoryOther},
	{"DIABETIC", 2, contract.CategoryOther},
	{"ALLERGIC", 2, contract.CategoryOther},
	{"SYNCOP", 2, contract.CategoryOther},
	{"FEVER", 3, contract.CategoryFever},
	{"FALL", 3, contract.CategoryTrauma},
	{"FRACTURE", 3, contract.CategoryTrauma},
	{"ASSAULT", 3, contract.CategoryTrauma},
	{"LACERATION", 3, contract.CategoryTrauma},
}

// Triage is the priority and category of a call from its title.
func Triage(title string) (int, contract.Category) {
	t := strings.ToUpper(title)
	for _, m := range triage {
		if strings.Contains(t, m.word) {
			return m.priority, m.category
		}
	}
	return 3, contract.CategoryOther
}

// ReplayConfig configures `ems120 replay`.
type ReplayConfig struct {
	Speed   float64 // the file's clock against real (live) or simulated time: 60 = an hour a minute
	City    *city.City
	Brokers []string // live: external Kafka; nil = embedded
	DSN     string   // live: external PostgreSQL; "" = throwaway
	Sim     SimConfig
	// Progress gets a line every few seconds (stderr); nil for none.
	Progress io.Writer
	Logger   *slog.Logger
}

// Replay targets.
const (
	IntoLive     = "live"
	IntoSimulate = "simulate"
)

// ReplayLive writes the calls onto ems.calls of a running ems120 (embedded broker and
// database unless given), each at its offset ÷ speed after the first, received when it is
// written, with the city's own fleet whose crews free their unit as soon as they read the
// assignment. The summary comes from the durable record (FromRecord) plus the latency
// measured on the topics, as in `loadtest -mode calls`.
func ReplayLive(ctx context.Context, cfg ReplayConfig, rp Replayed) (LoadResult, error) {
	if cfg.Speed <= 0 {
		return LoadResult{}, errors.New("replay: -speed must be positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	progress := progressTo(cfg.Progress, "replay")
	lv, err := startLive(ctx, cfg.Brokers, cfg.DSN, cfg.City, service.Config{}, cfg.Logger, progress)
	if err != nil {
		return LoadResult{}, err
	}
	span := time.Duration(0)
	if n := len(rp.Offsets); n > 0 {
		span = time.Duration(float64(rp.Offsets[n-1]) / cfg.Speed)
	}
	progress("%d calls over %s at %g× (%s)", len(rp.Calls), span.Round(time.Second), cfg.Speed, lv.brokers)
	due := func(el time.Duration, sent int) (int, bool) {
		fileEl := time.Duration(float64(el) * cfg.Speed)
		n := sort.Search(len(rp.Offsets), func(i int) bool { return rp.Offsets[i] > fileEl })
		return n, n == len(rp.Offsets)
	}
	i := 0
	next := func(now time.Time) contract.Call {
		c := rp.Calls[i]
		i++
		c.ReceivedAt = now.UTC()
		return c
	}
	start := time.Now()
	res, runErr := driveCalls(ctx, lv, true, due, len(rp.Calls), next, cfg.Logger, progress)
	if runErr == nil {
		// The record's figures: every call, what became of it, ETA and distance.
		rec, err := FromRecord(context.WithoutCancel(ctx), lv.svc.Store(), time.Since(start))
		if err != nil {
			runErr = err
		} else {
			res.Summary.Within15MinPct, res.Summary.Within5KmPct = rec.Within15MinPct, rec.Within5KmPct
			res.Summary.ResponseSP50, res.Summary.ResponseSP90 = rec.ResponseSP50, rec.ResponseSP90
			res.Summary.Cancelled = rec.Cancelled
		}
	}
	res.Summary.Rejected += rp.RejectedTotal()
	res.Summary.Calls += rp.RejectedTotal()
	if err := lv.stop(); err != nil && runErr == nil {
		runErr = err
	}
	return res, runErr
}

// ReplaySimulate runs the simulator on the replayed calls instead of its synthetic demand:
// the same warm-up, then the file's calls at their offsets ÷ speed from the start, with
// the city's fleet and hospitals. Rejected rows count as rejected calls.
func ReplaySimulate(cfg ReplayConfig, rp Replayed) (SimResult, error) {
	if cfg.Speed <= 0 {
		return SimResult{}, errors.New("replay: -speed must be positive")
	}
	sc := cfg.Sim
	sc.City = cfg.City
	sc.Replay = make([]ReplayCall, len(rp.Calls))
	for i, c := range rp.Calls {
		sc.Replay[i] = ReplayCall{Call: c, After: time.Duration(float64(rp.Offsets[i]) / cfg.Speed)}
	}
	if n := len(sc.Replay); n > 0 && sc.Hours <= 0 {
		// Until the last call, and two hours for it to be served.
		sc.Hours = (sc.Replay[n-1].After + 2*time.Hour).Hours()
	}
	r, err := Simulate(sc)
	if err != nil {
		return r, err
	}
	r.Summary.Rejected += rp.RejectedTotal()
	r.Summary.Calls += rp.RejectedTotal()
	return r, nil
}
