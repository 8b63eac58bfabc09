package dispatch

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch/fleetindex"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// offset returns the point dx metres east and dy metres north of p (small distances).
func offset(p city.Point, dx, dy float64) city.Point { return p.Offset(dx, dy) }

var centre = city.Point{Lat: 30.5928, Lng: 114.3055}

func newEngine(t testing.TB) *Engine {
	t.Helper()
	return New(Config{Travel: city.DefaultTravelModel(time.UTC)})
}

func addUnit(t testing.TB, e *Engine, id string, p city.Point, kind contract.UnitKind) {
	t.Helper()
	if err := e.AddUnit(Unit{ID: id, Kind: kind, Pos: p, Status: contract.StatusAvailable}); err != nil {
		t.Fatal(err)
	}
}

func call(id string, p city.Point, prio int) contract.Call {
	return contract.Call{CallID: id, ReceivedAt: t0, Lat: p.Lat, Lng: p.Lng, Priority: prio, Category: contract.CategoryCardiac}
}

func lastAssignment(t *testing.T, evs []Event) *contract.Assignment {
	t.Helper()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == EventAssigned {
			return evs[i].Assignment
		}
	}
	t.Fatalf("no assignment in %+v", evs)
	return nil
}

func TestReceiveAssignsNearest(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "far", offset(centre, 3000, 0), contract.KindALS)
	addUnit(t, e, "near", offset(centre, 0, 1000), contract.KindBLS)
	addUnit(t, e, "outside", offset(centre, 9000, 0), contract.KindALS)
	evs := e.Receive(call("C1", centre, 2), t0)
	if len(evs) != 2 || evs[0].Type != EventReceived || evs[1].Type != EventAssigned {
		t.Fatalf("events = %+v, want received then assigned", evs)
	}
	a := evs[1].Assignment
	if a.UnitID != "near" || !a.WithinStandard || a.Reason != ReasonNearest {
		t.Fatalf("assignment = %+v, want unit near, within standard, reason nearest", a)
	}
	if a.DistanceM < 990 || a.DistanceM > 1010 {
		t.Errorf("distance = %d, want ≈1000", a.DistanceM)
	}
	// 1 km × 1.4 at 40 km/h = 126 s, plus 60 s turnout.
	if a.ETAS < 180 || a.ETAS > 192 {
		t.Errorf("eta = %d s, want ≈186", a.ETAS)
	}
	u, _ := e.Unit("near")
	if u.Status != contract.StatusDispatched || u.CallID != "C1" {
		t.Errorf("unit after assignment = %+v", u)
	}
	if e.Stats().Available != 2 {
		t.Errorf("available = %d, want 2", e.Stats().Available)
	}
}

func TestReceiveIsIdempotent(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "u1", centre, contract.KindALS)
	addUnit(t, e, "u2", centre, contract.KindALS)
	if evs := e.Receive(call("C1", centre, 1), t0); len(evs) != 2 {
		t.Fatalf("first receive: %+v", evs)
	}
	if evs := e.Receive(call("C1", centre, 1), t0.Add(time.Second)); len(evs) != 0 {
		t.Fatalf("second receive of the same call = %+v, want nothing", evs)
	}
	if e.Stats().Available != 1 {
		t.Fatalf("a duplicate call took a second unit")
	}
}

