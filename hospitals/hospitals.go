// Package hospitals knows the hospitals of the city, what beds they have, and chooses where
// a transported patient goes. Like dispatch it does no I/O and reads no clock.
package hospitals

import (
	"cmp"
	"slices"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

// Need is the kind of bed a patient needs and the kinds of hospital that take it.
type Need struct {
	Bed   string
	Kinds []city.HospitalKind
}

// NeedOf says what a call's patient needs: confirmed infectious patients go to isolation at a
// designated hospital; suspected fever patients to fever observation at a fever clinic or a
// designated hospital; everyone else to an emergency department.
func NeedOf(c contract.Call) Need {
	switch {
	case c.Infectious:
		return Need{Bed: contract.BedIsolation, Kinds: []city.HospitalKind{city.HospitalDesignated}}
	case c.Category == contract.CategoryFever:
		return Need{Bed: contract.BedFeverObservation, Kinds: []city.HospitalKind{city.HospitalFeverClinic, city.HospitalDesignated}}
	default:
		return Need{Bed: contract.BedEmergency, Kinds: []city.HospitalKind{city.HospitalGeneral, city.HospitalFeverClinic}}
	}
}

// Hospital is the registry's view of one hospital.
type Hospital struct {
	city.Hospital
}

// Registry holds the hospitals and their beds.
type Registry struct {
	hospitals []*Hospital
}

// NewRegistry loads the city's hospitals with their initial bed state.
func NewRegistry(c *city.City) *Registry {
	r := &Registry{}
	for _, h := range c.Hospitals {
		r.hospitals = append(r.hospitals, &Hospital{Hospital: h})
	}
	slices.SortFunc(r.hospitals, func(a, b *Hospital) int { return cmp.Compare(a.ID, b.ID) })
	return r
}

// Reasons a destination gives.
const (
	ReasonNearest    = "nearest"
	ReasonNearestAny = "nearest_no_free_bed" // every suitable hospital is full: the nearest one
	ReasonNone       = "none_suitable"
)

// Destination chooses the hospital for a call's patient: the nearest (from the scene) that is
// of a suitable kind, accepting and has a free bed of the needed kind; when all are full, the
// nearest suitable one. It returns "" with ReasonNone when the city has no suitable hospital.
func (r *Registry) Destination(c contract.Call, _ time.Time) (id, reason string) {
	need := NeedOf(c)
	scene := city.Point{Lat: c.Lat, Lng: c.Lng}
	var best, bestAny *Hospital
	var bestD, bestAnyD float64
	for _, h := range r.hospitals {
		if !slices.Contains(need.Kinds, h.Kind) {
			continue
		}
		beds, ok := h.Beds[need.Bed]
		if !ok || beds.Total == 0 {
			continue
		}
		d := city.DistanceM(scene, h.Point)
		if bestAny == nil || d < bestAnyD {
			bestAny, bestAnyD = h, d
		}
		if h.Accepting && beds.Free() > 0 && (best == nil || d < bestD) {
			best, bestD = h, d
		}
	}
	switch {
	case best != nil:
		return best.ID, ReasonNearest
	case bestAny != nil:
		return bestAny.ID, ReasonNearestAny
	default:
		return "", ReasonNone
	}
}

// All returns the hospitals in id order.
func (r *Registry) All() []Hospital {
	out := make([]Hospital, len(r.hospitals))
	for i, h := range r.hospitals {
		out[i] = *h
	}
	return out
}
