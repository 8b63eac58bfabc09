package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/ems120/ems120/sql"
)

// Summary is the summary JSON of CONTRACT.md. Every key is always present; a key that does
// not apply to a command is null (a pointer left nil), never absent.
type Summary struct {
	Calls                int      `json:"calls"`
	Assigned             int      `json:"assigned"`
	Queued               int      `json:"queued"`
	Cancelled            int      `json:"cancelled"`
	Lost                 int      `json:"lost"`
	DuplicateAssignments int      `json:"duplicate_assignments"`
	Rejected             int      `json:"rejected"`
	Within15MinPct       *float64 `json:"within_15min_pct"`
	Within5KmPct         *float64 `json:"within_5km_pct"`
	ResponseSP50         *float64 `json:"response_s_p50"`
	ResponseSP90         *float64 `json:"response_s_p90"`
	LatencyMsP50         *float64 `json:"latency_ms_p50"`
	LatencyMsP99         *float64 `json:"latency_ms_p99"`
	ThroughputPerS       *float64 `json:"throughput_per_s"`
	RawKafkaPerS         *float64 `json:"raw_kafka_per_s"`
	HospitalOverflow     *int     `json:"hospital_overflow"`
	OccupancyMaxPct      *float64 `json:"occupancy_max_pct"`
	OccupancySpreadPP    *float64 `json:"occupancy_spread_pp"`
	TransportAddedSMean  *float64 `json:"transport_added_s_mean"`
	CoveragePct          *float64 `json:"coverage_pct"`
	DoubleCoveragePct    *float64 `json:"double_coverage_pct"`
}

// Write prints the summary as one JSON object.
func (s Summary) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// Field is one key of the summary that applies, with its value.
type Field struct {
	Key   string
	Value any
}

// Fields lists the keys that apply (null ones left out), in the order of the JSON.
func (s Summary) Fields() []Field {
	var out []Field
	v, t := reflect.ValueOf(s), reflect.TypeOf(s)
	for i := 0; i < t.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				continue // does not apply
			}
			f = f.Elem()
		}
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, Field{key, f.Interface()})
	}
	return out
}

// WriteText prints the summary for a person: one "key  value" line per key that applies.
func (s Summary) WriteText(w io.Writer) error {
	for _, f := range s.Fields() {
		if _, err := fmt.Fprintf(w, "%-24s %v\n", f.Key, f.Value); err != nil {
			return err
		}
	}
	return nil
}

// F returns a pointer to v rounded to 0.1, for the optional keys.
func F(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	r := math.Round(v*10) / 10
	return &r
}

// FromRecord fills the call counts and response figures of a live run from the database:
// every call received, what became of it, and the ETA and distance of its first assignment.
// A call is "lost" if it is in none of assigned, queued, cancelled — which must never happen.
// A duplicate is a call served by more than one unit at the end of the run (the database's
// unique index makes that impossible; the count proves it). Reassignments — a silent, lost,
// released or pre-empted unit, an operator's override — replace the live assignment and are
// not duplicates.
func FromRecord(ctx context.Context, st *sql.Store, elapsed time.Duration) (Summary, error) {
	var s Summary
	var within15, within5, p50, p90 *float64
	err := st.Pool.QueryRow(ctx, `
		WITH first AS (SELECT DISTINCT ON (call_id) call_id, eta_s, distance_m FROM assignments ORDER BY call_id, seq)
		SELECT
			(SELECT count(*) FROM calls),
			(SELECT count(*) FROM calls c WHERE EXISTS (SELECT 1 FROM assignments a WHERE a.call_id = c.call_id)),
			(SELECT count(*) FROM calls WHERE status = 'queued'),
			(SELECT count(*) FROM calls WHERE status = 'cancelled'),
			(SELECT count(*) FROM calls c WHERE status NOT IN ('queued', 'cancelled')
				AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.call_id = c.call_id)),
			(SELECT count(*) FROM (SELECT call_id FROM units WHERE call_id IS NOT NULL GROUP BY call_id HAVING count(*) > 1) d),
			(SELECT 100.0 * avg((eta_s <= 900)::int) FROM first),
			(SELECT 100.0 * avg((distance_m <= 5000)::int) FROM first),
			(SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY eta_s) FROM first),
			(SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY eta_s) FROM first)`).
		Scan(&s.Calls, &s.Assigned, &s.Queued, &s.Cancelled, &s.Lost, &s.DuplicateAssignments, &within15, &within5, &p50, &p90)
	if err != nil {
		return s, fmt.Errorf("summary: %w", err)
	}
	round := func(p *float64) *float64 {
		if p == nil {
			return nil
		}
		return F(*p)
	}
	s.Within15MinPct, s.Within5KmPct, s.ResponseSP50, s.ResponseSP90 = round(within15), round(within5), round(p50), round(p90)
	if elapsed > 0 {
		s.ThroughputPerS = F(float64(s.Calls) / elapsed.Seconds())
	}
	return s, nil
}
