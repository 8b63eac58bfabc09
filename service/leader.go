package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/streams"
)

// Leadership. Any number of services may run for one city; exactly one is active. The active
// one holds a lease in PostgreSQL (sql.Acquire) and renews it every LeaseTTL/5; every write
// it makes checks the lease's epoch inside its transaction (sql.Store.Fence), so a process
// that lost the lease — paused past it, cut off from the database — cannot write, and steps
// down as soon as it notices. The others are standbys: they keep an engine loaded from the
// record for reads, poll for the lease, and take over when it expires. A term is one period
// as the active service; its parts (the consumers, the committer, the publisher) live and
// die with it, and the next term starts from the record and the offsets stored with it.

// role is what a service is doing now.
type role string

const (
	roleStarting role = "starting"
	roleActive   role = "active"
	roleStandby  role = "standby"
	roleStopping role = "stopping"
)

// errNotActive refuses a decision on a service that is not the active one.
var errNotActive = errors.New("this ems120 is not the active one")

// term is one period as the active service.
type term struct {
	lease   sql.Lease
	outbox  *publisher
	commits *committer
	offsets *offsetBook
	calls   *streams.Consumer
	units   *streams.Consumer
	cap     *streams.Consumer
	lost    chan struct{} // closed when the lease is lost
	once    sync.Once
	lostErr error // why; written once, before lost is closed
}

// defaultHolder names this process in the lease: host, process id and a random tag (a
// restarted process with a reused id is another holder).
func defaultHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// lead runs until ctx ends: it takes the lease whenever it is free and serves a term with it,
// and between terms keeps a warm engine as a standby.
func (s *Service) lead(ctx context.Context) error {
	poll := time.NewTicker(s.cfg.LeaseTTL / 8)
	defer poll.Stop()
	var warmed time.Time
	for ctx.Err() == nil {
		l, ok, err := s.store.Acquire(ctx, s.cfg.GroupID, s.cfg.Holder, s.HTTPAddr(), s.cfg.LeaseTTL)
		switch {
		case err != nil && ctx.Err() == nil:
			s.setCondition("database: " + err.Error())
		case ok:
			if err := s.serveTerm(ctx, l); err != nil && ctx.Err() == nil {
				s.log.Error("term as the active service ended", "epoch", l.Epoch, "err", err)
			}
			warmed = time.Now()
			continue
		default:
			s.setStandby(l)
			if time.Since(warmed) > 2*time.Second {
				s.warm(ctx)
				warmed = time.Now()
			}
		}
		select {
		case <-ctx.Done():
		case <-poll.C:
		}
	}
	return nil
}

// warm reloads the standby's engine from the record, so that its reads are fresh and a
// takeover starts from a loaded process.
func (s *Service) warm(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.reload(rctx); err != nil && ctx.Err() == nil {
		s.setCondition("reloading the record: " + err.Error())
		return
	}
	s.setCondition("")
}

// serveTerm is one term as the active service under lease l: from the record and its stored
// offsets, until ctx ends (then it stops in order and gives the lease up) or the lease is
// lost (then it stops at once: nothing it decides could be written).
func (s *Service) serveTerm(ctx context.Context, l sql.Lease) error {
	started := time.Now()
	s.store.Fence(l.Name, l.Epoch)
	defer s.store.Fence("", 0)
	defer s.setRole(roleStandby) // until the next look at the lease says more
	t := s.newTerm(l)
	defer t.outbox.close()
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-t.lost:
			cancel()
		case <-tctx.Done():
		}
	}()
	renewed := make(chan struct{})
	go func() { defer close(renewed); s.renew(tctx, t) }()
	defer func() { cancel(); <-renewed }()
	if err := s.reload(tctx); err != nil {
		return fmt.Errorf("load the record: %w", err)
	}
	if err := t.outbox.recover(tctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.cur = t
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cur = nil
		s.mu.Unlock()
	}()
	if l.Epoch > 1 {
		took := l.Vacant + time.Since(started)
		s.metrics.takeovers.Inc()
		s.metrics.takeoverSeconds.Observe(took.Seconds())
		s.log.Warn("took over as the active service", "epoch", l.Epoch, "without_leader_s", took.Seconds())
	}
	err := s.runTerm(tctx, t)
	lost := t.lostReason()
	if lost == nil {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer rcancel()
		_ = s.store.Release(rctx, l.Name, l.Epoch)
	}
	if lost != nil {
		return lost
	}
	return err
}

