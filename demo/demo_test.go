package demo

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/sql"
)

// The whole demo, briefly and quickly: calls flow in, units are dispatched, the simulated
// crews drive, finish and free their units, and the summary accounts for every call.
func TestDemo(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := Run(ctx, Config{
		KafkaListen: "127.0.0.1:0", DSN: dsn, HTTPAddr: "127.0.0.1:0",
		RatePerMin: 600, Speed: 200, Duration: 12 * time.Second, Seed: 3,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Calls < 30 {
		t.Fatalf("only %d calls in 12 s at 10/s", sum.Calls)
	}
	if sum.Lost != 0 || sum.DuplicateAssignments != 0 {
		t.Fatalf("summary %+v: lost or duplicated calls", sum)
	}
	if sum.Assigned+sum.Queued+sum.Cancelled != sum.Calls {
		t.Fatalf("summary %+v does not account for every call", sum)
	}
	if sum.Within15MinPct == nil || sum.ResponseSP50 == nil || sum.LatencyMsP99 == nil {
		t.Fatalf("summary %+v lacks live figures", sum)
	}
	// Crews at 200× finish an incident in well under 12 s: incidents closed, units reused.
	st, err := sql.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var closed, progressed, silent int
	if err := st.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM calls WHERE status = 'closed'),
		(SELECT count(DISTINCT state) FROM incident_events WHERE state IN ('acknowledged', 'en_route', 'on_scene', 'transporting', 'at_hospital')),
		(SELECT count(*) FROM incident_events WHERE type = 'ack_timeout')`).
		Scan(&closed, &progressed, &silent); err != nil {
		t.Fatal(err)
	}
	if silent != 0 {
		t.Errorf("%d dispatches timed out: the simulated crews do not acknowledge", silent)
	}
	if closed == 0 {
		t.Errorf("no incident closed: the simulated fleet never freed a unit")
	}
	if progressed < 4 {
		t.Errorf("incidents went through %d of the acknowledged, en route, on scene, transporting, at hospital states; want at least 4", progressed)
	}
}
