package hospitals

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// scene is where the patients are; hospitals sit due north of it at the given kilometres.
var scene = city.Point{Lat: 30.60, Lng: 114.30}

func north(km float64) city.Point { return city.Point{Lat: scene.Lat + km/111.195, Lng: scene.Lng} }

func fever(id string, km float64, total, occupied int) city.Hospital {
	return city.Hospital{ID: id, Kind: city.HospitalFeverClinic, Accepting: true, Point: north(km),
		Beds: map[string]contract.Beds{contract.BedFeverObservation: {Total: total, Occupied: occupied},
			contract.BedEmergency: {Total: 50, Occupied: 10}}}
}

func registry(policy Policy, hs ...city.Hospital) *Registry {
	return NewRegistry(&city.City{Hospitals: hs}, Config{Travel: city.DefaultTravelModel(time.UTC), Policy: policy})
}

func feverCall(id string) contract.Call {
	return contract.Call{CallID: id, Lat: scene.Lat, Lng: scene.Lng, Priority: 2, Category: contract.CategoryFever}
}

func TestNeedOf(t *testing.T) {
	tests := []struct {
		give contract.Call
		want string
		kind city.HospitalKind
	}{
		{contract.Call{Priority: 1, Infectious: true}, contract.BedICU, city.HospitalDesignated},
		{contract.Call{Priority: 2, Infectious: true}, contract.BedIsolation, city.HospitalDesignated},
		{contract.Call{Priority: 4, Infectious: true}, contract.BedIsolation, city.HospitalFangcang},
		{contract.Call{Priority: 2, Category: contract.CategoryFever}, contract.BedFeverObservation, city.HospitalFeverClinic},
		{contract.Call{Priority: 1, Category: contract.CategoryCardiac}, contract.BedEmergency, city.HospitalGeneral},
	}
	for _, tt := range tests {
		got := NeedOf(tt.give)
		if got.Bed != tt.want || got.Kinds[0] != tt.kind {
			t.Errorf("NeedOf(%+v) = %+v, want %s at %s first", tt.give, got, tt.want, tt.kind)
		}
	}
}

func report(id string, at time.Time, total, occupied int) contract.CapacityReport {
	return contract.CapacityReport{HospitalID: id, ReportedAt: at, Accepting: true,
		Beds: map[string]contract.Beds{contract.BedFeverObservation: {Total: total, Occupied: occupied}}}
}

func TestReportValidation(t *testing.T) {
	r := registry(PolicyBalanced, fever("H1", 1, 20, 10))
	if out, err := r.Apply(report("H1", t0, 20, 12), t0); err != nil || out != Accepted {
		t.Fatalf("first report: %v %v", out, err)
	}
	tests := []struct {
		name    string
		give    contract.CapacityReport
		wantErr error
		wantOut Outcome
	}{
		{"unknown hospital", report("H-nope", t0, 1, 0), ErrUnknownHospital, 0},
		{"in the future", report("H1", t0.Add(10*time.Minute), 20, 1), ErrFutureReport, 0},
		{"a little clock skew is fine", report("H1", t0.Add(time.Minute), 20, 13), nil, Accepted},
		{"older than the last", report("H1", t0.Add(-time.Hour), 20, 1), ErrOlderReport, 0},
		{"the same again", report("H1", t0.Add(time.Minute), 20, 13), nil, Duplicate},
		{"same time, other counts", report("H1", t0.Add(time.Minute), 20, 14), ErrOlderReport, 0},
		{"a bed kind it lacks", contract.CapacityReport{HospitalID: "H1", ReportedAt: t0.Add(2 * time.Minute),
			Beds: map[string]contract.Beds{contract.BedICU: {Total: 1}}}, ErrNoSuchBeds, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := r.Apply(tt.give, t0)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, contract.ErrInvalid) {
					t.Fatalf("err = %v, want %v (and contract.ErrInvalid)", err, tt.wantErr)
				}
				var ce *contract.Error
				if !errors.As(err, &ce) || ce.Field == "" {
					t.Fatalf("err %v names no field", err)
				}
				return
			}
			if err != nil || out != tt.wantOut {
				t.Fatalf("= %v %v, want %v", out, err, tt.wantOut)
			}
		})
	}
	h, _ := r.Hospital("H1")
	if got := h.Reported[contract.BedFeverObservation]; got.Occupied != 13 {
		t.Fatalf("reported occupancy %d, want 13 from the last accepted report", got.Occupied)
	}
}

