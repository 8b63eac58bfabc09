package hospitals

import (
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

func TestSurgeSendsMildFeverToFangcangAndOpensStandbyBeds(t *testing.T) {
	c := city.Wuhan()
	r := NewRegistry(c, Config{Travel: city.DefaultTravelModel(c.Location())})
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	mild := contract.Call{CallID: "F1", Lat: 30.5928, Lng: 114.3055, Priority: 3, Category: contract.CategoryFever}
	kindOf := func(id string) city.HospitalKind { h, _ := r.Hospital(id); return h.Kind }
	if ch := r.Choose(mild, at); kindOf(ch.HospitalID) != city.HospitalFeverClinic || ch.Bed != contract.BedFeverObservation {
		t.Fatalf("normal times: a mild fever patient goes to a fever clinic, got %+v", ch)
	}
	r.SetSurge(true, at)
	mild.CallID = "F2"
	if ch := r.Choose(mild, at); kindOf(ch.HospitalID) != city.HospitalFangcang || ch.Bed != contract.BedIsolation {
		t.Fatalf("surge mode: a mild fever patient goes to a Fangcang shelter, got %+v", ch)
	}
	severe := contract.Call{CallID: "F3", Lat: 30.5928, Lng: 114.3055, Priority: 2, Category: contract.CategoryFever, Infectious: true}
	if ch := r.Choose(severe, at); kindOf(ch.HospitalID) != city.HospitalDesignated {
		t.Fatalf("surge mode: a priority-2 infectious patient still goes to a designated hospital, got %+v", ch)
	}
	js, _ := r.Hospital("H-jinyintan")
	before := js.Reported[contract.BedIsolation].Total
	if opened := r.OpenStandby(at.Add(23 * time.Hour)); len(opened) != 0 {
		t.Fatalf("standby beds open after 24 h, not 23: %v", opened)
	}
	// A choice after the time has come leaves the opening to the clock's OpenStandby, which
	// is how its caller learns what opened (the simulator adds the beds to the truth).
	late := contract.Call{CallID: "F4", Lat: 30.5928, Lng: 114.3055, Priority: 2, Category: contract.CategoryFever, Infectious: true}
	r.Choose(late, at.Add(24*time.Hour))
	if opened := r.OpenStandby(at.Add(24 * time.Hour)); len(opened) != 4 {
		t.Fatalf("the four peace-and-war hospitals open their standby beds at 24 h: %d opened", len(opened))
	}
	if got := js.Reported[contract.BedIsolation].Total; got != before+1000 || !js.StandbyOpen {
		t.Fatalf("金银潭's isolation beds: %d, want %d + 1,000", got, before)
	}
	if opened := r.OpenStandby(at.Add(48 * time.Hour)); len(opened) != 0 {
		t.Fatal("standby beds opened twice")
	}
}
