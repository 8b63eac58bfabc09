package dispatch

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/contract"
)

func surgeOn(t *testing.T, e *Engine, at time.Time) {
	t.Helper()
	if _, _, err := e.SetSurge(true, "test: fever calls rising", "sup", at); err != nil {
		t.Fatal(err)
	}
}

func TestSurgeKeepsNegativePressureUnitsForFeverCalls(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "np", offset(centre, 800, 0), contract.KindNegativePressure)
	addUnit(t, e, "bls", offset(centre, 30000, 0), contract.KindBLS)
	surgeOn(t, e, t0)
	evs := e.Receive(call("C2", centre, 2), t0)
	if a := lastAssignment(t, evs); a == nil || a.UnitID != "bls" {
		t.Fatalf("a priority-2 cardiac call in surge mode takes the far BLS, not the reserved negative-pressure unit: %+v", evs)
	}
	evs = e.Receive(call("C1", centre, 1), t0)
	if a := lastAssignment(t, evs); a == nil || a.UnitID != "np" {
		t.Fatalf("a priority-1 call takes the nearest unit of any kind, even in surge mode: %+v", evs)
	}
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
	// Off: the same call takes the nearer negative-pressure unit.
	e2 := newEngine(t)
	addUnit(t, e2, "np", offset(centre, 800, 0), contract.KindNegativePressure)
	addUnit(t, e2, "bls", offset(centre, 30000, 0), contract.KindBLS)
	if a := lastAssignment(t, e2.Receive(call("C2", centre, 2), t0)); a == nil || a.UnitID != "np" {
		t.Fatalf("without surge mode the nearest unit goes: %+v", a)
	}
}

func TestSurgeDefersPriority4UpToItsMaximumWait(t *testing.T) {
	e := New(Config{Travel: newEngine(t).cfg.Travel, AckTimeout: -1})
	for _, id := range []string{"a", "b", "c"} {
		addUnit(t, e, id, offset(centre, 500, 0), contract.KindBLS)
	}
	surgeOn(t, e, t0)
	e.Receive(call("P2a", centre, 2), t0)
	e.Receive(call("P2b", centre, 2), t0) // one unit of three left: none to spare
	evs := e.Receive(call("P4", centre, 4), t0)
	if types(evs) != "received,queued" || !strings.Contains(evs[1].Reason, "deferred up to 30m") {
		t.Fatalf("a priority-4 call in surge mode is deferred: %+v", evs)
	}
	if evs := e.Tick(t0.Add(29 * time.Minute)); len(evs) != 0 {
		t.Fatalf("served before its maximum wait: %+v", evs)
	}
	evs = e.Tick(t0.Add(30 * time.Minute))
	if a := lastAssignment(t, evs); a == nil || evs[0].CallID != "P4" || !strings.HasPrefix(a.Reason, ReasonDeferredEnded) {
		t.Fatalf("at its maximum wait the deferred call is served: %+v", evs)
	}
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
	// With half the fleet or more available, nothing is deferred.
	e2 := newEngine(t)
	addUnit(t, e2, "a", offset(centre, 500, 0), contract.KindBLS)
	surgeOn(t, e2, t0)
	if types(e2.Receive(call("P4", centre, 4), t0)) != "received,assigned" {
		t.Fatal("a priority-4 call with the whole fleet idle waits for nothing")
	}
}

func TestSurgeOffServesTheDeferredAtOnce(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "a", offset(centre, 500, 0), contract.KindBLS)
	addUnit(t, e, "b", offset(centre, 500, 0), contract.KindBLS)
	addUnit(t, e, "c", offset(centre, 500, 0), contract.KindBLS)
	surgeOn(t, e, t0)
	e.Receive(call("P2a", centre, 2), t0)
	e.Receive(call("P2b", centre, 2), t0)
	e.Receive(call("P4", centre, 4), t0)
	sw, evs, err := e.SetSurge(false, "test: over", "sup", t0.Add(time.Minute))
	if err != nil || sw.On || sw.Reason != "test: over" || sw.Actor != "sup" {
		t.Fatalf("switch off: %+v %v", sw, err)
	}
	if a := lastAssignment(t, evs); a == nil || evs[0].CallID != "P4" {
		t.Fatalf("switched off, the deferred call is served at once: %+v", evs)
	}
	if _, _, err := e.SetSurge(false, "again", "sup", t0); err == nil || !strings.Contains(err.Error(), "already off") {
		t.Fatalf("switching to the state it is in: %v", err)
	}
	var ce *contract.Error
	if _, _, err := e.SetSurge(true, "", "sup", t0); !errors.As(err, &ce) || ce.Field != "reason" {
		t.Fatalf("a switch without a reason: %v", err)
	}
}

func TestAutoSurgeOnAndOffByItself(t *testing.T) {
	e := New(Config{Travel: newEngine(t).cfg.Travel, Surge: SurgeRules{AutoFeverPerHour: 5, AutoOccupancyPct: 90}})
	addUnit(t, e, "np", offset(centre, 500, 0), contract.KindNegativePressure)
	for i := range 4 {
		e.Receive(with(call("F"+string(rune('a'+i)), centre, 3), contract.CategoryFever), t0.Add(time.Duration(i)*time.Minute))
	}
	if sw, _ := e.AutoSurge(t0.Add(5*time.Minute), 50); sw != nil {
		t.Fatalf("4 fever calls in an hour, threshold 5: %+v", sw)
	}
	e.Receive(with(call("Fe", centre, 3), contract.CategoryFever), t0.Add(6*time.Minute))
	sw, _ := e.AutoSurge(t0.Add(7*time.Minute), 50)
	if sw == nil || !sw.On || !sw.Auto || !strings.Contains(sw.Reason, "5 fever and infectious calls in the last hour") {
		t.Fatalf("the fifth fever call switches surge mode on: %+v", sw)
	}
	if sw, _ := e.AutoSurge(t0.Add(2*time.Hour), 95); sw != nil {
		t.Fatalf("occupancy still high: stays on, got %+v", sw)
	}
	if sw, _ := e.AutoSurge(t0.Add(3*time.Hour), 50); sw != nil {
		t.Fatalf("calm for no time yet: %+v", sw)
	}
	sw, _ = e.AutoSurge(t0.Add(6*time.Hour), 50)
	if sw == nil || sw.On || !sw.Auto {
		t.Fatalf("calm for 3 hours: an automatic surge mode goes off by itself, got %+v", sw)
	}
	// A supervisor's switch is not undone automatically.
	surgeOn(t, e, t0.Add(7*time.Hour))
	if sw, _ := e.AutoSurge(t0.Add(20*time.Hour), 0); sw != nil {
		t.Fatalf("a supervisor's surge mode went off by itself: %+v", sw)
	}
}

// The receipts counted for the automatic switch are the last hour's, also in an engine whose
// AutoSurge is never called (the service with -surge-auto=false, simulate without surge).
func TestFeverReceiptsKeptForOneHourOnly(t *testing.T) {
	e := newEngine(t)
	for i := range 600 { // ten hours, one fever call a minute
		c := call(fmt.Sprintf("F%d", i), centre, 3)
		c.Category = contract.CategoryFever
		e.Receive(c, t0.Add(time.Duration(i)*time.Minute))
	}
	if n := len(e.feverAt); n > 61 {
		t.Fatalf("the engine keeps %d fever receipts; only the last hour's (61) are needed", n)
	}
}
