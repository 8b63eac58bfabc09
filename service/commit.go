package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/sql"
)

// Decisions and their record: group commit.
//
// A decision is made in memory, under the engine lock, in a few microseconds; writing it to
// PostgreSQL takes a round trip and some milliseconds. Holding the lock across the write
// would make every decision wait for the one before it to be written. Instead a decision is
// appended, still under the lock, to an ordered queue and the lock is released; a single
// committer writes everything queued in one transaction and then releases the waiters, who
// only then let their Kafka offsets be committed. Decisions thus overlap with the writing of
// earlier ones, and a busy second costs a few transactions instead of one per batch.
//
// The queue is in decision order, so the record is written in the order the engine decided.
// If a transaction fails, the decisions in it and every decision queued after it rest on
// state that was never recorded: the committer takes the engine lock, fails all of them, and
// rebuilds the engine from the database before anyone decides again. Their consumers retry
// their batches, which then decide afresh.

// record is one decision step's effect on the database and on Kafka.
type record struct {
	capacity []contract.CapacityReport
	changes  sql.Changes // the step puts new calls in New and Sources; decideAsync adds the rest
	out      *outRow
	evs      []dispatch.Event
	done     chan error
}

func (r *record) empty() bool {
	return len(r.capacity) == 0 && r.changes.Empty()
}

// errRebuilt is returned to the decisions discarded after a failed transaction.
var errRebuilt = errors.New("an earlier decision failed to record; the engine was rebuilt from the database: retry")

type committer struct {
	s      *Service
	mu     sync.Mutex
	queue  []*record
	closed bool // run has returned: nothing more is written
	wake   chan struct{}
}

// errStopping is returned to a decision made after the committer stopped.
var errStopping = errors.New("ems120 is stopping: the decision was not recorded")

func newCommitter(s *Service) *committer {
	return &committer{s: s, wake: make(chan struct{}, 1)}
}

// push queues a record; the caller holds the engine lock, so queue order is decision order.
// It reports false when the committer has stopped.
func (c *committer) push(r *record) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, r)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// run writes queued records until ctx is cancelled and the queue is empty.
func (c *committer) run(ctx context.Context) error {
	for {
		c.mu.Lock()
		batch := c.queue
		if len(batch) > 256 {
			batch = batch[:256]
		}
		c.queue = c.queue[len(batch):]
		c.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				c.mu.Lock()
				n := len(c.queue)
				if n == 0 {
					c.closed = true
				}
				c.mu.Unlock()
				if n == 0 {
					return nil
				}
			case <-c.wake:
			}
			continue
		}
		c.write(context.WithoutCancel(ctx), batch)
	}
}

func (c *committer) write(ctx context.Context, batch []*record) {
	s := c.s
	err := s.store.InTx(ctx, func(tx *sql.Tx) error {
		for _, r := range batch {
			for _, rep := range r.capacity {
				if err := tx.InsertCapacityReport(rep, contract.TopicCapacity); err != nil {
					return err
				}
			}
			tx.Apply(r.changes)
		}
		return nil
	})
	if err != nil {
		s.log.Error("recording decisions failed; rebuilding the engine from the database", "decisions", len(batch), "err", err)
		s.mu.Lock()
		c.mu.Lock()
		later := c.queue
		c.queue = nil
		c.mu.Unlock()
		if rerr := s.reloadLocked(ctx); rerr != nil {
			s.log.Error("rebuilding the engine", "err", rerr)
		}
		s.mu.Unlock()
		for _, r := range batch {
			r.done <- fmt.Errorf("record decisions: %w", err)
		}
		for _, r := range later {
			r.done <- errRebuilt
		}
		return
	}
	for _, r := range batch {
		s.count(r.evs)
		s.outbox.enqueue(r.out)
		r.done <- nil
	}
}

// decide runs one decision step under the engine lock and waits until its effect is
// recorded. See decideAsync.
func (s *Service) decide(ctx context.Context, born map[string]time.Time, positions bool,
	step func(now time.Time, r *record) ([]dispatch.Event, error)) error {
	wait, err := s.decideAsync(ctx, born, positions, step)
	if err != nil {
		return err
	}
	return wait()
}

// decideAsync runs one decision step under the engine lock, queues its effect for the
// committer and returns a function that waits until it is recorded. The step may add new
// calls and capacity reports to the record; a step that returns a refusal changed nothing and
// its error comes back as it is. born maps a call id to its record time on ems.calls, for
// the latency metric; positions says whether units that only moved are recorded too (the
// ping path leaves them to flushPositions).
func (s *Service) decideAsync(ctx context.Context, born map[string]time.Time, positions bool,
	step func(now time.Time, r *record) ([]dispatch.Event, error)) (func() error, error) {
	r := &record{done: make(chan error, 1)}
	s.mu.Lock()
	now := s.cfg.Now()
	evs, err := step(now, r)
	if err != nil {
		s.mu.Unlock()
		var ref refusal
		if errors.As(err, &ref) {
			return nil, ref.error
		}
		return nil, err
	}
	r.evs = evs
	ch, out, err := s.changes(evs, born, positions)
	ch.New, ch.Sources = r.changes.New, r.changes.Sources
	r.changes, r.out = ch, out
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.publishStats()
	if r.empty() {
		s.mu.Unlock()
		return func() error { return nil }, nil
	}
	if !s.commits.push(r) {
		// The engine holds a decision that will not be recorded; rebuild it so that what it
		// serves (an HTTP read during shutdown) matches the record.
		_ = s.reloadLocked(context.WithoutCancel(ctx))
		s.mu.Unlock()
		return nil, errStopping
	}
	s.mu.Unlock()
	return func() error {
		select {
		case err := <-r.done:
			return err
		case <-ctx.Done():
			// The committer still writes it; the caller gives up waiting (and, for a
			// consumer, does not commit the offsets: the batch comes again, a replay).
			return ctx.Err()
		}
	}, nil
}
