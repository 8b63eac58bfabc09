package loadtest

import (
	"context"
	"slices"
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
	res, err := Run(ctx, Config{Mode: ModeCalls, Rate: 200, Duration: 3 * time.Second, DSN: dsn, Units: 150, Recycle: true, Seed: 2})
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
	res, err := Run(ctx, Config{Mode: ModePings, Rate: 5000, Duration: 2 * time.Second, DSN: dsn, Units: 500, Seed: 2})
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
	if _, err := Run(context.Background(), Config{Mode: "both"}); err == nil {
		t.Fatal("mode both accepted")
	}
}

// The load test's book: a call's latency comes from its first assignment; the same
// assignment read again (a replayed outbox row) is not a duplicate, a different one is; an
// assignment for a call the run did not write counts for nothing.
func TestBookCountsFirstAssignmentsAndDuplicates(t *testing.T) {
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	bk := newBook(4)
	bk.start = start
	if !bk.write("A", sentCall{at: 10 * time.Millisecond}) || !bk.write("B", sentCall{at: 1500 * time.Millisecond}) {
		t.Fatal("two calls not written")
	}
	if bk.write("A", sentCall{at: 20 * time.Millisecond}) {
		t.Fatal("call A written twice")
	}
	a1, a2 := []byte(`{"call_id":"A","unit_id":"U1"}`), []byte(`{"call_id":"A","unit_id":"U2"}`)
	bk.read([]byte("A"), a1, start.Add(30*time.Millisecond))
	bk.read([]byte("A"), a1, start.Add(40*time.Millisecond))
	bk.read([]byte("X"), a2, start.Add(50*time.Millisecond))
	bk.read([]byte("B"), []byte(`{"call_id":"B"}`), start.Add(1600*time.Millisecond))
	if len(bk.duplicate) != 0 {
		t.Fatalf("the same assignment twice and one for another run's call are not duplicates: %v", bk.duplicate)
	}
	bk.read([]byte("A"), a2, start.Add(60*time.Millisecond))
	if !bk.duplicate["A"] || len(bk.duplicate) != 1 {
		t.Fatalf("a second, different assignment for A is a duplicate: %v", bk.duplicate)
	}
	if want := []float64{20, 100}; !slices.Equal(bk.latencies, want) {
		t.Fatalf("latencies %v ms, want %v", bk.latencies, want)
	}
	if want := []float64{0.01, 1.5}; !slices.Equal(bk.writtenAt, want) {
		t.Fatalf("written at %v s, want %v", bk.writtenAt, want)
	}
	if want := []int{1, 1}; !slices.Equal(bk.perSecond, want) || !bk.lastAssign.Equal(start.Add(1600*time.Millisecond)) {
		t.Fatalf("per second %v (want %v), last assignment at %v", bk.perSecond, want, bk.lastAssign)
	}
}

// A short console load test: with no client nothing is delivered; with clients every one of
// them gets every incident event of every call (received, assigned, on scene, closed), and
// none is dropped.
func TestLoadConsole(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Mode: ModeConsole, Rate: 10, PingRate: 100, Clients: 4, Duration: 2 * time.Second,
		DSN: dsn, Units: 100, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Console) != 2 {
		t.Fatalf("%d phases, want 2", len(res.Console))
	}
	none, some := res.Console[0], res.Console[1]
	if none.Clients != 0 || none.Events != 0 || none.HeapPerClientB != nil || none.Calls < 15 || none.Pings < 150 {
		t.Fatalf("phase without clients: %+v", none)
	}
	if some.Clients != 4 || some.Dropped != 0 || some.DeliveryMsP99 == nil || some.HeapPerClientB == nil || some.DecisionMsP99 == nil {
		t.Fatalf("phase with clients: %+v", some)
	}
	// Each call is received, assigned, on scene and closed: four events, to each client.
	if want := 4 * 4 * some.Calls; some.Events != want {
		t.Fatalf("%d events delivered for %d calls to 4 clients, want %d", some.Events, some.Calls, want)
	}
	if res.Summary.Lost != 0 || res.Summary.DuplicateAssignments != 0 {
		t.Fatalf("summary %+v", res.Summary)
	}
}