func TestStaleAndOverdue(t *testing.T) {
	r := registry(PolicyBalanced, fever("H1", 1, 20, 10), fever("H2", 2, 20, 10))
	if got := r.Overdue(t0); len(got) != 2 {
		t.Fatalf("before any report: overdue %v, want both", got)
	}
	r.Apply(report("H1", t0, 20, 10), t0)
	if got := r.Overdue(t0.Add(time.Hour)); len(got) != 1 || got[0] != "H2" {
		t.Fatalf("overdue %v, want H2", got)
	}
	if got := r.Overdue(t0.Add(2*time.Hour + time.Second)); len(got) != 2 {
		t.Fatalf("after 2 h: overdue %v, want both", got)
	}
}

func TestBalancedChoice(t *testing.T) {
	type hosp = city.Hospital
	tests := []struct {
		name       string
		hospitals  []hosp
		wantID     string
		wantReason string
	}{
		{"the nearest with a bed and the least load", []hosp{fever("near", 1, 20, 10), fever("far", 3, 20, 12)}, "near", ReasonNearest},
		{"nearest full: the next", []hosp{fever("near", 1, 20, 20), fever("next", 3, 20, 18), fever("far", 25, 20, 0)}, "next", ReasonNearestFull},
		{"spread load within the slack", []hosp{fever("busy", 1, 20, 18), fever("quiet", 2, 20, 4)}, "quiet", ReasonSpreadLoad},
		{"not beyond the slack", []hosp{fever("busy", 1, 20, 18), fever("quiet-far", 15, 20, 0)}, "busy", ReasonNearest},
		{"all full: the nearest", []hosp{fever("a", 1, 20, 20), fever("b", 2, 20, 20)}, "a", ReasonAllFull},
		{"beyond the maximum transport", []hosp{fever("full", 1, 20, 20), fever("far", 60, 20, 0)}, "far", ReasonBeyondMax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := registry(PolicyBalanced, tt.hospitals...)
			for _, h := range tt.hospitals { // fresh reports: no stale penalty
				r.Apply(report(h.ID, t0, h.Beds[contract.BedFeverObservation].Total, h.Beds[contract.BedFeverObservation].Occupied), t0)
			}
			ch := r.Choose(feverCall("C"), t0)
			if ch.HospitalID != tt.wantID || ch.Reason != tt.wantReason {
				t.Fatalf("Choose = %s (%s), want %s (%s)", ch.HospitalID, ch.Reason, tt.wantID, tt.wantReason)
			}
			if ch.Transport < ch.Nearest {
				t.Fatalf("transport %v shorter than the nearest %v", ch.Transport, ch.Nearest)
			}
			// The reference for extra transport time is the same nearest hospital, timed alike.
			// (Each case lists its nearest hospital first.)
			id, nt, ok := r.NearestSuitable(feverCall("C"), t0)
			if !ok || id != tt.hospitals[0].ID || nt != ch.Nearest {
				t.Fatalf("NearestSuitable = %s %v %v, want %s at the choice's nearest %v", id, nt, ok, tt.hospitals[0].ID, ch.Nearest)
			}
		})
	}
}

func TestNearestPolicyIgnoresBeds(t *testing.T) {
	r := registry(PolicyNearest, fever("full", 1, 20, 20), fever("free", 2, 20, 0))
	if ch := r.Choose(feverCall("C"), t0); ch.HospitalID != "full" {
		t.Fatalf("nearest policy chose %s, want the nearest even though it is full", ch.HospitalID)
	}
}

