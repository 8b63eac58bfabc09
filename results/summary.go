// Package results holds what a run reports: the summary JSON of CONTRACT.md and the series a
// simulation or a load test measured. The commands print them, report draws them; nothing
// here does I/O beyond writing to the io.Writer it is given.
package results

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
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
	// Surveillance (simulate): the injected cluster detected, how many hours after it began,
	// and the alerts touching no injected cell.
	OutbreakDetected   *bool    `json:"outbreak_detected"`
	DetectionDelayH    *float64 `json:"detection_delay_h"`
	FalseAlarms        *int     `json:"false_alarms"`
	FalseAlarmsPerWeek *float64 `json:"false_alarms_per_week"`
	// The KPIs of China's 2020 pre-hospital guidance, and decontamination.
	EnRouteWithin3MinPct     *float64 `json:"en_route_within_3min_pct"`
	AmbulancesPer30k         *float64 `json:"ambulances_per_30k"`
	NegativePressurePct      *float64 `json:"negative_pressure_pct"`
	DecontaminationUnitHours *float64 `json:"decontamination_unit_hours"`
	// Surge mode and the epidemic (simulate).
	LateIsolationPct   *float64 `json:"late_isolation_pct"`
	LateP1Pct          *float64 `json:"late_p1_pct"`
	FangcangAdmissions *int     `json:"fangcang_admissions"`
	StandbyBedsOpened  *int     `json:"standby_beds_opened"`
	SurgeSwitches      *int     `json:"surge_switches"`
	DeferredCalls      *int     `json:"deferred_calls"`
	DeferredWaitSP90   *float64 `json:"deferred_wait_s_p90"`
	QueueMax           *int     `json:"queue_max"`
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

// F2 returns a pointer to v rounded to 0.01, for ratios near 1.
func F2(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	r := math.Round(v*100) / 100
	return &r
}

// Percentile is the p-th percentile of v by the nearest-rank method (NaN for none).
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}