func TestBeyondStandardAndQueue(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "u12km", offset(centre, 12_000, 0), contract.KindALS)
	a := lastAssignment(t, e.Receive(call("C1", centre, 2), t0))
	if a.UnitID != "u12km" || a.WithinStandard || a.Reason != ReasonBeyondStandard {
		t.Fatalf("assignment = %+v, want u12km beyond standard", a)
	}
	evs := e.Receive(call("C2", centre, 2), t0)
	if evs[len(evs)-1].Type != EventQueued {
		t.Fatalf("with no unit left, events = %+v, want queued", evs)
	}
	// The unit reaches C1, finishes and reports available: C2 gets it.
	if _, err := e.Ping(contract.UnitPing{UnitID: "u12km", At: t0.Add(30 * time.Minute), Lat: centre.Lat, Lng: centre.Lng,
		Status: contract.StatusOnScene}, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	evs, err := e.Ping(contract.UnitPing{UnitID: "u12km", At: t0.Add(time.Hour), Lat: centre.Lat, Lng: centre.Lng,
		Status: contract.StatusAvailable}, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Type != EventClosed || evs[0].CallID != "C1" || evs[1].Type != EventAssigned || evs[1].CallID != "C2" {
		t.Fatalf("events = %+v, want C1 closed then C2 assigned", evs)
	}
	if evs[1].Assignment.Reason != ReasonFromQueue || !evs[1].Assignment.WithinStandard {
		t.Errorf("queued assignment = %+v", evs[1].Assignment)
	}
	if e.Stats().Queued != 0 {
		t.Errorf("queue not empty")
	}
}

func TestQueueOrder(t *testing.T) {
	e := newEngine(t)
	c1 := call("C-p3-old", centre, 3)
	c2 := call("C-p1-new", centre, 1)
	c2.ReceivedAt = t0.Add(time.Minute)
	c3 := call("C-p1-old", centre, 1)
	for _, c := range []contract.Call{c1, c2, c3} {
		e.Receive(c, t0)
	}
	q := e.Queue()
	got := []string{q[0].Call.CallID, q[1].Call.CallID, q[2].Call.CallID}
	want := []string{"C-p1-old", "C-p1-new", "C-p3-old"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("queue = %v, want %v", got, want)
	}
	addUnit(t, e, "u", offset(centre, 100, 0), contract.KindALS)
	evs := e.AssignQueued(t0.Add(time.Minute))
	if a := lastAssignment(t, evs); a.CallID != "C-p1-old" {
		t.Fatalf("first served = %s, want C-p1-old", a.CallID)
	}
}

func TestUnitLostReassigns(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "u1", offset(centre, 500, 0), contract.KindALS)
	addUnit(t, e, "u2", offset(centre, 2500, 0), contract.KindALS)
	e.Receive(call("C1", centre, 1), t0)
	evs, err := e.Ping(contract.UnitPing{UnitID: "u1", At: t0.Add(time.Minute), Lat: centre.Lat, Lng: centre.Lng,
		Status: contract.StatusOutOfService}, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	a := lastAssignment(t, evs)
	if evs[0].Type != EventUnitLost || a.UnitID != "u2" || !strings.HasPrefix(a.Reason, ReasonUnitLost) {
		t.Fatalf("events = %+v, want unit_lost then u2 reassigned", evs)
	}
	if inc, _ := e.Incident("C1"); inc.Seq != 2 || inc.UnitID != "u2" {
		t.Fatalf("incident = %+v, want seq 2 with u2", inc)
	}
}

func TestPingRules(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "u1", centre, contract.KindALS)
	e.Receive(call("C1", centre, 1), t0)
	// A ping sent before the unit heard of its dispatch says "available": the status is
	// history, the position is news.
	moved := offset(centre, 200, 0)
	evs, err := e.Ping(contract.UnitPing{UnitID: "u1", At: t0.Add(-time.Second), Lat: moved.Lat, Lng: moved.Lng,
		Status: contract.StatusAvailable}, t0)
	if err != nil || len(evs) != 0 {
		t.Fatalf("stale-status ping = %+v, %v; want nothing", evs, err)
	}
	if u, _ := e.Unit("u1"); u.Status != contract.StatusDispatched || u.CallID != "C1" || u.Pos != moved {
		t.Fatalf("unit = %+v, want still dispatched to C1 at the new position", u)
	}
	// Progress moves the incident along.
	evs, _ = e.Ping(contract.UnitPing{UnitID: "u1", At: t0.Add(time.Minute), Lat: moved.Lat, Lng: moved.Lng,
		Status: contract.StatusEnRoute}, t0.Add(time.Minute))
	if len(evs) != 1 || evs[0].State != StateEnRoute {
		t.Fatalf("en_route ping = %+v", evs)
	}
	// An older ping than the last one applied is refused.
	if _, err := e.Ping(contract.UnitPing{UnitID: "u1", At: t0.Add(30 * time.Second), Lat: 1, Lng: 1,
		Status: contract.StatusOnScene}, t0); !errors.Is(err, ErrStalePing) {
		t.Fatalf("older ping err = %v, want ErrStalePing", err)
	}
	// An unknown unit without a kind cannot be registered.
	if _, err := e.Ping(contract.UnitPing{UnitID: "new", At: t0, Lat: 1, Lng: 1, Status: contract.StatusAvailable}, t0); !errors.Is(err, ErrUnknownUnit) {
		t.Fatalf("unknown unit err = %v", err)
	}
	// With its kind it joins the fleet.
	if _, err := e.Ping(contract.UnitPing{UnitID: "new", At: t0, Lat: centre.Lat, Lng: centre.Lng, Kind: contract.KindBLS,
		Status: contract.StatusAvailable}, t0); err != nil {
		t.Fatal(err)
	}
	if e.Stats().Available != 1 {
		t.Fatalf("new unit is not available")
	}
}

func TestRestore(t *testing.T) {
	e := newEngine(t)
	if err := e.AddUnit(Unit{ID: "u1", Kind: contract.KindALS, Pos: centre, Status: contract.StatusEnRoute, CallID: "C1"}); err != nil {
		t.Fatal(err)
	}
	addUnit(t, e, "u2", offset(centre, 1000, 0), contract.KindALS)
	if err := e.Restore(Incident{Call: call("C1", centre, 1), State: StateEnRoute, UnitID: "u1", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.Restore(Incident{Call: call("C2", centre, 1), State: StateQueued}); err != nil {
		t.Fatal(err)
	}
	if err := e.Restore(Incident{Call: call("C3", centre, 1), State: StateAssigned, UnitID: "u2"}); err == nil {
		t.Fatal("restored an incident whose unit does not serve it")
	}
	evs := e.AssignQueued(t0)
	if a := lastAssignment(t, evs); a.CallID != "C2" || a.UnitID != "u2" {
		t.Fatalf("assigned %+v, want C2 → u2", a)
	}
	if e.Stats().Available != 0 {
		t.Fatalf("the busy unit u1 is in the index")
	}
}

// A crowded fleet moves the index to finer cells, a thinned one back; decisions stay right.
func TestIndexAdaptsToDensity(t *testing.T) {
	e := newEngine(t)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 20_000; i++ { // 20,000 units within 3 km of the centre
		addUnit(t, e, fmt.Sprintf("U%05d", i), offset(centre, (rng.Float64()-0.5)*6000, (rng.Float64()-0.5)*6000), contract.KindALS)
	}
	for i := 0; i < 3*1024; i++ { // three of the adaptive index's periods of adaptation
		p := offset(centre, (rng.Float64()-0.5)*6000, (rng.Float64()-0.5)*6000)
		want, wantD := int32(-1), math.Inf(1)
		for h := range int32(len(e.units)) {
			if d := city.DistanceM(p, e.at(h).Pos); d < wantD {
				want, wantD = int32(h), d
			}
		}
		if h, _, _ := e.index.Nearest(p, 5000, nil); h != want {
			t.Fatalf("search %d at resolution %d: %d, want %d", i, e.index.Resolution(), h, want)
		}
	}
	if r := e.index.Resolution(); r <= fleetindex.DefaultResolution {
		t.Fatalf("20,000 units in 28 km²: still at resolution %d", r)
	}
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
}
