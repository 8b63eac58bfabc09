package service

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/uber/h3-go/v4"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/coverage"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/streams"
)

// covState is the live coverage map. Unit changes from the dispatch path are only noted
// (a map write under its own lock); a goroutine applies them to the tracker once a second,
// each unit once however often it pinged, so coverage never slows a dispatch decision.
type covState struct {
	mu      sync.Mutex // guards the tracker and the advice; held for whole recomputes
	cells   []coverage.Cell
	model   city.TravelModel
	tracker *coverage.Tracker
	advice  contract.MoveUpAdvice
	// The unit changes noted since the last flush, under a lock of their own: the decisions
	// note their changes under the engine lock, and must not wait for the tracker (a
	// recompute at the turn of the hour, move-up advice over a large fleet: seconds at a
	// load test's 110,000 units). A flush takes mu first, then swaps pendingMu's map out.
	pendingMu sync.Mutex
	pending   map[string]dispatch.Unit
}

// history is how far back calls count towards the demand weights.
const history = 90 * 24 * time.Hour

// newCoverage builds the service area with demand weights (call history of the last 90 days
// blended with the population proxy), stores its cells for the analysts' views, and starts
// an empty tracker.
func (s *Service) newCoverage(ctx context.Context) error {
	cells := coverage.ServiceArea(s.cfg.City, coverage.Resolution)
	calls, err := s.store.CallPositions(ctx, s.cfg.Now().Add(-history), 100_000)
	if err != nil {
		return err
	}
	if n := coverage.WithHistory(cells, calls); n > 0 {
		s.log.Info("coverage demand weighted by call history", "calls", n)
	}
	rows := make([]sql.CoverageCell, len(cells))
	for i, c := range cells {
		rows[i] = sql.CoverageCell{ID: c.ID, District: c.District, Demand: c.Demand}
	}
	if err := s.store.SeedCoverageCells(ctx, rows); err != nil {
		return err
	}
	if err := s.store.SetSetting(ctx, "timezone", s.cfg.City.TimeZone); err != nil {
		return err
	}
	s.cov = &covState{cells: cells, model: s.travel, tracker: coverage.NewTracker(cells, s.travel, s.cfg.Now()),
		pending: map[string]dispatch.Unit{}}
	return nil
}

// noteUnits queues unit changes for the coverage map.
func (c *covState) noteUnits(units []dispatch.Unit) {
	if len(units) == 0 {
		return
	}
	c.pendingMu.Lock()
	for _, u := range units {
		c.pending[u.ID] = u
	}
	c.pendingMu.Unlock()
}

// reset starts the map again from the engine's units (at start-up and after a reload).
func (c *covState) reset(units []dispatch.Unit, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pendingMu.Lock()
	clear(c.pending)
	c.pendingMu.Unlock()
	c.tracker = coverage.NewTracker(c.cells, c.model, now)
	for _, u := range units {
		c.applyLocked(u)
	}
}

func (c *covState) applyLocked(u dispatch.Unit) {
	if u.Dispatchable() {
		c.tracker.Set(u.ID, u.Pos)
	} else {
		c.tracker.Remove(u.ID)
	}
}

// flush applies the noted changes and the clock.
func (c *covState) flush(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pendingMu.Lock()
	pending := c.pending
	c.pending = make(map[string]dispatch.Unit, len(pending))
	c.pendingMu.Unlock()
	for _, u := range pending {
		c.applyLocked(u)
	}
	c.tracker.SetTime(now)
}

func (c *covState) summary() (float64, float64, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	one, two := c.tracker.Summary()
	return one, two, c.tracker.Units()
}

// runCoverage keeps the map current, snapshots it to PostgreSQL a second after it starts and
// then every CoverageSnapshotEvery and, when coverage is below the target, publishes move-up
// advice on ems.coverage (when it changes).
func (s *Service) runCoverage(ctx context.Context) error {
	w := streams.NewWriter(s.cfg.Brokers, contract.TopicCoverage)
	defer w.Close()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastSnap, lastAdvice time.Time
	for {
		// The first round waits a tick too: a Wuhan snapshot (13,534 rows) costs PostgreSQL
		// about half a second of CPU, better spent after start-up than during it.
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := s.cfg.Now()
		s.cov.flush(now)
		if now.Sub(lastSnap) >= s.cfg.CoverageSnapshotEvery {
			lastSnap = now
			if err := s.snapshotCoverage(ctx, now); err != nil && ctx.Err() == nil {
				s.log.Warn("coverage snapshot", "err", err)
			}
		}
		if now.Sub(lastAdvice) >= time.Minute {
			lastAdvice = now
			adv := s.moveUps(now)
			if len(adv.Moves) > 0 && !sameMoves(adv.Moves, s.cov.lastAdvice().Moves) {
				b, _ := json.Marshal(adv)
				if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(s.cfg.City.Name), Value: b}); err != nil && ctx.Err() == nil {
					s.log.Warn("publishing move-up advice", "err", err)
				}
			}
			s.cov.setAdvice(adv)
		}
	}
}