func (s *Service) newTerm(l sql.Lease) *term {
	t := &term{lease: l, lost: make(chan struct{})}
	t.outbox = newPublisher(s.store, s.cfg.Brokers, s.metrics, s.log, s.cfg.Now, s.cfg.MaxPendingMessages, &s.backlog)
	t.commits = newCommitter(s, t)
	t.offsets = newOffsetBook(s.store, s.cfg.GroupID)
	consumer := func(topic string) *streams.Consumer {
		return streams.NewConsumer(streams.ConsumerConfig{Brokers: s.cfg.Brokers, Topic: topic, Offsets: t.offsets,
			MaxBatch: s.cfg.MaxBatch, Logger: s.log})
	}
	t.calls, t.units, t.cap = consumer(contract.TopicCalls), consumer(contract.TopicUnits), consumer(contract.TopicCapacity)
	return t
}

// lose ends the term because the lease is gone; the first reason stays. Any goroutine of the
// term may call it.
func (t *term) lose(err error) {
	t.once.Do(func() {
		t.lostErr = err
		close(t.lost)
	})
}

// lostReason is why the lease was lost, or nil while it is held.
func (t *term) lostReason() error {
	select {
	case <-t.lost:
		return t.lostErr
	default:
		return nil
	}
}

// renew renews the lease every LeaseTTL/5 until ctx ends. The lease is lost when the database
// says another process holds it, or when no renewal has succeeded for a whole LeaseTTL (a
// standby may have taken it by now; the fence refuses our writes either way).
func (s *Service) renew(ctx context.Context, t *term) {
	tick := time.NewTicker(s.cfg.LeaseTTL / 5)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(last) > s.cfg.LeaseTTL {
			t.lose(fmt.Errorf("%w: no renewal for %s", sql.ErrFenced, time.Since(last).Round(time.Millisecond)))
			return
		}
		rctx, cancel := context.WithTimeout(ctx, s.cfg.LeaseTTL/2)
		err := s.store.Renew(rctx, t.lease.Name, t.lease.Epoch, s.cfg.LeaseTTL)
		cancel()
		switch {
		case sql.IsFenced(err):
			t.lose(err)
			return
		case err != nil:
			s.log.Warn("renewing the lease", "err", err)
		default:
			last = time.Now()
		}
	}
}

// runTerm runs the term's parts until ctx ends or one fails. Stopping goes consumers →
// committer → publisher: each stops when the one before has stopped handing it work.
func (s *Service) runTerm(ctx context.Context, t *term) error {
	g, gctx := errgroup.WithContext(ctx)
	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPub()
	commitCtx, stopCommit := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCommit()
	g.Go(func() error { return t.outbox.run(pubCtx) })
	g.Go(func() error {
		defer stopPub() // the committer is done: nothing new will enter the outbox
		return t.commits.run(commitCtx, t.lost)
	})
	// Queued calls restored from the record meet the available fleet.
	err := s.decide(ctx, nil, true, func(now time.Time, _ *record) ([]dispatch.Event, error) {
		return s.engine.AssignQueued(now), nil
	})
	if err != nil {
		stopCommit()
		_ = g.Wait()
		return err
	}
	g.Go(func() error {
		defer stopCommit() // the consumers are done: no new decisions
		return s.consume(gctx, t)
	})
	s.setRole(roleActive)
	s.log.Info("ems120 active", "epoch", t.lease.Epoch, "units", s.Stats().Units, "live_calls", s.Stats().Live)
	err = g.Wait()
	if t.lostReason() == nil {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if ferr := t.offsets.flush(fctx); ferr != nil {
			s.log.Warn("storing the consumers' offsets at the end of the term", "err", ferr)
		}
	}
	return err
}

// consume runs the consumers and the periodic work until ctx ends or one of them fails.
func (s *Service) consume(ctx context.Context, t *term) error {
	g, gctx := errgroup.WithContext(ctx)
	// Two batches in flight: the next is decided while the one before is recorded.
	g.Go(func() error { return t.calls.RunPipelined(gctx, s.startCalls, 2) })
	g.Go(func() error { return t.units.RunPipelined(gctx, s.startUnits, 2) })
	g.Go(func() error { return t.cap.Run(gctx, s.handleCapacity) })
	g.Go(func() error { return s.tick(gctx) })
	g.Go(func() error { return s.runCoverage(gctx) })
	g.Go(func() error { return s.runSurveillance(gctx) })
	g.Go(func() error { return s.runPositions(gctx) })
	g.Go(func() error { return t.offsets.run(gctx, t.lose) })
	g.Go(func() error { return s.heal(gctx) })
	return g.Wait()
}
