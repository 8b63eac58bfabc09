package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/hospitals"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/streams"
)

// ErrOutsideArea refuses a call too far from every station to be ours (a swapped lat/lng, a
// 0,0 from a broken handset, a call for another city's centre).
var ErrOutsideArea = errors.New("outside the service area")

// checkArea refuses a call whose nearest station is further than the widest search radius:
// no unit starting from its station could be sent to it.
func (s *Service) checkArea(c contract.Call) error {
	p := city.Point{Lat: c.Lat, Lng: c.Lng}
	if s.area.Within(p) {
		return nil
	}
	if d, ok := s.area.NearestM(p); ok {
		return fmt.Errorf("%w: the nearest station is %.0f km away (limit %.0f km)", ErrOutsideArea, d/1000, s.cfg.MaxRadiusM/1000)
	}
	return fmt.Errorf("%w: the city has no stations", ErrOutsideArea)
}

// startCalls is the streams.Starter for ems.calls: it decides, and returns the wait for the
// record (and for the dead letters).
func (s *Service) startCalls(ctx context.Context, msgs []kafka.Message) (func() error, error) {
	var dead []refused
	calls := make([]contract.Call, 0, len(msgs))
	srcs := make([]sql.Source, 0, len(msgs))
	born := make(map[string]time.Time, len(msgs))
	actors := make([]string, 0, len(msgs))
	now := s.cfg.Now()
	wait := func() error { return nil }
	for _, m := range msgs {
		c, err := contract.DecodeCall(m.Value)
		if err == nil {
			err = s.checkArea(c)
		}
		if err != nil {
			dead = append(dead, refuse(m, err, now))
			continue
		}
		if c.ReceivedAt.IsZero() {
			c.ReceivedAt = m.Time
		}
		if _, dup := born[c.CallID]; dup {
			continue // the same call twice in one batch: the first is the call
		}
		born[c.CallID] = m.Time
		calls = append(calls, c)
		srcs = append(srcs, sql.Source{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset})
		actors = append(actors, actorOf(m))
	}
	if len(calls) > 0 || len(dead) > 0 {
		ids := make([]string, len(calls))
		for i, c := range calls {
			ids[i] = c.CallID
		}
		// Calls already recorded are replays: they decide nothing. Calls decided but not yet
		// recorded are still live (or just finished) in the engine, which ignores them.
		known, err := s.store.KnownCalls(ctx, ids)
		if err != nil {
			return nil, err
		}
		wait, err = s.decideAsync(ctx, born, true, func(now time.Time, r *record) ([]dispatch.Event, error) {
			r.dead = dead
			var evs []dispatch.Event
			for i, c := range calls {
				if known[c.CallID] {
					continue
				}
				if ev := s.engine.Receive(c, now); len(ev) > 0 {
					if ev[0].Type == dispatch.EventReceived {
						ev[0].Actor = actors[i] // who took the call; the decision that follows is the engine's
					}
					evs = append(evs, ev...)
					r.changes.New = append(r.changes.New, c)
					r.changes.Sources = append(r.changes.Sources, srcs[i])
				}
			}
			return evs, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return wait, nil
}

// actorHeader names, on a message the service itself put on ems.calls or ems.capacity for a
// request over HTTP, the account that made it. Producers on the topics are trusted as far as
// the broker's ACLs allow: a header they set is recorded as they set it.
const actorHeader = "ems-actor"

// actorOf is the account a message was sent for, or "".
func actorOf(m kafka.Message) string {
	for _, h := range m.Headers {
		if h.Key == actorHeader {
			return string(h.Value)
		}
	}
	return ""
}

// startUnits is the streams.Starter for ems.units.
func (s *Service) startUnits(ctx context.Context, msgs []kafka.Message) (func() error, error) {
	var dead []refused
	now := s.cfg.Now()
	pings := make([]contract.UnitPing, 0, len(msgs))
	from := make([]kafka.Message, 0, len(msgs))
	for _, m := range msgs {
		p, err := contract.DecodeUnitPing(m.Value)
		if err != nil {
			dead = append(dead, refuse(m, err, now))
			continue
		}
		if p.At.IsZero() {
			p.At = m.Time
		}
		pings = append(pings, p)
		from = append(from, m)
	}
	wait := func() error { return nil }
	if len(pings) > 0 || len(dead) > 0 {
		var stale, applied int
		decoded := len(dead)
		var err error
		wait, err = s.decideAsync(ctx, nil, false, func(now time.Time, r *record) ([]dispatch.Event, error) {
			var evs []dispatch.Event
			stale, applied = 0, 0
			dead = dead[:decoded]
			defer func() { r.dead = dead }()
			for i, p := range pings {
				e, err := s.engine.Ping(p, now)
				switch {
				case errors.Is(err, dispatch.ErrStalePing):
					stale++
				case err != nil:
					// An unknown unit, or a status that would move its incident backwards:
					// the position (if any) is applied, the refusal is shown.
					dead = append(dead, refuse(from[i], err, now))
					evs = append(evs, e...)
				default:
					applied++
					evs = append(evs, e...)
				}
			}
			return evs, nil
		})
		if err != nil {
			return nil, err
		}
		s.metrics.pings.Add(float64(applied))
		s.metrics.stalePings.Add(float64(stale))
	}
	return wait, nil
}

// refused is a message the service refuses: its record, and its dead letter (the reason and
// the original bytes) for ems.deadletter, published once it is recorded (commit.go).
type refused struct {
	ref    sql.Refusal
	letter kafka.Message
}

func refuse(m kafka.Message, reason error, now time.Time) refused {
	return refused{
		ref: sql.Refusal{Source: sql.Source{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}, At: now,
			Reason: reason.Error(), Key: m.Key, Value: m.Value},
		letter: streams.DeadLetter(m, reason, now),
	}
}

// refusal is an engine's refusal of a command (an illegal transition, a busy unit): the
// engine changed nothing, so there is nothing to record or undo.
type refusal struct{ error }

func (r refusal) Unwrap() error { return r.error }

func (s *Service) count(evs []dispatch.Event) {
	for _, e := range evs {
		switch e.Type {
		case dispatch.EventReceived:
			s.metrics.calls.Inc()
		case dispatch.EventAssigned:
			s.metrics.assigned.Inc()
			if e.Assignment.WithinStandard {
				s.metrics.withinStd.Inc()
			}
		case dispatch.EventQueued:
			s.metrics.queuedEvents.Inc()
		case dispatch.EventClosed:
			s.metrics.closed.Inc()
		}
	}
}

// handleCapacity is the streams.Handler for ems.capacity: each report is validated against the
// registry (known hospital, its bed kinds, not in the future, not older than the last one);
// an accepted report is kept as history and becomes the hospital's state in the same
// transaction; a repeat of the last report changes nothing; a refused one goes to the
// dead-letter topic with its reason.
func (s *Service) handleCapacity(ctx context.Context, msgs []kafka.Message) error {
	var dead []refused
	now := s.cfg.Now()
	reps := make([]contract.CapacityReport, 0, len(msgs))
	from := make([]kafka.Message, 0, len(msgs))
	for _, m := range msgs {
		r, err := contract.DecodeCapacityReport(m.Value)
		if err != nil {
			dead = append(dead, refuse(m, err, now))
			continue
		}
		reps = append(reps, r)
		from = append(from, m)
	}
	var accepted, duplicate int
	decoded := len(dead)
	if len(reps) > 0 || len(dead) > 0 {
		err := s.decide(ctx, nil, true, func(now time.Time, rec *record) ([]dispatch.Event, error) {
			accepted, duplicate = 0, 0
			dead = dead[:decoded]
			defer func() { rec.dead = dead }()
			for i, r := range reps {
				out, err := s.hospitals.Apply(r, now)
				switch {
				case err != nil:
					dead = append(dead, refuse(from[i], err, now))
				case out == hospitals.Duplicate:
					duplicate++
				default:
					accepted++
					rec.capacity = append(rec.capacity, capacityIn{report: r, actor: actorOf(from[i])})
				}
			}
			return nil, nil
		})
		if err != nil {
			return err
		}
	}
	s.metrics.capacity.WithLabelValues("accepted").Add(float64(accepted))
	s.metrics.capacity.WithLabelValues("duplicate").Add(float64(duplicate))
	s.metrics.capacity.WithLabelValues("rejected").Add(float64(len(dead)))
	return nil
}

// flushPositions records the units that only moved since the last flush (state changes are
// recorded with their decisions): one row per unit, whatever its number of pings, and never
// over a newer row. Positions are soft state — the next ping supersedes them — so the ping
// consumer commits its offsets without waiting for this; after a crash a unit's position is
// at most a second and one ping interval old.
func (s *Service) flushPositions(ctx context.Context) error {
	s.mu.Lock()
	moved := s.engine.DrainDirty(true)
	s.mu.Unlock()
	s.cov.noteUnits(moved)
	if err := s.store.UpdatePositions(ctx, unitRows(moved)); err != nil {
		return err
	}
	s.publishPositions(moved)
	s.publishLiveState()
	return nil
}

// runPositions flushes positions every second until ctx ends, then once more.
func (s *Service) runPositions(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.flushPositions(context.WithoutCancel(ctx))
		case <-t.C:
			if err := s.flushPositions(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("recording unit positions", "err", err)
			}
		}
	}
}