func (c *covState) lastAdvice() contract.MoveUpAdvice {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.advice
}

func (c *covState) setAdvice(a contract.MoveUpAdvice) {
	c.mu.Lock()
	c.advice = a
	c.mu.Unlock()
}

func sameMoves(a, b []contract.MoveUp) bool {
	return slices.EqualFunc(a, b, func(x, y contract.MoveUp) bool { return x.UnitID == y.UnitID && x.ToStation == y.ToStation })
}

func (s *Service) snapshotCoverage(ctx context.Context, now time.Time) error {
	s.cov.mu.Lock()
	t := s.cov.tracker
	snap := sql.CoverageSnapshot{At: now, UnitsAvailable: t.Units(), Reach: map[h3.Cell]int{}}
	snap.CoveragePct, snap.DoubleCoveragePct = t.Summary()
	for i, c := range t.Cells() {
		if r := t.Reach(i); r > 0 {
			snap.Reach[c.ID] = r
		}
	}
	s.cov.mu.Unlock()
	if _, err := s.store.InsertCoverageSnapshot(ctx, snap); err != nil {
		return err
	}
	s.metrics.snapshots.Inc()
	return nil
}

// moveUps computes the advice now: when coverage is below the target, up to three moves of
// idle units (available, not flagged, serving nothing) to stations.
//
// The idle units are the ones the coverage map holds (as of its last flush, which callers
// make first), so the advice never takes the engine lock: with a large fleet, copying every
// unit under it held up decisions.
func (s *Service) moveUps(now time.Time) contract.MoveUpAdvice {
	s.cov.mu.Lock()
	defer s.cov.mu.Unlock()
	one, two := s.cov.tracker.Summary()
	adv := contract.MoveUpAdvice{Type: "move_up_advice", At: now.UTC(), CoveragePct: round1(one), DoubleCoveragePct: round1(two),
		TargetPct: s.cfg.CoverageTargetPct, Moves: []contract.MoveUp{}}
	if one >= s.cfg.CoverageTargetPct {
		return adv
	}
	idle := s.cov.tracker.UnitIDs()
	for _, m := range s.cov.tracker.MoveUps(idle, s.cfg.City.Stations, 3, s.cfg.CoverageTargetPct) {
		adv.Moves = append(adv.Moves, contract.MoveUp{UnitID: m.UnitID, ToStation: m.ToStation, GainPct: round2(m.GainPct),
			DoubleGainPct: round2(m.GainDoubled)})
	}
	return adv
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round2(v float64) float64 { return math.Round(v*100) / 100 }

// getCoverage serves the map as GeoJSON (coverage.FeatureCollection). ?district=CODE keeps
// one district; ?min_reach=N the cells reached by at least N units.
func (s *Service) getCoverage(w http.ResponseWriter, r *http.Request) {
	district := r.URL.Query().Get("district")
	minReach := 0
	if v := r.URL.Query().Get("min_reach"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "min_reach", "want a non-negative integer")
			return
		}
		minReach = n
	}
	s.cov.flush(s.cfg.Now())
	s.cov.mu.Lock()
	fc := s.cov.tracker.GeoJSON(func(c coverage.Cell, reach int) bool {
		return (district == "" || c.District == district) && reach >= minReach
	})
	s.cov.mu.Unlock()
	w.Header().Set("Content-Type", "application/geo+json")
	_ = json.NewEncoder(w).Encode(fc)
}

func (s *Service) getMoves(w http.ResponseWriter, r *http.Request) {
	s.cov.flush(s.cfg.Now())
	writeJSON(w, http.StatusOK, s.moveUps(s.cfg.Now()))
}

// CoveragePct is the live demand-weighted coverage.
func (s *Service) CoveragePct() float64 {
	one, _, _ := s.cov.summary()
	return one
}
