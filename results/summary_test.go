package results

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every key of the contract is in the JSON, null when it does not apply; the text form and
// Fields leave out what does not apply, in the JSON's order.
func TestSummaryKeysAlwaysPresent(t *testing.T) {
	s := Summary{Calls: 3, Assigned: 2, Queued: 1, LatencyMsP99: F(12.345)}
	var buf bytes.Buffer
	if err := s.Write(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if n := reflect.TypeOf(s).NumField(); len(m) != n {
		t.Fatalf("%d keys in the JSON, the summary has %d fields", len(m), n)
	}
	if v, ok := m["coverage_pct"]; !ok || v != nil {
		t.Fatalf("coverage_pct = %v (present %v), want null", v, ok)
	}
	if m["latency_ms_p99"] != 12.3 {
		t.Fatalf("latency_ms_p99 = %v, want 12.3", m["latency_ms_p99"])
	}
	var keys []string
	for _, f := range s.Fields() {
		keys = append(keys, f.Key)
	}
	if want := "calls assigned queued cancelled lost duplicate_assignments rejected latency_ms_p99"; strings.Join(keys, " ") != want {
		t.Fatalf("fields %v, want %s", keys, want)
	}
	buf.Reset()
	if err := s.WriteText(&buf); err != nil || !strings.Contains(buf.String(), "latency_ms_p99           12.3\n") {
		t.Fatalf("text %q (%v)", buf.String(), err)
	}
}

func TestFAndPercentile(t *testing.T) {
	if F(math.NaN()) != nil || F(math.Inf(1)) != nil || *F(2.25) != 2.3 {
		t.Fatal("F: NaN and infinity are null, the rest rounds to 0.1")
	}
	v := []float64{5, 1, 4, 2, 3}
	for _, tt := range []struct{ give, want float64 }{{50, 3}, {99, 5}, {0, 1}, {20, 1}, {21, 2}} {
		if got := Percentile(v, tt.give); got != tt.want {
			t.Errorf("Percentile(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
	if !math.IsNaN(Percentile(nil, 50)) || !slices.Equal(v, []float64{5, 1, 4, 2, 3}) {
		t.Fatal("Percentile of nothing is NaN, and the input is left as it was")
	}
}