func TestStaleReportIsPenalised(t *testing.T) {
	r := registry(PolicyBalanced, fever("stale", 1, 20, 8), fever("fresh", 2, 20, 10))
	r.Apply(report("stale", t0.Add(-3*time.Hour), 20, 8), t0)
	r.Apply(report("fresh", t0, 20, 10), t0)
	ch := r.Choose(feverCall("C"), t0)
	// 40% + 20 stale penalty against 50%: the fresh one, though a bit further.
	if ch.HospitalID != "fresh" || ch.Reason != ReasonSpreadLoad {
		t.Fatalf("Choose = %+v, want fresh by load", ch)
	}
	r2 := registry(PolicyBalanced, fever("stale", 1, 20, 8))
	if ch := r2.Choose(feverCall("C"), t0); !strings.HasSuffix(ch.Reason, "report stale") {
		t.Fatalf("a stale choice says %q", ch.Reason)
	}
}

func TestReserveHandoverReconcile(t *testing.T) {
	r := registry(PolicyBalanced, fever("H", 1, 10, 7))
	r.Apply(report("H", t0, 10, 7), t0)
	h, _ := r.Hospital("H")
	eff := func() Effective { return h.Effective(contract.BedFeverObservation) }
	for _, id := range []string{"C1", "C2", "C3"} {
		if ch := r.Choose(feverCall(id), t0); ch.HospitalID != "H" {
			t.Fatalf("%s went to %q", id, ch.HospitalID)
		}
	}
	if e := eff(); e.Reserved != 3 || e.Free() != 0 {
		t.Fatalf("after three reservations: %+v", e)
	}
	// A fourth patient finds no bed: the only hospital is full.
	if ch := r.Choose(feverCall("C4"), t0); ch.Reason != ReasonAllFull {
		t.Fatalf("fourth choice %+v, want all_full", ch)
	}
	r.Release("C4")
	// The same call again keeps its bed.
	if r.Choose(feverCall("C1"), t0); eff().Reserved != 3 {
		t.Fatalf("a second Choose for C1 reserved again: %+v", eff())
	}
	r.Handover("C1", t0.Add(20*time.Minute))
	r.Release("C2") // treated on scene
	if e := eff(); e.Reserved != 1 || e.Admitted != 1 || e.Free() != 1 {
		t.Fatalf("after a handover and a release: %+v", e)
	}
	r.Release("C1") // closed after the handover: the patient stays admitted until the report
	if e := eff(); e.Admitted != 1 {
		t.Fatalf("closing a handed-over call dropped the admission: %+v", e)
	}
	// The next report includes C1's patient: the admission is reconciled away.
	r.Apply(report("H", t0.Add(30*time.Minute), 10, 8), t0.Add(30*time.Minute))
	if e := eff(); e.Occupied != 8 || e.Admitted != 0 || e.Reserved != 1 || e.Free() != 1 {
		t.Fatalf("after the report: %+v", e)
	}
}

