package dispatch

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

func ping(id string, at time.Time, p city.Point, s contract.UnitStatus) contract.UnitPing {
	return contract.UnitPing{UnitID: id, At: at, Lat: p.Lat, Lng: p.Lng, Status: s}
}

func mustPing(t *testing.T, e *Engine, p contract.UnitPing) []Event {
	t.Helper()
	evs, err := e.Ping(p, p.At)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
	return evs
}

func types(evs []Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, string(e.Type))
	}
	return strings.Join(s, ",")
}

func TestKindPreference(t *testing.T) {
	tests := []struct {
		name  string
		give  contract.Call
		units map[string]struct {
			dx   float64
			kind contract.UnitKind
		}
		wantUnit   string
		wantReason string
	}{
		{"fever call takes the negative-pressure unit over a nearer BLS", with(call("C", centre, 2), contract.CategoryFever),
			map[string]struct {
				dx   float64
				kind contract.UnitKind
			}{"bls": {500, contract.KindBLS}, "np": {3000, contract.KindNegativePressure}}, "np", ReasonNearestOfKind},
		{"fever call: no negative-pressure unit in time, the nearest", with(call("C", centre, 2), contract.CategoryFever),
			map[string]struct {
				dx   float64
				kind contract.UnitKind
			}{"bls": {500, contract.KindBLS}, "np": {9000, contract.KindNegativePressure}}, "bls", "nearest_no_negative_pressure_in_time"},
		{"priority 1 takes ALS over a nearer BLS", call("C", centre, 1),
			map[string]struct {
				dx   float64
				kind contract.UnitKind
			}{"bls": {500, contract.KindBLS}, "als": {2000, contract.KindALS}}, "als", ReasonNearestOfKind},
		{"priority 1 with the ALS nearest says nearest", call("C", centre, 1),
			map[string]struct {
				dx   float64
				kind contract.UnitKind
			}{"bls": {2500, contract.KindBLS}, "als": {400, contract.KindALS}}, "als", ReasonNearest},
		{"priority 3 takes whatever is nearest", call("C", centre, 3),
			map[string]struct {
				dx   float64
				kind contract.UnitKind
			}{"bls": {500, contract.KindBLS}, "als": {200, contract.KindALS}}, "als", ReasonNearest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t)
			for id, u := range tt.units {
				addUnit(t, e, id, offset(centre, u.dx, 0), u.kind)
			}
			a := lastAssignment(t, e.Receive(tt.give, t0))
			if a.UnitID != tt.wantUnit || a.Reason != tt.wantReason || !a.WithinStandard {
				t.Fatalf("assignment = %s (%s, within %v), want %s (%s)", a.UnitID, a.Reason, a.WithinStandard, tt.wantUnit, tt.wantReason)
			}
		})
	}
}

func with(c contract.Call, cat contract.Category) contract.Call {
	c.Category = cat
	return c
}

func TestEscalationLimit(t *testing.T) {
	far := offset(centre, 50_000, 0)
	for _, tt := range []struct {
		maxRadius float64
		want      EventType
	}{{40_000, EventQueued}, {60_000, EventAssigned}} {
		e := New(Config{Travel: city.DefaultTravelModel(time.UTC), MaxRadiusM: tt.maxRadius})
		addUnit(t, e, "far", far, contract.KindALS)
		evs := e.Receive(call("C", centre, 1), t0)
		if got := evs[len(evs)-1]; got.Type != tt.want {
			t.Fatalf("max radius %.0f km: %s, want %s", tt.maxRadius/1000, types(evs), tt.want)
		}
		if tt.want == EventAssigned {
			if a := evs[1].Assignment; a.WithinStandard || a.Reason != ReasonBeyondStandard {
				t.Fatalf("escalated assignment = %+v", a)
			}
		}
	}
}

func TestAckTimeoutEscalates(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "u1", offset(centre, 500, 0), contract.KindALS)
	addUnit(t, e, "u2", offset(centre, 1500, 0), contract.KindALS)
	e.Receive(call("C", centre, 1), t0)
	if evs := e.Tick(t0.Add(59 * time.Second)); len(evs) != 0 {
		t.Fatalf("tick before the deadline: %s", types(evs))
	}
	evs := e.Tick(t0.Add(60 * time.Second))
	if types(evs) != "ack_timeout,assigned" || evs[0].UnitID != "u1" || evs[1].UnitID != "u2" ||
		!strings.HasPrefix(evs[1].Assignment.Reason, ReasonNoAck) || evs[1].Seq != 2 {
		t.Fatalf("tick at the deadline: %+v", evs)
	}
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
	u1, _ := e.Unit("u1")
	if u1.FlaggedAt.IsZero() || e.Stats().Flagged != 1 {
		t.Fatalf("silent unit not flagged: %+v", u1)
	}
	// u2 is silent too: with u1 flagged and nobody else, the call waits.
	evs = e.Tick(t0.Add(2 * time.Minute))
	if types(evs) != "ack_timeout,queued" {
		t.Fatalf("second timeout: %s", types(evs))
	}
	// u1 speaks again: no longer flagged, available, it takes the queued call.
	evs = mustPing(t, e, ping("u1", t0.Add(3*time.Minute), centre, contract.StatusAvailable))
	if types(evs) != "assigned" || evs[0].UnitID != "u1" {
		t.Fatalf("after u1 reports: %s", types(evs))
	}
}

