package simulator

import (
	"testing"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/surveillance"
)

// An outbreak far stronger than the background is detected within a day, at a place that
// touches its cells; the same seed without it raises no alert there.
func TestOutbreakIsDetected(t *testing.T) {
	strong := Outbreak{StartH: 12, PerHour: 4, GrowthPerDay: 2}
	r, err := Run(Config{Scenario: ScenarioOutbreak, Hours: 48, Seed: 5, Outbreak: strong})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Summary
	if s.OutbreakDetected == nil || !*s.OutbreakDetected || s.DetectionDelayH == nil || *s.DetectionDelayH > 12 {
		t.Fatalf("four extra fever calls an hour in three cells must be seen within 12 h: detected %v after %v h",
			ptr(s.OutbreakDetected), ptr(s.DetectionDelayH))
	}
	if s.FalseAlarms == nil || s.FalseAlarmsPerWeek == nil {
		t.Fatal("false alarms must be reported")
	}
	normal, err := Run(Config{Scenario: ScenarioNormal, Hours: 48, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if normal.Summary.OutbreakDetected != nil || normal.Summary.DetectionDelayH != nil || normal.Summary.FalseAlarms == nil {
		t.Fatalf("normal: no outbreak to detect, but false alarms counted: %+v", normal.Summary)
	}
}

// The guidance's KPIs are in every scenario's summary; Wuhan's fleet is 258 units, 52 of
// them negative-pressure, for 11.4 million residents.
func TestGuidanceKPIs(t *testing.T) {
	r, err := Run(Config{Scenario: ScenarioFeverSurge, Hours: 12, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Summary
	if s.AmbulancesPer30k == nil || *s.AmbulancesPer30k != 0.68 || s.NegativePressurePct == nil || *s.NegativePressurePct != 20.2 {
		t.Fatalf("fleet ratios: %v per 30k, %v%% negative pressure; want 0.68 and 20.2", ptr(s.AmbulancesPer30k), ptr(s.NegativePressurePct))
	}
	if s.EnRouteWithin3MinPct == nil || *s.EnRouteWithin3MinPct < 50 || *s.EnRouteWithin3MinPct > 100 {
		t.Fatalf("en route within 3 min: %v", ptr(s.EnRouteWithin3MinPct))
	}
	if s.DecontaminationUnitHours == nil || *s.DecontaminationUnitHours <= 0 {
		t.Fatalf("a fever surge decontaminates units: %v unit-hours", ptr(s.DecontaminationUnitHours))
	}
	off, err := Run(Config{Scenario: ScenarioFeverSurge, Hours: 12, Seed: 2, Decontamination: -1})
	if err != nil {
		t.Fatal(err)
	}
	if *off.Summary.DecontaminationUnitHours != 0 {
		t.Fatalf("decontamination off: %v unit-hours", *off.Summary.DecontaminationUnitHours)
	}
}

func TestOutbreakCallsLandInTheirCells(t *testing.T) {
	cfg := Config{Scenario: ScenarioOutbreak, Hours: 24, Seed: 3}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Outbreak.Cells) != 3 {
		t.Fatalf("default cluster: %v", cfg.Outbreak.Cells)
	}
	s, err := newSim(cfg, cfg.City.Location())
	if err != nil {
		t.Fatal(err)
	}
	tally := surveillance.NewTally(7)
	for range 200 {
		c := contract.Call{ReceivedAt: time.Now()}
		s.placeOutbreakCall(&c)
		tally.Add(c.ReceivedAt, c.Lat, c.Lng, "")
	}
	hours := tally.Until(time.Now().Add(2 * time.Hour))
	for cell, n := range hours[0].Cells {
		in := false
		for _, oc := range cfg.Outbreak.Cells {
			in = in || oc == cell
		}
		if !in {
			t.Fatalf("%d outbreak calls in %s, outside the cluster %v", n, cell, cfg.Outbreak.Cells)
		}
	}
}

func ptr[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
