package dispatch

import (
	"errors"
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/hospitals"
)

func TestAcceptSendsTheRecommendedUnitEnRoute(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "near", offset(centre, 0, 1000), contract.KindALS)
	addUnit(t, e, "far", offset(centre, 0, 3000), contract.KindALS)
	e.Receive(call("C1", centre, 2), t0)
	// The engine moved the call to another unit after the dispatcher looked: refused.
	if _, err := e.Accept("C1", "far", t0); !errors.Is(err, ErrUnitBusy) {
		t.Fatalf("accept of a unit the call does not hold: %v, want ErrUnitBusy", err)
	}
	evs, err := e.Accept("C1", "near", t0.Add(time.Second))
	if err != nil || types(evs) != "en_route" || evs[0].UnitID != "near" {
		t.Fatalf("accept: %v %+v", err, evs)
	}
	if u, _ := e.Unit("near"); u.Status != contract.StatusEnRoute {
		t.Errorf("unit status %s, want en_route", u.Status)
	}
	if _, err := e.Accept("C1", "", t0.Add(2*time.Second)); !errors.Is(err, ErrIllegalTransition) {
		t.Errorf("accept twice: %v, want an illegal transition", err)
	}
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Accept("nope", "", t0); !errors.Is(err, ErrUnknownCall) {
		t.Errorf("accept of an unknown call: %v", err)
	}
}

func TestAcceptRefusesAQueuedCall(t *testing.T) {
	e := newEngine(t)
	e.Receive(call("Q", centre, 2), t0)
	if _, err := e.Accept("Q", "", t0); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("accept with no unit: %v", err)
	}
}

func TestCandidatesRankAvailableUnitsByETA(t *testing.T) {
	e := newEngine(t)
	addUnit(t, e, "u1", offset(centre, 0, 1000), contract.KindALS)
	addUnit(t, e, "u2", offset(centre, 0, 2000), contract.KindBLS)
	addUnit(t, e, "u3", offset(centre, 0, 4000), contract.KindBLS)
	addUnit(t, e, "u4", offset(centre, 0, 12000), contract.KindALS) // outside the standard's circle
	e.Receive(call("C1", centre, 2), t0)                            // takes u1
	got, err := e.Candidates("C1", 3, t0)
	if err != nil {
		t.Fatal(err)
	}
	ids := ""
	for _, c := range got {
		ids += c.UnitID + " "
	}
	if ids != "u1 u2 u3 u4 " || !got[0].Current || got[1].Current {
		t.Fatalf("candidates %q (current first, then by ETA), want u1 u2 u3 u4", ids)
	}
	if !got[1].WithinStandard || got[3].WithinStandard {
		t.Errorf("within standard: u2 %v, u4 %v", got[1].WithinStandard, got[3].WithinStandard)
	}
	if got[1].ETA >= got[2].ETA || got[2].DistanceM < 3990 || got[2].DistanceM > 4010 {
		t.Errorf("u2 %+v, u3 %+v", got[1], got[2])
	}
}

func TestRedirectMovesTheBed(t *testing.T) {
	h := func(id string, km float64) city.Hospital {
		return city.Hospital{ID: id, Kind: city.HospitalGeneral, Accepting: true, Point: offset(centre, 0, km*1000),
			Beds: map[string]contract.Beds{contract.BedEmergency: {Total: 10}}}
	}
	clinic := city.Hospital{ID: "FC", Kind: city.HospitalFeverClinic, Accepting: true, Point: centre,
		Beds: map[string]contract.Beds{contract.BedFeverObservation: {Total: 10}}}
	reg := hospitals.NewRegistry(&city.City{Hospitals: []city.Hospital{h("H1", 2), h("H2", 8), clinic}},
		hospitals.Config{Travel: city.DefaultTravelModel(time.UTC), Policy: hospitals.PolicyNearest})
	e := New(Config{Travel: city.DefaultTravelModel(time.UTC), Hospitals: reg})
	addUnit(t, e, "u1", offset(centre, 0, 1000), contract.KindALS)
	evs := e.Receive(call("C1", centre, 2), t0)
	if a := lastAssignment(t, evs); a.HospitalID != "H1" {
		t.Fatalf("destination %s, want the nearest, H1", a.HospitalID)
	}
	reserved := func(id string) int { x, _ := reg.Hospital(id); return x.Reserved[contract.BedEmergency] }
	evs, err := e.Redirect("C1", "H2", t0.Add(time.Minute))
	if err != nil || len(evs) != 1 || evs[0].Type != EventDestination || evs[0].Assignment.HospitalID != "H2" ||
		evs[0].State != StateAssigned || evs[0].Seq != 2 {
		t.Fatalf("redirect: %v %+v", err, evs)
	}
	if reserved("H1") != 0 || reserved("H2") != 1 {
		t.Errorf("reserved H1 %d H2 %d, want 0 and 1", reserved("H1"), reserved("H2"))
	}
	var ce *contract.Error
	if _, err := e.Redirect("C1", "FC", t0); !errors.As(err, &ce) || ce.Field != "hospital_id" {
		t.Errorf("redirect to a fever clinic for a cardiac patient: %v, want a hospital_id error", err)
	}
	if _, err := e.Redirect("C1", "nowhere", t0); !errors.Is(err, hospitals.ErrUnknownHospital) {
		t.Errorf("redirect to an unknown hospital: %v", err)
	}
	if reserved("H2") != 1 {
		t.Errorf("a refused redirect moved the bed: H2 %d", reserved("H2"))
	}
}
