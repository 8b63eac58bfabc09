package service

import (
	"context"
	"encoding/json"
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
	best := -1.0
	for _, st := range s.cfg.City.Stations {
		if d := city.DistanceM(p, st.Point); best < 0 || d < best {
			best = d
		}
	}
	if best < 0 || best > s.cfg.MaxRadiusM {
		return fmt.Errorf("%w: the nearest station is %.0f km away (limit %.0f km)", ErrOutsideArea, best/1000, s.cfg.MaxRadiusM/1000)
	}
	return nil
}

// handleCalls is the streams.Handler for ems.calls.
func (s *Service) handleCalls(ctx context.Context, msgs []kafka.Message) error {
	var dead []kafka.Message
	calls := make([]contract.Call, 0, len(msgs))
	srcs := make([]sql.Source, 0, len(msgs))
	born := make(map[string]time.Time, len(msgs))
	now := s.cfg.Now()
	for _, m := range msgs {
		c, err := contract.DecodeCall(m.Value)
		if err == nil {
			err = s.checkArea(c)
		}
		if err != nil {
			dead = append(dead, streams.DeadLetter(m, err, now))
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
	}
	if len(calls) > 0 {
		err := s.commit(ctx, born, func(ctx context.Context, tx sql.Tx, now time.Time) ([]dispatch.Event, error) {
			fresh, err := tx.InsertCalls(ctx, calls, srcs)
			if err != nil {
				return nil, err
			}
			var evs []dispatch.Event
			for _, c := range calls {
				if fresh[c.CallID] {
					evs = append(evs, s.engine.Receive(c, now)...)
				}
			}
			return evs, nil
		})
		if err != nil {
			return err
		}
	}
	return s.deadLetter(ctx, contract.TopicCalls, dead)
}

// handleUnits is the streams.Handler for ems.units.
func (s *Service) handleUnits(ctx context.Context, msgs []kafka.Message) error {
	var dead []kafka.Message
	now := s.cfg.Now()
	pings := make([]contract.UnitPing, 0, len(msgs))
	from := make([]kafka.Message, 0, len(msgs))
	for _, m := range msgs {
		p, err := contract.DecodeUnitPing(m.Value)
		if err != nil {
			dead = append(dead, streams.DeadLetter(m, err, now))
			continue
		}
		if p.At.IsZero() {
			p.At = m.Time
		}
		pings = append(pings, p)
		from = append(from, m)
	}
	if len(pings) > 0 {
		var stale, applied int
		err := s.commit(ctx, nil, func(_ context.Context, _ sql.Tx, now time.Time) ([]dispatch.Event, error) {
			var evs []dispatch.Event
			stale, applied = 0, 0
			for i, p := range pings {
				e, err := s.engine.Ping(p, now)
				switch {
				case errors.Is(err, dispatch.ErrStalePing):
					stale++
				case err != nil:
					// An unknown unit, or a status that would move its incident backwards:
					// the position (if any) is applied, the refusal is shown.
					dead = append(dead, streams.DeadLetter(from[i], err, now))
					evs = append(evs, e...)
				default:
					applied++
					evs = append(evs, e...)
				}
			}
			return evs, nil
		})
		if err != nil {
			return err
		}
		s.metrics.pings.Add(float64(applied))
		s.metrics.stalePings.Add(float64(stale))
	}
	return s.deadLetter(ctx, contract.TopicUnits, dead)
}

func (s *Service) deadLetter(ctx context.Context, topic string, dead []kafka.Message) error {
	if len(dead) == 0 {
		return nil
	}
	if err := s.dlq.WriteMessages(ctx, dead...); err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	s.metrics.rejected.WithLabelValues(topic).Add(float64(len(dead)))
	for _, m := range dead {
		s.log.Debug("dead letter", "topic", topic, "value", string(m.Value))
	}
	return nil
}

// refusal is an engine's refusal of a command (an illegal transition, a busy unit): the
// engine changed nothing, so there is nothing to undo.
type refusal struct{ error }

func (r refusal) Unwrap() error { return r.error }

// commit runs one decision step under the engine lock and records its outcome in one
// transaction. If the transaction fails the engine may hold decisions that were rolled back,
// so it is rebuilt from the database and the caller retries; a step that returns a refusal
// changed nothing and returns its error as it is. born maps a call id to its record time on
// ems.calls, for the latency metric.
func (s *Service) commit(ctx context.Context, born map[string]time.Time,
	step func(ctx context.Context, tx sql.Tx, now time.Time) ([]dispatch.Event, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	var evs []dispatch.Event
	var out []outMsg
	err := s.store.InTx(ctx, func(tx sql.Tx) error {
		var err error
		if evs, err = step(ctx, tx, now); err != nil {
			return err
		}
		var ch sql.Changes
		ch, out, err = s.changes(evs, born)
		if err != nil || ch.Empty() {
			return err
		}
		ids, err := tx.Apply(ctx, ch)
		if err != nil {
			return err
		}
		for i := range out {
			out[i].msg.ID = ids[i]
		}
		return nil
	})
	if r, ok := err.(refusal); ok {
		return r.error
	}
	if err != nil {
		if rerr := s.reloadLocked(ctx); rerr != nil {
			s.log.Error("reloading the engine after a failed transaction", "err", rerr)
		}
		return err
	}
	s.count(evs)
	s.publishStats()
	s.outbox.enqueue(out)
	return nil
}

// changes turns engine events into the record's changes and the messages to publish: for
// each event its row in the incident log and its message on ems.events, and for each
// assignment its row and its message on ems.assignments (published before the event that
// announces it).
func (s *Service) changes(evs []dispatch.Event, born map[string]time.Time) (sql.Changes, []outMsg, error) {
	var ch sql.Changes
	var out []outMsg
	final := map[string]int{} // call id → index in ch.Calls
	for _, e := range evs {
		ch.Events = append(ch.Events, sql.EventRow{CallID: e.CallID, At: e.At, Type: string(e.Type), State: string(e.State),
			UnitID: e.UnitID, Reason: e.Reason})
		st := sql.CallState{CallID: e.CallID, State: string(e.State), UnitID: e.UnitID}
		switch e.Type {
		case dispatch.EventUnitLost, dispatch.EventUnitReleased, dispatch.EventAckTimeout, dispatch.EventPreempted:
			st.UnitID = "" // that unit no longer serves the call
		}
		if i, ok := final[e.CallID]; ok {
			ch.Calls[i] = st
		} else {
			final[e.CallID] = len(ch.Calls)
			ch.Calls = append(ch.Calls, st)
		}
		if e.Type == dispatch.EventAssigned {
			ch.Assignments = append(ch.Assignments, sql.AssignmentRow{Assignment: *e.Assignment, Seq: e.Seq})
			v, err := json.Marshal(e.Assignment)
			if err != nil {
				return sql.Changes{}, nil, err
			}
			msg := outMsg{msg: sql.OutboxMsg{Topic: contract.TopicAssignments, Key: []byte(e.CallID), Value: v}}
			if e.Seq == 1 {
				msg.born = born[e.CallID]
			}
			out = append(out, msg)
		}
		v, err := json.Marshal(contract.IncidentEvent{CallID: e.CallID, At: e.At.UTC(), Type: string(e.Type), State: string(e.State),
			UnitID: e.UnitID, Seq: e.Seq, Reason: e.Reason})
		if err != nil {
			return sql.Changes{}, nil, err
		}
		out = append(out, outMsg{msg: sql.OutboxMsg{Topic: contract.TopicEvents, Key: []byte(e.CallID), Value: v}})
	}
	dirty := s.engine.DrainDirty()
	s.cov.noteUnits(dirty)
	for _, u := range dirty {
		ch.Units = append(ch.Units, sql.UnitRow{ID: u.ID, Kind: u.Kind, StationID: u.StationID, Status: u.Status,
			CallID: u.CallID, Pos: u.Pos, PingAt: u.PingAt, StatusAt: u.StatusAt, FlaggedAt: u.FlaggedAt})
	}
	for _, o := range out {
		ch.Outbox = append(ch.Outbox, o.msg)
	}
	return ch, out, nil
}

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
	var dead []kafka.Message
	now := s.cfg.Now()
	reps := make([]contract.CapacityReport, 0, len(msgs))
	from := make([]kafka.Message, 0, len(msgs))
	for _, m := range msgs {
		r, err := contract.DecodeCapacityReport(m.Value)
		if err != nil {
			dead = append(dead, streams.DeadLetter(m, err, now))
			continue
		}
		reps = append(reps, r)
		from = append(from, m)
	}
	var accepted, duplicate int
	if len(reps) > 0 {
		err := s.commit(ctx, nil, func(ctx context.Context, tx sql.Tx, now time.Time) ([]dispatch.Event, error) {
			accepted, duplicate = 0, 0
			for i, r := range reps {
				out, err := s.hospitals.Apply(r, now)
				switch {
				case err != nil:
					dead = append(dead, streams.DeadLetter(from[i], err, now))
				case out == hospitals.Duplicate:
					duplicate++
				default:
					accepted++
					if err := tx.InsertCapacityReport(ctx, r, contract.TopicCapacity); err != nil {
						return nil, err
					}
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
	return s.deadLetter(ctx, contract.TopicCapacity, dead)
}
