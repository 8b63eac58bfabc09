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
	capacity []capacityIn
	changes  sql.Changes // the step puts new calls in New and Sources; decideAsync adds the rest
	out      *outRow
	dead     []refused // messages refused; published once each, after the commit
	evs      []dispatch.Event
	live     *liveRecord // what the console is sent once it is recorded
	done     chan error
}

// capacityIn is an accepted capacity report and who sent it ("" when it came straight from the
// topic; the account, for one taken over HTTP).
type capacityIn struct {
	report contract.CapacityReport
	actor  string
}

// source is where the report came from, as the capacity history records it.
func (c capacityIn) source() string {
	if c.actor != "" {
		return "http"
	}
	return contract.TopicCapacity
}

func (r *record) empty() bool {
	return len(r.capacity) == 0 && len(r.dead) == 0 && r.changes.Empty()
}

// errRebuilt is returned to the decisions discarded after a failed transaction.
var errRebuilt = errors.New("an earlier decision failed to record; the engine was rebuilt from the database: retry")

type committer struct {
	s      *Service
	t      *term
	mu     sync.Mutex
	queue  []*record
	closed bool // run has returned: nothing more is written
	wake   chan struct{}
}

// errStopping is returned to a decision made after the committer stopped.
var errStopping = errors.New("ems120 is stopping: the decision was not recorded")

func newCommitter(s *Service, t *term) *committer {
	return &committer{s: s, t: t, wake: make(chan struct{}, 1)}
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

// run writes queued records until ctx is cancelled and the queue is empty, or the lease is
// lost (then what is queued fails: nothing can be written).
func (c *committer) run(ctx context.Context, lost <-chan struct{}) error {
	defer c.failQueued(errNotActive)
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
			case <-lost:
				return nil
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
		c.write(ctx, batch)
	}
}

// failQueued closes the committer and fails what is still queued.
func (c *committer) failQueued(err error) {
	c.mu.Lock()
	c.closed = true
	later := c.queue
	c.queue = nil
	c.mu.Unlock()
	for _, r := range later {
		r.done <- err
	}
}

// write records a batch in one transaction (which shutdown does not interrupt), then hands
// its outbox rows to the publisher and releases the waiters.
func (c *committer) write(runCtx context.Context, batch []*record) {
	s := c.s
	ctx := context.WithoutCancel(runCtx)
	var letters *outRow
	err := s.store.InTx(ctx, func(tx *sql.Tx) error {
		for _, r := range batch {
			for _, c := range r.capacity {
				if err := tx.InsertCapacityReport(c.report, c.source(), c.actor); err != nil {
					return err
				}
			}
			tx.Apply(r.changes)
		}
		var err error
		letters, err = c.recordRefusals(ctx, tx, batch)
		return err
	})
	if err != nil {
		c.failed(ctx, batch, err)
		return
	}
	committed := time.Now()
	for _, r := range batch {
		s.count(r.evs)
		c.t.outbox.enqueue(runCtx, c.t.lost, r.out)
		r.done <- nil
	}
	c.t.outbox.enqueue(runCtx, c.t.lost, letters)
	for _, r := range batch {
		s.publishLive(r.live, committed)
		if len(r.capacity) > 0 || len(r.evs) > 0 {
			s.hospDirty.Store(true)
		}
	}
}

// recordRefusals records the batch's refused messages and returns the outbox row of the dead
// letters not published before (nil for none), queued in the transaction.
func (c *committer) recordRefusals(ctx context.Context, tx *sql.Tx, batch []*record) (*outRow, error) {
	var dead []refused
	for _, r := range batch {
		dead = append(dead, r.dead...)
	}
	if len(dead) == 0 {
		return nil, nil
	}
	refs := make([]sql.Refusal, len(dead))
	for i, d := range dead {
		refs[i] = d.ref
	}
	fresh, err := tx.RecordRefusals(ctx, refs)
	if err != nil || len(fresh) == 0 {
		return nil, err
	}
	out := &outRow{row: sql.OutboxRow{ID: c.s.store.NewOutboxID()}}
	for _, i := range fresh {
		out.row.Msgs = append(out.row.Msgs, sql.OutboxMsg{Topic: contract.TopicDeadLetter, Key: dead[i].letter.Key, Value: dead[i].letter.Value})
		out.born = append(out.born, time.Time{})
		c.s.metrics.rejected.WithLabelValues(dead[i].ref.Topic).Inc()
	}
	tx.Apply(sql.Changes{Outbox: &out.row})
	return out, nil
}

// failed handles a transaction that did not commit. Its decisions, and every decision queued
// after them, rest on state that was never recorded: all of them fail, and the engine is
// rebuilt from the record before anything is decided again. If the rebuild fails too (the
// database is away), the engine is marked stale: nothing is decided until heal rebuilds it.
// A write refused by the fence ends the term.
func (c *committer) failed(ctx context.Context, batch []*record, err error) {
	s := c.s
	if sql.IsFenced(err) {
		c.t.lose(err)
	}
	s.log.Error("recording decisions failed; rebuilding the engine from the database", "decisions", len(batch), "err", err)
	s.mu.Lock()
	c.mu.Lock()
	later := c.queue
	c.queue = nil
	c.mu.Unlock()
	s.rebuildLocked(ctx)
	s.mu.Unlock()
	for _, r := range batch {
		r.done <- fmt.Errorf("record decisions: %w", err)
	}
	for _, r := range later {
		r.done <- errRebuilt
	}
}

// rebuildLocked rebuilds the engine from the record, or marks it stale. Call with s.mu held.
func (s *Service) rebuildLocked(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	wasStale := s.stale != nil
	if err := s.reloadLocked(rctx); err != nil {
		s.stale = fmt.Errorf("the engine could not be rebuilt from the record after a failed write: %w", err)
		s.setStale(s.stale.Error())
		s.log.Error("rebuilding the engine; deciding nothing until it is rebuilt", "err", err)
		return
	}
	if wasStale {
		s.log.Info("engine rebuilt from the record; deciding again")
	}
}

// heal retries the rebuild of a stale engine with backoff until ctx ends.
func (s *Service) heal(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		s.mu.Lock()
		if s.stale != nil {
			s.rebuildLocked(ctx)
		}
		healthy := s.stale == nil
		s.mu.Unlock()
		if healthy {
			backoff = 100 * time.Millisecond
		} else {
			backoff = min(2*backoff, 5*time.Second)
		}
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

// decidable says why nothing may be decided now, or nil. Call with s.mu held.
func (s *Service) decidable() error {
	switch {
	case s.cur == nil:
		return errNotActive
	case s.stale != nil:
		return s.stale
	}
	return nil
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
	if err := s.decidable(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
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
	ch.New, ch.Sources, ch.Surge = r.changes.New, r.changes.Sources, r.changes.Surge
	r.changes, r.out = ch, out
	if err == nil {
		r.live = s.liveOf(evs, ch.Units)
	}
	if err != nil {
		// The engine holds a decision it cannot record.
		s.rebuildLocked(context.WithoutCancel(ctx))
		s.mu.Unlock()
		return nil, fmt.Errorf("encode the decision: %w", err)
	}
	s.publishStats()
	if r.empty() {
		s.mu.Unlock()
		return func() error { return nil }, nil
	}
	if !s.cur.commits.push(r) {
		// The engine holds a decision that will not be recorded; rebuild it so that what it
		// serves (an HTTP read during shutdown) matches the record.
		s.rebuildLocked(context.WithoutCancel(ctx))
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