// chooseBySort is the destination rule written the plain way — sort every suitable hospital
// by transport time, then walk — as the reference for choose's heap walk.
func chooseBySort(r *Registry, c contract.Call, at time.Time) (string, string) {
	need := NeedOf(c)
	travel := city.DurationFunc(r.cfg.Travel, at, c.Priority)
	var all []option
	for _, h := range r.suitable(need) {
		all = append(all, option{h: h, t: travel(city.Point{Lat: c.Lat, Lng: c.Lng}, h.Point)})
	}
	if len(all) == 0 {
		return "", ReasonNone
	}
	slices.SortFunc(all, func(a, b option) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.h.ID, b.h.ID)) })
	stale := func(o option, reason string) string {
		if r.Stale(o.h, at) {
			reason += reasonStaleSuffix
		}
		return reason
	}
	first := -1
	for i, o := range all {
		if !o.h.Accepting {
			continue
		}
		if r.cfg.Policy == PolicyNearest {
			return o.h.ID, stale(o, ReasonNearest)
		}
		if o.h.Effective(need.Bed).Free() > 0 {
			first = i
			break
		}
	}
	if first < 0 {
		return all[0].h.ID, stale(all[0], ReasonAllFull)
	}
	if all[first].t > r.cfg.MaxTransport {
		return all[first].h.ID, stale(all[first], ReasonBeyondMax)
	}
	slack := r.cfg.Slack
	if c.Priority == 1 {
		slack = 0
	} else if need.Bed == contract.BedEmergency {
		slack = r.cfg.EmergencySlack
	}
	load := func(o option) float64 {
		l := o.h.Effective(need.Bed).OccupancyPct()
		if r.Stale(o.h, at) {
			l += r.cfg.StalePenaltyPct
		}
		return l
	}
	best := first
	for i := first + 1; i < len(all) && all[i].t <= r.cfg.MaxTransport && all[i].t <= all[first].t+slack; i++ {
		if all[i].h.Accepting && all[i].h.Effective(need.Bed).Free() > 0 && load(all[i]) < load(all[best])-r.cfg.LoadBand {
			best = i
		}
	}
	switch {
	case best != first:
		return all[best].h.ID, stale(all[best], ReasonSpreadLoad)
	case best != 0 && all[best].h != all[0].h:
		return all[best].h.ID, stale(all[best], ReasonNearestFull)
	}
	return all[best].h.ID, stale(all[best], ReasonNearest)
}

// The heap walk picks what sorting everything and walking picks: random cities with full,
// closed, stale and equidistant hospitals, under both policies.
func TestChooseMatchesSortedWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 300; trial++ {
		var hs []city.Hospital
		for i := 0; i < 1+rng.IntN(30); i++ {
			km := float64(rng.IntN(40)) / 2 // ties in distance are common
			h := fever(fmt.Sprintf("H%02d", rng.IntN(100)), km, 10+rng.IntN(20), 0)
			h.ID = fmt.Sprintf("%s-%d", h.ID, i)
			h.Point.Lng += (rng.Float64() - 0.5) * 0.2 * float64(rng.IntN(2))
			h.Accepting = rng.IntN(6) > 0
			hs = append(hs, h)
		}
		policy := PolicyBalanced
		if trial%5 == 0 {
			policy = PolicyNearest
		}
		r := registry(policy, hs...)
		for _, h := range hs {
			total := h.Beds[contract.BedFeverObservation].Total
			at := t0.Add(-time.Duration(rng.IntN(4)) * time.Hour) // some reports are stale
			occupied := rng.IntN(total + 1)
			if trial%7 == 3 {
				occupied = total // every hospital full: the surge's shortcut
			}
			rep := report(h.ID, at, total, occupied)
			rep.Accepting = h.Accepting
			rep.Beds[contract.BedEmergency] = contract.Beds{Total: 50, Occupied: rng.IntN(51)}
			if _, err := r.Apply(rep, t0); err != nil {
				t.Fatal(err)
			}
		}
		for k := 0; k < 10; k++ {
			c := feverCall(fmt.Sprintf("C%d", k))
			c.Priority = 1 + rng.IntN(4)
			if rng.IntN(3) == 0 {
				c.Category = contract.CategoryTrauma // an emergency-department patient
			}
			c.Lat += (rng.Float64() - 0.5) * 0.1
			got, _ := r.choose(c, t0)
			wantID, wantReason := chooseBySort(r, c, t0)
			if got.HospitalID != wantID || got.Reason != wantReason {
				t.Fatalf("trial %d call %+v: choose = %s (%s), sorted walk = %s (%s)", trial, c, got.HospitalID, got.Reason, wantID, wantReason)
			}
		}
	}
}
