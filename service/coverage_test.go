package service

import (
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/coverage"
	"github.com/ems120/ems120/dispatch"
)

// The decisions note unit changes for the coverage map under the engine lock; a long hold of
// the tracker (a recompute at the turn of the hour, move-up advice over a large fleet) must
// not hold them up. The change noted meanwhile reaches the map at the next flush.
func TestNotingUnitsDoesNotWaitForTheTracker(t *testing.T) {
	c := city.Wuhan()
	now := time.Date(2026, 11, 28, 23, 59, 0, 0, time.UTC)
	model := city.DefaultTravelModel(time.UTC)
	cells := coverage.ServiceArea(c, coverage.Resolution)
	cov := &covState{cells: cells, model: model, tracker: coverage.NewTracker(cells, model, now),
		pending: map[string]dispatch.Unit{}}
	st := c.Stations[0]
	u := dispatch.Unit{ID: "A1", Kind: contract.KindALS, StationID: st.ID, Pos: st.Point, Status: contract.StatusAvailable}

	cov.mu.Lock() // the tracker busy
	noted := make(chan struct{})
	go func() {
		cov.noteUnits([]dispatch.Unit{u})
		close(noted)
	}()
	select {
	case <-noted:
	case <-time.After(10 * time.Second):
		t.Fatal("noteUnits waited for the tracker's lock")
	}
	if cov.tracker.Units() != 0 {
		t.Fatal("a noted change reached the tracker before a flush")
	}
	cov.mu.Unlock()

	cov.flush(now.Add(2 * time.Minute)) // past the hour: a recompute too
	if n := cov.tracker.Units(); n != 1 {
		t.Fatalf("after the flush the tracker holds %d units, want the one noted", n)
	}
	if one, _, _ := cov.summary(); one <= 0 {
		t.Fatalf("a unit at a station covers nothing: %.2f%%", one)
	}
}
