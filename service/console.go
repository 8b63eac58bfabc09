package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ems120/ems120/dispatch"
)

// The endpoints behind the operator console that the API did not have before it: the live
// incident list, the ranked alternatives for a call, the city's map layers, and the stats
// line the feed sends every second.

// liveStats is the feed's "stats" event and the snapshot's stats: the KPIs of now.
type liveStats struct {
	Role              role           `json:"role"`
	Epoch             int64          `json:"epoch,omitempty"`
	Reason            string         `json:"reason,omitempty"` // why not deciding, if not
	Calls             int            `json:"calls"`            // since this process started
	Assigned          int            `json:"assigned"`
	WithinStandardPct float64        `json:"within_standard_pct"`
	LatencyP50Ms      float64        `json:"decision_latency_p50_ms"`
	LatencyP99Ms      float64        `json:"decision_latency_p99_ms"`
	Live              int            `json:"live"`
	Queued            int            `json:"queued"`
	Units             map[string]int `json:"units"` // by status
	CoveragePct       float64        `json:"coverage_pct"`
	DoubleCoveragePct float64        `json:"double_coverage_pct"`
	OverdueReports    int            `json:"overdue_reports"`
	Clients           int            `json:"clients"` // connected to the feed
	Surge             bool           `json:"surge"`   // surge mode is on
}

func (s *Service) liveStats() liveStats {
	st := s.metrics.status(s.Stats())
	one, two, _ := s.cov.summary()
	rs := s.roleState()
	out := liveStats{Role: rs.role, Epoch: s.store.Epoch(), Reason: s.notReady(rs), Calls: st.Calls, Assigned: st.Assigned,
		WithinStandardPct: round1(st.WithinStandardPct()), LatencyP50Ms: ms(st.LatencyP50), LatencyP99Ms: ms(st.LatencyP99),
		Live: st.Live, Queued: st.Queued, Units: map[string]int{}, CoveragePct: round1(one), DoubleCoveragePct: round1(two),
		Clients: s.live.clients()}
	now := s.cfg.Now()
	s.mu.Lock()
	for st, n := range s.engine.UnitsByStatus() {
		out.Units[string(st)] = n
	}
	out.OverdueReports = len(s.hospitals.Overdue(now))
	out.Surge = s.engine.Surge().On
	s.mu.Unlock()
	return out
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"error":` + strconv.Quote(err.Error()) + `}`)
	}
	return b
}

// getCalls lists the live incidents, by priority then age (the call board's order).
func (s *Service) getCalls(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	incs := s.engine.Incidents()
	out := make([]liveIncident, len(incs))
	for i, inc := range incs {
		out[i] = s.incidentView(inc)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b liveIncident) int {
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		return a.ReceivedAt.Compare(b.ReceivedAt)
	})
	writeJSON(w, http.StatusOK, map[string]any{"calls": out, "count": len(out)})
}

// candidateView is one ranked alternative unit for a call.
type candidateView struct {
	UnitID         string `json:"unit_id"`
	Kind           string `json:"kind"`
	StationID      string `json:"station_id,omitempty"`
	DistanceM      int    `json:"distance_m"`
	ETAS           int    `json:"eta_s"`
	WithinStandard bool   `json:"within_standard"`
	Current        bool   `json:"current"` // the unit on the call now
}

// getCandidates ranks the available units for a live call by ETA: the dispatcher's
// alternatives to the recommendation (?n=, default 5, at most 50).
func (s *Service) getCandidates(w http.ResponseWriter, r *http.Request) {
	n := 5
	if v := r.URL.Query().Get("n"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > 50 {
			writeError(w, http.StatusBadRequest, "n", "want a whole number from 1 to 50")
			return
		}
		n = k
	}
	id := r.PathValue("id")
	s.mu.Lock()
	cands, err := s.engine.Candidates(id, n, s.cfg.Now())
	s.mu.Unlock()
	if errors.Is(err, dispatch.ErrUnknownCall) {
		writeError(w, http.StatusNotFound, "call_id", err.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	out := make([]candidateView, len(cands))
	for i, c := range cands {
		out[i] = candidateView{UnitID: c.UnitID, Kind: string(c.Kind), StationID: c.StationID, DistanceM: int(c.DistanceM + 0.5),
			ETAS: int(c.ETA.Round(time.Second) / time.Second), WithinStandard: c.WithinStandard, Current: c.Current}
	}
	writeJSON(w, http.StatusOK, map[string]any{"call_id": id, "candidates": out})
}

// getCity serves the map's fixed layers: district outlines (GeoJSON) and stations.
func (s *Service) getCity(w http.ResponseWriter, r *http.Request) {
	c := s.cfg.City
	var b strings.Builder
	b.WriteString(`{"name":`)
	b.Write(mustJSON(c.Name))
	b.WriteString(`,"districts":{"type":"FeatureCollection","features":[`)
	for i, d := range c.Districts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"Feature","properties":{"code":%s,"name":%s,"population":%d,"central":%t},"geometry":%s}`,
			mustJSON(d.Code), mustJSON(d.Name), d.Population, d.Central, d.Boundary)
	}
	b.WriteString(`]},"stations":`)
	b.Write(mustJSON(c.Stations))
	b.WriteString(`,"standard_radius_m":`)
	b.WriteString(strconv.FormatFloat(s.standardRadiusM(), 'f', 0, 64))
	b.WriteString(`,"ack_timeout_s":`)
	b.WriteString(strconv.Itoa(int(s.ackTimeout().Seconds())))
	b.WriteString("}")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write([]byte(b.String()))
}

func (s *Service) standardRadiusM() float64 {
	if s.cfg.StandardRadiusM > 0 {
		return s.cfg.StandardRadiusM
	}
	return dispatch.DefaultStandardRadiusM
}