func TestAcknowledgementStopsTheClock(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "u1", centre, contract.KindALS)
	e.Receive(call("C", centre, 1), t0)
	evs := mustPing(t, e, ping("u1", t0.Add(10*time.Second), centre, contract.StatusDispatched))
	if types(evs) != "acknowledged" || evs[0].State != StateAcknowledged {
		t.Fatalf("ack ping: %s", types(evs))
	}
	if evs := e.Tick(t0.Add(time.Hour)); len(evs) != 0 {
		t.Fatalf("acknowledged call escalated: %s", types(evs))
	}
}

func TestFullLifecycle(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "u1", offset(centre, 800, 0), contract.KindALS)
	e.Receive(call("C", centre, 1), t0)
	var got []string
	for i, st := range []contract.UnitStatus{contract.StatusDispatched, contract.StatusEnRoute, contract.StatusOnScene,
		contract.StatusTransporting, contract.StatusAtHospital, contract.StatusAvailable} {
		at := t0.Add(time.Duration(i+1) * time.Minute)
		evs := mustPing(t, e, ping("u1", at, centre, st))
		got = append(got, types(evs))
		if inc, ok := e.Incident("C"); ok {
			if u, _ := e.Unit("u1"); u.Status != unitStatusOf(inc.State) {
				t.Fatalf("unit %s while the call is %s", u.Status, inc.State)
			}
		}
	}
	want := "acknowledged en_route on_scene transporting at_hospital closed"
	if strings.Join(got, " ") != want {
		t.Fatalf("events %q, want %q", strings.Join(got, " "), want)
	}
	if _, live := e.Incident("C"); live {
		t.Fatal("closed call still live")
	}
	if u, _ := e.Unit("u1"); u.Status != contract.StatusAvailable || u.CallID != "" {
		t.Fatalf("unit after closing: %+v", u)
	}
	// A late duplicate of the closed call changes nothing.
	if evs := e.Receive(call("C", centre, 1), t0.Add(time.Hour)); len(evs) != 0 {
		t.Fatalf("duplicate of a closed call: %s", types(evs))
	}
}

