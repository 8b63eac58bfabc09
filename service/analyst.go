package service

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/sql"
)

// The analyst view's figures and downloads. ?hours=N sets the window (default 24, at most
// 8784: a year).

func (s *Service) window(w http.ResponseWriter, r *http.Request) (time.Time, bool) {
	hours := 24
	if v := r.URL.Query().Get("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 8784 {
			writeError(w, http.StatusBadRequest, "hours", "want a whole number of hours from 1 to 8784")
			return time.Time{}, false
		}
		hours = n
	}
	return s.cfg.Now().Add(-time.Duration(hours) * time.Hour), true
}

// download reads the window and, when it is good, sets the headers of a file to download.
func (s *Service) download(w http.ResponseWriter, r *http.Request, contentType, filename string) (time.Time, bool) {
	since, ok := s.window(w, r)
	if ok {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	}
	return since, ok
}

// getKPIs: the KPIs now (as the feed's stats), and response compliance by hour and district.
func (s *Service) getKPIs(w http.ResponseWriter, r *http.Request) {
	since, ok := s.window(w, r)
	if !ok {
		return
	}
	byHour, err := s.store.ResponseByHour(r.Context(), since)
	var guidance sql.Guidance
	if err == nil {
		guidance, err = s.store.GuidanceSince(r.Context(), since)
	}
	if err == nil {
		var byDistrict []sql.ResponseRow
		if byDistrict, err = s.store.ResponseByDistrict(r.Context(), since); err == nil {
			s.cov.mu.Lock()
			cov := s.cov.tracker.ByDistrict()
			s.cov.mu.Unlock()
			writeJSON(w, http.StatusOK, map[string]any{"since": since, "now": s.liveStats(),
				"by_hour": nonNil(byHour), "by_district": nonNil(byDistrict), "coverage_by_district": cov,
				"guidance": s.guidanceNow(guidance)})
			return
		}
	}
	writeError(w, http.StatusServiceUnavailable, "", err.Error())
}

// guidanceView is the guidance KPIs: the record's shares over the window and the fleet's
// ratios now.
type guidanceView struct {
	sql.Guidance
	AmbulancesPer30k    float64 `json:"ambulances_per_30k"`
	NegativePressurePct float64 `json:"negative_pressure_pct"`
	Decontaminating     int     `json:"units_decontaminating"`
}

// guidanceNow adds the fleet's ratios, from the engine's published counts, to the record's
// shares.
func (s *Service) guidanceNow(g sql.Guidance) guidanceView {
	st := s.Stats()
	per30k, np := city.FleetRatios(st.Units, st.NegativePressure, s.cfg.City.Population())
	return guidanceView{Guidance: g, AmbulancesPer30k: round2(per30k), NegativePressurePct: round1(np),
		Decontaminating: st.Decontaminating}
}

// guidanceCache holds the record's guidance shares of the last 24 hours for the metrics.
type guidanceCache struct {
	mu sync.Mutex
	g  sql.Guidance
	at time.Time // when they were read (wall clock)
}

// guidanceTTL is how long the metrics' guidance shares are kept before a scrape reads them
// again; guidanceRead bounds that read, a scrape must not hang on the record.
const (
	guidanceTTL  = time.Minute
	guidanceRead = 2 * time.Second
)

// guidance24h returns the record's guidance shares of the last 24 hours, read again when a
// scrape finds them older than guidanceTTL; a failed read keeps the old figures (and is
// tried again after guidanceTTL).
func (s *Service) guidance24h() sql.Guidance {
	c := &s.guidance
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < guidanceTTL { // never read: the zero time is long past
		return c.g
	}
	ctx, cancel := context.WithTimeout(context.Background(), guidanceRead)
	defer cancel()
	if g, err := s.store.GuidanceSince(ctx, s.cfg.Now().Add(-24*time.Hour)); err == nil {
		c.g = g
	} else {
		s.log.Warn("metrics: reading the guidance KPIs from the record (the last figures are kept)", "err", err)
	}
	c.at = time.Now()
	return c.g
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

var exportHeader = []string{"call_id", "received_at", "lat", "lng", "priority", "category", "infectious", "status",
	"district", "eta_s", "distance_m", "within_standard", "response_s"}

func (c callRecord) fields() []string {
	opt := func(p *int) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(*p)
	}
	within, resp := "", ""
	if c.WithinStandard != nil {
		within = strconv.FormatBool(*c.WithinStandard)
	}
	if c.ResponseS != nil {
		resp = strconv.FormatFloat(*c.ResponseS, 'f', 1, 64)
	}
	return []string{c.CallID, c.ReceivedAt.UTC().Format(time.RFC3339), strconv.FormatFloat(c.Lat, 'f', 6, 64),
		strconv.FormatFloat(c.Lng, 'f', 6, 64), strconv.Itoa(c.Priority), c.Category, strconv.FormatBool(c.Infectious),
		c.Status, c.District, opt(c.ETAS), opt(c.DistanceM), within, resp}
}

type callRecord sql.CallExport

// exportCallsCSV downloads the window's calls as CSV.
func (s *Service) exportCallsCSV(w http.ResponseWriter, r *http.Request) {
	since, ok := s.download(w, r, "text/csv; charset=utf-8", "ems120-calls.csv")
	if !ok {
		return
	}
	cw := csv.NewWriter(w)
	_ = cw.Write(exportHeader)
	err := s.store.ExportCalls(r.Context(), since, func(c sql.CallExport) error { return cw.Write(callRecord(c).fields()) })
	cw.Flush()
	if err != nil {
		s.log.Warn("export calls", "err", err) // the status line is gone; the file ends short
	}
}

// exportCallsGeoJSON downloads the window's calls as a GeoJSON FeatureCollection of points.
func (s *Service) exportCallsGeoJSON(w http.ResponseWriter, r *http.Request) {
	since, ok := s.download(w, r, "application/geo+json", "ems120-calls.geojson")
	if !ok {
		return
	}
	_, _ = w.Write([]byte(`{"type":"FeatureCollection","features":[`))
	first := true
	err := s.store.ExportCalls(r.Context(), since, func(c sql.CallExport) error {
		props := map[string]any{}
		for i, f := range callRecord(c).fields() {
			if i != 2 && i != 3 && f != "" {
				props[exportHeader[i]] = f
			}
		}
		feat, _ := json.Marshal(map[string]any{"type": "Feature", "properties": props,
			"geometry": map[string]any{"type": "Point", "coordinates": []float64{c.Lng, c.Lat}}})
		if !first {
			_, _ = w.Write([]byte(","))
		}
		first = false
		_, err := w.Write(feat)
		return err
	})
	_, _ = w.Write([]byte("]}\n"))
	if err != nil {
		s.log.Warn("export calls", "err", err)
	}
}
