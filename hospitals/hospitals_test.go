package hospitals

import (
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

func TestDestination(t *testing.T) {
	c := &city.City{Hospitals: []city.Hospital{
		{ID: "H-near-full", Kind: city.HospitalDesignated, Accepting: true, Point: city.Point{Lat: 30.60, Lng: 114.30},
			Beds: map[string]contract.Beds{contract.BedIsolation: {Total: 10, Occupied: 10}}},
		{ID: "H-far-free", Kind: city.HospitalDesignated, Accepting: true, Point: city.Point{Lat: 30.70, Lng: 114.30},
			Beds: map[string]contract.Beds{contract.BedIsolation: {Total: 10, Occupied: 3}}},
		{ID: "H-ed", Kind: city.HospitalFeverClinic, Accepting: true, Point: city.Point{Lat: 30.601, Lng: 114.30},
			Beds: map[string]contract.Beds{contract.BedEmergency: {Total: 10, Occupied: 3}, contract.BedFeverObservation: {Total: 5, Occupied: 5}}},
	}}
	r := NewRegistry(c)
	at := contract.Call{Lat: 30.60, Lng: 114.30, Priority: 1}
	tests := []struct {
		name       string
		give       contract.Call
		wantID     string
		wantReason string
	}{
		{"cardiac goes to the nearest ED", with(at, contract.CategoryCardiac, false), "H-ed", ReasonNearest},
		{"infectious skips the full designated", with(at, contract.CategoryRespiratory, true), "H-far-free", ReasonNearest},
		// H-near-full has no fever_observation beds and H-ed's are full: the nearest suitable.
		{"fever with every suitable bed full", with(at, contract.CategoryFever, false), "H-ed", ReasonNearestAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, reason := r.Destination(tt.give, time.Time{})
			if id != tt.wantID || reason != tt.wantReason {
				t.Fatalf("Destination = %s (%s), want %s (%s)", id, reason, tt.wantID, tt.wantReason)
			}
		})
	}
}

func with(c contract.Call, cat contract.Category, infectious bool) contract.Call {
	c.Category, c.Infectious = cat, infectious
	return c
}
