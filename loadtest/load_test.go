package loadtest

import (
	"context"
	"testing"
	"time"

	"github.com/ems120/ems120/internal/testenv"
)

// A short calls load test end to end: every call written is assigned exactly once, each has
// a latency and a write time, and the raw Kafka ceiling was measured in the same run.
func TestLoadCalls(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Load(ctx, LoadConfig{Mode: ModeCalls, Rate: 200, Duration: 3 * time.Second, DSN: dsn, Units: 150, Recycle: true, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	if res.Produced < 400 {
		t.Fatalf("produced %d calls in 3 s at 200/s", res.Produced)
	}
	if s.Calls != res.Produced || s.Assigned != res.Produced || s.Lost != 0 || s.DuplicateAssignments != 0 {
		t.Fatalf("summary %+v for %d calls: want every call assigned once", s, res.Produced)
	}
	if len(res.LatencyMs) != s.Assigned || len(res.WrittenAtS) != s.Assigned {
		t.Fatalf("%d latencies, %d write times for %d assignments", len(res.LatencyMs), len(res.WrittenAtS), s.Assigned)
	}
	if s.LatencyMsP50 == nil || s.LatencyMsP99 == nil || *s.LatencyMsP50 > *s.LatencyMsP99 || *s.LatencyMsP99 > res.LatencyMax {
		t.Fatalf("latency p50 %v p99 %v max %v: inconsistent", s.LatencyMsP50, s.LatencyMsP99, res.LatencyMax)
	}
	if s.RawKafkaPerS == nil || *s.RawKafkaPerS <= 0 || res.RawMessages == 0 {
		t.Fatalf("raw Kafka not measured: %v over %d messages", s.RawKafkaPerS, res.RawMessages)
	}
	total := 0
	for _, x := range res.Throughput {
		total += x.Calls
	}
	if total != s.Assigned {
		t.Fatalf("throughput per second sums to %d, want %d", total, s.Assigned)
	}
}

// A short pings load test: every ping written is applied to the fleet index.
func TestLoadPings(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Load(ctx, LoadConfig{Mode: ModePings, Rate: 5000, Duration: 2 * time.Second, DSN: dsn, Units: 500, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Produced < 5000 || res.PingsApplied != res.Produced || res.Summary.Lost != 0 || res.Summary.Rejected != 0 {
		t.Fatalf("%d pings written, %d applied, summary %+v", res.Produced, res.PingsApplied, res.Summary)
	}
	if res.Summary.ThroughputPerS == nil || res.Summary.RawKafkaPerS == nil {
		t.Fatalf("summary %+v lacks throughput or the raw Kafka ceiling", res.Summary)
	}
}

func TestLoadRejectsUnknownMode(t *testing.T) {
	if _, err := Load(context.Background(), LoadConfig{Mode: "both"}); err == nil {
		t.Fatal("mode both accepted")
	}
}