func TestCanMove(t *testing.T) {
	tests := []struct {
		from, to State
		want     bool
	}{
		{StateAssigned, StateAcknowledged, true},
		{StateAssigned, StateOnScene, true}, // a skipped button
		{StateOnScene, StateEnRoute, false}, // backwards
		{StateEnRoute, StateClosed, false},  // closed only after arriving
		{StateOnScene, StateClosed, true},
		{StateAtHospital, StateClosed, true},
		{StateQueued, StateEnRoute, false}, // no unit
		{StateTransporting, StateCancelled, true},
		{StateAtHospital, StateAssigned, true}, // reassignment from any live state
		{StateClosed, StateAssigned, false},
		{StateCancelled, StateCancelled, false},
	}
	for _, tt := range tests {
		if got := CanMove(tt.from, tt.to); got != tt.want {
			t.Errorf("CanMove(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestIllegalTransitionIsTyped(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "u1", centre, contract.KindALS)
	e.Receive(call("C", centre, 1), t0)
	mustPing(t, e, ping("u1", t0.Add(time.Minute), centre, contract.StatusOnScene))
	moved := offset(centre, 50, 0)
	_, err := e.Ping(ping("u1", t0.Add(2*time.Minute), moved, contract.StatusEnRoute), t0.Add(2*time.Minute))
	var te *TransitionError
	if !errors.As(err, &te) || !errors.Is(err, ErrIllegalTransition) || te.From != StateOnScene || te.To != StateEnRoute {
		t.Fatalf("backward ping: err = %v, want a TransitionError on_scene → en_route", err)
	}
	if u, _ := e.Unit("u1"); u.Pos != moved || u.Status != contract.StatusOnScene {
		t.Fatalf("after the refused status: %+v (the position is kept, the status is not)", u)
	}
	if _, err := e.Close("C", t0); err != nil {
		t.Fatalf("close on scene: %v", err)
	}
	e.Receive(call("D", centre, 1), t0)
	if _, err := e.Close("D", t0); !errors.As(err, &te) {
		t.Fatalf("close before arriving: err = %v, want a TransitionError", err)
	}
	if _, err := e.Cancel("nope", "", t0); !errors.Is(err, ErrUnknownCall) {
		t.Fatalf("cancel unknown: %v", err)
	}
}

func TestCancelFromEveryLiveState(t *testing.T) {
	for _, st := range []contract.UnitStatus{"", contract.StatusDispatched, contract.StatusEnRoute, contract.StatusOnScene,
		contract.StatusTransporting, contract.StatusAtHospital} {
		t.Run("after "+string(st), func(t *testing.T) {
			e := newEngine(t)
			addUnit(t, e, "u1", centre, contract.KindALS)
			e.Receive(call("C", centre, 1), t0)
			e.Receive(call("Q", centre, 2), t0) // waits for u1
			if st != "" {
				mustPing(t, e, ping("u1", t0.Add(time.Minute), centre, st))
			}
			evs, err := e.Cancel("C", "caller hung up", t0.Add(2*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if types(evs) != "cancelled,assigned" || evs[1].CallID != "Q" {
				t.Fatalf("cancel: %s, want cancelled then the queued call assigned", types(evs))
			}
			if err := e.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
	e := newEngine(t)
	e.Receive(call("Q", centre, 2), t0)
	if evs, err := e.Cancel("Q", "", t0); err != nil || types(evs) != "cancelled" || e.Stats().Queued != 0 {
		t.Fatalf("cancel a queued call: %s %v", types(evs), err)
	}
}

func TestOperatorAssign(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "near", centre, contract.KindALS)
	addUnit(t, e, "chosen", offset(centre, 3000, 0), contract.KindBLS)
	e.Receive(call("C", centre, 1), t0)
	evs, err := e.Assign("C", "chosen", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if types(evs) != "unit_released,assigned" || evs[1].Assignment.Reason != ReasonOperatorOverride || evs[1].Seq != 2 {
		t.Fatalf("override: %+v", evs)
	}
	if u, _ := e.Unit("near"); u.Status != contract.StatusAvailable || u.CallID != "" {
		t.Fatalf("replaced unit: %+v", u)
	}
	e.Receive(call("D", centre, 1), t0)
	if _, err := e.Assign("D", "chosen", t0); !errors.Is(err, ErrUnitBusy) {
		t.Fatalf("assigning a busy unit: %v", err)
	}
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestPreemption(t *testing.T) {
	setup := func(preempt bool) *Engine {
		e := New(Config{Travel: city.DefaultTravelModel(time.UTC), Preempt: preempt})
		addUnit(t, e, "busy", offset(centre, 6000, 0), contract.KindALS)
		addUnit(t, e, "far", offset(centre, 0, 4500), contract.KindALS)
		// A priority-4 call 7 km east: "busy" (1 km from it) takes it and drives towards it,
		// passing near the centre.
		e.Receive(call("LOW", offset(centre, 7000, 0), 4), t0)
		mustPing(t, e, ping("busy", t0.Add(time.Minute), offset(centre, 300, 0), contract.StatusEnRoute))
		return e
	}
	// Off by default: the priority-1 call gets the far available unit.
	e := setup(false)
	if a := lastAssignment(t, e.Receive(call("P1", centre, 1), t0.Add(2*time.Minute))); a.UnitID != "far" {
		t.Fatalf("without pre-emption P1 got %s, want far", a.UnitID)
	}
	// On: "busy" is 300 m away against 4.5 km; it leaves the priority-4 call, which is
	// dispatched again (to "far", the only one left).
	e = setup(true)
	evs := e.Receive(call("P1", centre, 1), t0.Add(2*time.Minute))
	if types(evs) != "received,preempted,assigned,assigned" {
		t.Fatalf("pre-emption: %s", types(evs))
	}
	if evs[2].CallID != "P1" || evs[2].UnitID != "busy" || evs[2].Assignment.Reason != ReasonPreempting {
		t.Fatalf("P1 assignment: %+v", evs[2])
	}
	if evs[3].CallID != "LOW" || evs[3].UnitID != "far" || !strings.HasPrefix(evs[3].Assignment.Reason, ReasonPreemptedVictim) {
		t.Fatalf("the lower call: %+v", evs[3])
	}
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
	// A unit already on scene is never taken.
	e = setup(true)
	mustPing(t, e, ping("busy", t0.Add(90*time.Second), offset(centre, 300, 0), contract.StatusOnScene))
	if a := lastAssignment(t, e.Receive(call("P1", centre, 1), t0.Add(2*time.Minute))); a.UnitID != "far" {
		t.Fatalf("P1 took a unit on scene: %s", a.UnitID)
	}
}

// TestInvariantsUnderRandomInterleavings drives the engine with thousands of random
// interleavings of calls, duplicate calls, pings (in and out of order, plausible and not),
// acknowledgements, cancellations, closures, overrides and ticks, and checks after every
// step that the invariants hold (Engine.Check) and that every call ever received is assigned,
// queued, cancelled or closed — never lost.
func TestInvariantsUnderRandomInterleavings(t *testing.T) {
	seeds, steps := 24, 2500
	if testing.Short() {
		seeds = 5
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { randomWalk(t, uint64(seed), steps) })
	}
}

func randomWalk(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	e := New(Config{Travel: city.DefaultTravelModel(time.UTC), Preempt: seed%2 == 1, MaxRadiusM: 20_000})
	var ids []string
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("U%02d", i)
		ids = append(ids, id)
		addUnit(t, e, id, offset(centre, (rng.Float64()-0.5)*20_000, (rng.Float64()-0.5)*20_000),
			[]contract.UnitKind{contract.KindALS, contract.KindBLS, contract.KindNegativePressure}[i%3])
	}
	now := t0
	final := map[string]State{} // every call ever received → its state by the events
	var calls []string
	statuses := []contract.UnitStatus{contract.StatusAvailable, contract.StatusDispatched, contract.StatusEnRoute,
		contract.StatusOnScene, contract.StatusTransporting, contract.StatusAtHospital, contract.StatusOutOfService}
	var log []string
	seen := map[EventType]int{}
	record := func(op string, evs []Event, err error) {
		log = append(log, fmt.Sprintf("%s → %s %v", op, types(evs), err))
		for _, ev := range evs {
			final[ev.CallID] = ev.State
			seen[ev.Type]++
		}
	}
	defer func() { t.Logf("events seen: %v", seen) }()
	for step := 0; step < steps; step++ {
		now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
		pick := func() string { return calls[rng.IntN(len(calls))] }
		switch r := rng.IntN(100); {
		case r < 15 || len(calls) == 0:
			id := fmt.Sprintf("C%04d", len(calls))
			c := call(id, offset(centre, (rng.Float64()-0.5)*30_000, (rng.Float64()-0.5)*30_000), 1+rng.IntN(4))
			c.Category = contract.Categories[rng.IntN(len(contract.Categories))]
			c.ReceivedAt = now
			calls = append(calls, id)
			record("receive "+id, e.Receive(c, now), nil)
		case r < 18:
			id := pick()
			record("duplicate "+id, e.Receive(contract.Call{CallID: id, Lat: centre.Lat, Lng: centre.Lng, Priority: 1, ReceivedAt: now}, now), nil)
		case r < 68:
			id := ids[rng.IntN(len(ids))]
			u, _ := e.Unit(id)
			at := now
			if rng.IntN(10) == 0 {
				at = now.Add(-time.Duration(rng.IntN(120)) * time.Second) // late or reordered
			}
			st := statuses[rng.IntN(len(statuses))]
			if inc, ok := e.Incident(u.CallID); !ok && rng.IntN(10) < 7 {
				st = contract.StatusAvailable
			} else if ok && rng.IntN(4) > 0 {
				// Mostly the plausible next step of its incident.
				st = map[State]contract.UnitStatus{StateAssigned: contract.StatusDispatched, StateAcknowledged: contract.StatusEnRoute,
					StateEnRoute: contract.StatusOnScene, StateOnScene: contract.StatusTransporting,
					StateTransporting: contract.StatusAtHospital, StateAtHospital: contract.StatusAvailable}[inc.State]
			}
			p := offset(u.Pos, (rng.Float64()-0.5)*2000, (rng.Float64()-0.5)*2000)
			evs, err := e.Ping(ping(id, at, p, st), now)
			if err != nil && !errors.Is(err, ErrStalePing) && !errors.Is(err, ErrIllegalTransition) {
				t.Fatalf("seed %d step %d: ping: %v", seed, step, err)
			}
			record(fmt.Sprintf("ping %s %s", id, st), evs, err)
		case r < 72:
			id := pick()
			evs, err := e.Cancel(id, "test", now)
			record("cancel "+id, evs, err)
		case r < 75:
			id := pick()
			evs, err := e.Close(id, now)
			record("close "+id, evs, err)
		case r < 80:
			id := pick()
			inc, _ := e.Incident(id)
			evs, err := e.Acknowledge(id, inc.UnitID, now)
			record("ack "+id, evs, err)
		case r < 84:
			id, uid := pick(), ids[rng.IntN(len(ids))]
			evs, err := e.Assign(id, uid, now)
			record("assign "+id+" "+uid, evs, err)
		default:
			now = now.Add(time.Duration(rng.IntN(45)) * time.Second)
			record("tick", e.Tick(now), nil)
		}
		if err := e.Check(); err != nil {
			t.Fatalf("seed %d step %d: %v\nlast steps:\n%s", seed, step, err, tail(log, 8))
		}
		if step%5 != 0 && step != steps-1 {
			continue // the ledger walk is O(calls); every fifth step is enough to place a loss
		}
		for _, id := range calls {
			st, seen := final[id]
			inc, live := e.Incident(id)
			switch {
			case !seen:
				t.Fatalf("seed %d step %d: call %s has no event", seed, step, id)
			case st == StateClosed || st == StateCancelled:
				if live {
					t.Fatalf("seed %d step %d: call %s is %s by its events but live (%s)", seed, step, id, st, inc.State)
				}
			case !live:
				t.Fatalf("seed %d step %d: call %s lost: last event says %s\n%s", seed, step, id, st, tail(log, 8))
			case inc.State != st:
				t.Fatalf("seed %d step %d: call %s is %s, its events say %s", seed, step, id, inc.State, st)
			case inc.State == StateReceived:
				t.Fatalf("seed %d step %d: call %s stuck in received", seed, step, id)
			}
		}
	}
}

func tail(s []string, n int) string {
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.Join(s, "\n")
}

// opaque hides that a model is linear, so the engine takes its general path: every unit in
// the circle and its ETA, rather than the index's nearest-unit search.
type opaque struct{ city.TravelModel }

// The fast path for linear travel models decides exactly as the general one.
func TestLinearFastPathDecidesAsTheGeneralPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := city.DefaultTravelModel(time.UTC)
	fast := New(Config{Travel: m, Preempt: true})
	slow := New(Config{Travel: opaque{m}, Preempt: true})
	kinds := []contract.UnitKind{contract.KindALS, contract.KindBLS, contract.KindNegativePressure}
	for i := 0; i < 150; i++ {
		p := offset(centre, (rng.Float64()-0.5)*40_000, (rng.Float64()-0.5)*40_000)
		if i%10 == 0 && i > 0 { // some units share a station: ties by id
			u, _ := fast.Unit(fmt.Sprintf("U%03d", i-1))
			p = u.Pos
		}
		k := kinds[rng.IntN(3)]
		for _, e := range []*Engine{fast, slow} {
			addUnit(t, e, fmt.Sprintf("U%03d", i), p, k)
		}
	}
	now := t0
	for i := 0; i < 400; i++ {
		now = now.Add(time.Duration(rng.IntN(600)) * time.Second)
		c := call(fmt.Sprintf("C%03d", i), offset(centre, (rng.Float64()-0.5)*50_000, (rng.Float64()-0.5)*50_000), 1+rng.IntN(4))
		c.Category = contract.Categories[rng.IntN(len(contract.Categories))]
		a, b := fast.Receive(c, now), slow.Receive(c, now)
		if show(a) != show(b) {
			t.Fatalf("call %d: fast path %s, general path %s", i, show(a), show(b))
		}
		if i%3 == 0 { // free a unit now and then
			if inc, ok := fast.Incident(fmt.Sprintf("C%03d", rng.IntN(i+1))); ok && inc.UnitID != "" {
				u, _ := fast.Unit(inc.UnitID)
				for _, st := range []contract.UnitStatus{contract.StatusOnScene, contract.StatusAvailable} {
					now = now.Add(time.Second)
					pa, errA := fast.Ping(ping(u.ID, now, u.Pos, st), now)
					pb, errB := slow.Ping(ping(u.ID, now, u.Pos, st), now)
					if show(pa)+fmt.Sprint(errA) != show(pb)+fmt.Sprint(errB) {
						t.Fatalf("ping: fast %s %v, general %s %v", show(pa), errA, show(pb), errB)
					}
				}
			}
		}
	}
}

// show prints events with their assignments, for comparing two runs.
func show(evs []Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%s %s %s %s %q", e.Type, e.CallID, e.UnitID, e.State, e.Reason)
		if e.Assignment != nil {
			fmt.Fprintf(&b, " %+v", *e.Assignment)
		}
		b.WriteString("; ")
	}
	return b.String()
}
