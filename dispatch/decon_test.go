package dispatch

import (
	"testing"
	"time"

	"github.com/ems120/ems120/contract"
)

// runToClose plays a call from assignment to the unit's "available" at the hospital, through
// transporting when transport is true, and returns the events of the close.
func runToClose(t *testing.T, e *Engine, c contract.Call, transport bool, at time.Time) []Event {
	t.Helper()
	evs := e.Receive(c, at)
	if len(evs) < 2 || evs[1].Type != EventAssigned {
		t.Fatalf("want the call assigned, got %s", types(evs))
	}
	u := evs[1].UnitID
	steps := []contract.UnitStatus{contract.StatusEnRoute, contract.StatusOnScene}
	if transport {
		steps = append(steps, contract.StatusTransporting, contract.StatusAtHospital)
	}
	for i, st := range steps {
		mustPing(t, e, ping(u, at.Add(time.Duration(i+1)*time.Minute), centre, st))
	}
	return mustPing(t, e, ping(u, at.Add(10*time.Minute), centre, contract.StatusAvailable))
}

func TestDecontaminationAfterCarryingAFeverPatient(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "np", offset(centre, 1000, 0), contract.KindNegativePressure)
	closed := runToClose(t, e, with(call("F1", centre, 3), contract.CategoryFever), true, t0)
	u, _ := e.Unit("np")
	if closed[0].Type != EventClosed || u.DeconUntil.IsZero() || u.Dispatchable() {
		t.Fatalf("after carrying a fever patient the unit is decontaminated: close %+v, unit %+v", closed, u)
	}
	if want := t0.Add(10*time.Minute + DefaultDecontamination); !u.DeconUntil.Equal(want) {
		t.Fatalf("decontamination until %s, want %s", u.DeconUntil, want)
	}
	evs := e.Receive(call("C2", centre, 2), t0.Add(12*time.Minute))
	if types(evs) != "received,queued" {
		t.Fatalf("a call during decontamination waits for the unit: %s", types(evs))
	}
	if evs := e.Tick(u.DeconUntil.Add(-time.Second)); len(evs) != 0 {
		t.Fatalf("decontamination ended early: %s", types(evs))
	}
	evs = e.Tick(u.DeconUntil)
	if types(evs) != "assigned" || evs[0].CallID != "C2" || evs[0].UnitID != "np" {
		t.Fatalf("at the end of decontamination the unit takes the queued call: %+v", evs)
	}
	if st := e.Stats(); st.Decontaminating != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestNoDecontaminationWithoutAnInfectiousPatientAboard(t *testing.T) {
	for name, tc := range map[string]struct {
		c         contract.Call
		transport bool
	}{
		"a cardiac patient carried":        {call("C1", centre, 2), true},
		"a fever call treated on the spot": {with(call("F1", centre, 3), contract.CategoryFever), false},
	} {
		e := newEngine(t)
		addUnit(t, e, "u", offset(centre, 1000, 0), contract.KindNegativePressure)
		runToClose(t, e, tc.c, tc.transport, t0)
		if u, _ := e.Unit("u"); !u.Dispatchable() {
			t.Errorf("%s: the unit must be dispatchable at once, got %+v", name, u)
		}
	}
	e := New(Config{Travel: newEngine(t).cfg.Travel, Decontamination: -1})
	addUnit(t, e, "u", offset(centre, 1000, 0), contract.KindNegativePressure)
	runToClose(t, e, with(call("F1", centre, 3), contract.CategoryFever), true, t0)
	if u, _ := e.Unit("u"); !u.Dispatchable() {
		t.Errorf("decontamination switched off (< 0): the unit must be dispatchable at once, got %+v", u)
	}
}

// The engine counts its negative-pressure units as they join and as a ping changes a unit's
// kind: the guidance's share is read from Stats, not from a copy of the fleet.
func TestNegativePressureUnitsCounted(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "np", centre, contract.KindNegativePressure)
	addUnit(t, e, "bls", offset(centre, 500, 0), contract.KindBLS)
	if st := e.Stats(); st.Units != 2 || st.NegativePressure != 1 {
		t.Fatalf("two units, one negative-pressure: %+v", st)
	}
	ping := func(id string, kind contract.UnitKind, sec int) {
		t.Helper()
		if _, err := e.Ping(contract.UnitPing{UnitID: id, At: t0.Add(time.Duration(sec) * time.Second), Lat: centre.Lat, Lng: centre.Lng,
			Kind: kind, Status: contract.StatusAvailable}, t0); err != nil {
			t.Fatal(err)
		}
	}
	ping("bls", contract.KindNegativePressure, 1) // refitted
	ping("new", contract.KindNegativePressure, 2) // joins by its first ping
	if st := e.Stats(); st.Units != 3 || st.NegativePressure != 3 {
		t.Fatalf("a refit and a new negative-pressure unit: %+v", st)
	}
	ping("np", contract.KindALS, 3)
	ping("np", contract.KindALS, 4) // the same kind again changes nothing
	if st := e.Stats(); st.NegativePressure != 2 {
		t.Fatalf("one negative-pressure unit became an ALS: %+v", st)
	}
}
