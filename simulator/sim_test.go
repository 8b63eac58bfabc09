package simulator

import (
	"encoding/json"
	"testing"

	"github.com/ems120/ems120/hospitals"
	"github.com/ems120/ems120/results"
)

func TestSimulateIsDeterministic(t *testing.T) {
	run := func() []byte {
		r, err := Run(Config{Scenario: ScenarioNormal, Hours: 6, Seed: 11})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r.Summary)
		return b
	}
	a, b := run(), run()
	if string(a) != string(b) {
		t.Fatalf("same seed, different results:\n%s\n%s", a, b)
	}
	var s results.Summary
	json.Unmarshal(a, &s)
	if s.Calls < 150 || s.Lost != 0 || s.DuplicateAssignments != 0 || s.Assigned+s.Queued != s.Calls {
		t.Fatalf("summary %s", a)
	}
	if s.ResponseSP50 == nil || *s.ResponseSP50 < 120 || *s.ResponseSP50 > 1800 {
		t.Fatalf("median response %v s is not a city's", s.ResponseSP50)
	}
}

func TestSimulateRejectsUnknownScenario(t *testing.T) {
	if _, err := Run(Config{Scenario: "zombies"}); err == nil {
		t.Fatal("an unknown scenario ran")
	}
	if _, err := Run(Config{Hospitals: hospitals.Config{Policy: "random"}}); err == nil {
		t.Fatal("an unknown hospital policy ran")
	}
}

// The fever surge with the same seed under both hospital policies: the nearest policy sends
// patients to full hospitals; the balanced one never does, spreads the load, and costs little
// extra transport. (BENCHMARKS.md has the table over several seeds.)
func TestFeverSurgePolicies(t *testing.T) {
	run := func(p hospitals.Policy) results.Summary {
		r, err := Run(Config{Scenario: ScenarioFeverSurge, Seed: 1, Hospitals: hospitals.Config{Policy: p}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r.Summary)
		t.Logf("%s: %s", p, b)
		return r.Summary
	}
	near, bal := run(hospitals.PolicyNearest), run(hospitals.PolicyBalanced)
	if *near.HospitalOverflow == 0 {
		t.Errorf("nearest policy: no overflow; the scenario does not show the problem")
	}
	if *bal.HospitalOverflow != 0 {
		t.Errorf("balanced policy: %d patients taken to a full hospital", *bal.HospitalOverflow)
	}
	if !(*bal.OccupancySpreadPP < *near.OccupancySpreadPP) || !(*bal.OccupancyMaxPct < *near.OccupancyMaxPct) {
		t.Errorf("balanced spread %.1f / max %.1f not below nearest %.1f / %.1f", *bal.OccupancySpreadPP, *bal.OccupancyMaxPct,
			*near.OccupancySpreadPP, *near.OccupancyMaxPct)
	}
	if *bal.TransportAddedSMean > 180 {
		t.Errorf("balanced policy adds %.0f s of transport on average, more than 180", *bal.TransportAddedSMean)
	}
	if *near.TransportAddedSMean != 0 {
		t.Errorf("nearest policy adds transport: %.0f s", *near.TransportAddedSMean)
	}
}
