package service

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/streams"
)

// outRow is an outbox row on its way to Kafka.
type outRow struct {
	row  sql.OutboxRow
	born []time.Time // by message: record time of the call it answers (latency metric); zero if none
}

// publisher moves committed outbox rows to Kafka and deletes them once the broker has them.
//
// Rows reach it two ways. At start-up, recover reads what an earlier run left in the table.
// While running, the committer hands it each transaction's rows right after the commit, in
// commit order (one committer writes them in decision order), so it publishes from memory without
// reading the table back. A failed write keeps the rows and retries; a crash leaves them in
// the table for the next start. Published ids are deleted in the background, in batches.
//
// A row is deleted only after a successful write: every message is published at least once,
// and a crash between the write and the delete publishes it twice, byte for byte the same.
// A consumer treats a message identical to one it has seen as that message again: on
// ems.assignments the latest message per key is the live assignment; ems.events carries many
// messages per call id, and a repeat there is known by its content (call, seq, type, time).
//
// The pending queue is bounded (max messages). At the bound, enqueue waits for room: the
// committer stops, the decisions queued behind it wait, the consumers stop fetching — the
// service takes no new work while Kafka does not take its messages, and its memory stays
// bounded. What is committed is in the table whatever happens.
type publisher struct {
	store   *sql.Store
	w       *kafka.Writer
	metrics *metrics
	log     *slog.Logger
	now     func() time.Time
	wake    chan struct{}
	max     int
	backlog *atomic.Int64 // messages pending, for /readyz
	room    chan struct{} // signalled when pending shrinks

	mu      sync.Mutex
	pending []outRow // committed, not yet published, in commit order
	msgs    int      // messages in pending
	done    []int64  // published rows, not yet deleted
}

func newPublisher(store *sql.Store, brokers []string, m *metrics, log *slog.Logger, now func() time.Time,
	max int, backlog *atomic.Int64) *publisher {
	backlog.Store(0)
	return &publisher{store: store, w: streams.NewWriter(brokers, ""), metrics: m, log: log, now: now,
		wake: make(chan struct{}, 1), max: max, backlog: backlog, room: make(chan struct{}, 1)}
}

// enqueue hands the publisher a row that was just committed, waiting while the queue is at
// its bound. It gives up when ctx ends or stop is closed (the term is ending): the row stays
// in the table and goes out with the next term's recovery.
func (p *publisher) enqueue(ctx context.Context, stop <-chan struct{}, r *outRow) {
	if r == nil || len(r.row.Msgs) == 0 {
		return
	}
	for {
		p.mu.Lock()
		if p.msgs == 0 || p.msgs+len(r.row.Msgs) <= p.max {
			p.pending = append(p.pending, *r)
			p.msgs += len(r.row.Msgs)
			p.backlog.Store(int64(p.msgs))
			p.mu.Unlock()
			break
		}
		p.mu.Unlock()
		select {
		case <-p.room:
		case <-ctx.Done():
			p.log.Warn("outbox row left for the next term", "id", r.row.ID)
			return
		case <-stop:
			return
		}
	}
	select {
	case p.wake <- struct{}{}:
	default: // already awake
	}
}

// recover publishes every row already in the table; Run calls it before the consumers start,
// when nothing else adds rows.
func (p *publisher) recover(ctx context.Context) error {
	total := 0
	var after int64
	for {
		rows, err := p.store.PendingOutbox(ctx, after, 5000)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		msgs := make([]outRow, len(rows))
		for i, r := range rows {
			msgs[i] = outRow{row: r}
		}
		if err := p.write(ctx, msgs); err != nil {
			return err
		}
		if err := p.store.DeleteOutbox(ctx, p.takeDone()); err != nil {
			return err
		}
		total += len(rows)
		after = rows[len(rows)-1].ID
	}
	if total > 0 {
		p.log.Info("published outbox rows left by an earlier run", "rows", total)
	}
	return nil
}

// run publishes rows as they are committed until ctx is cancelled, then what is left for up
// to 5 s. A failed write is retried every half second.
func (p *publisher) run(ctx context.Context) error {
	var wg sync.WaitGroup
	dctx, stopDeleter := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(1)
	go func() { defer wg.Done(); p.deleter(dctx) }()
	defer func() { stopDeleter(); wg.Wait() }()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := p.flush(fctx); err != nil {
				p.log.Warn("outbox rows not published at shutdown; they go out at the next start", "err", err)
			}
			return nil
		case <-p.wake:
		}
		for p.flush(ctx) != nil {
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			if ctx.Err() != nil {
				break
			}
		}
	}
}

// flush writes everything pending, in order, whole rows at a time, about 5,000 messages a
// write.
func (p *publisher) flush(ctx context.Context) error {
	for {
		p.mu.Lock()
		n, msgs := 0, 0
		for n < len(p.pending) && msgs < 5000 {
			msgs += len(p.pending[n].row.Msgs)
			n++
		}
		batch := p.pending[:n]
		p.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		if err := p.write(ctx, batch); err != nil {
			return err
		}
		p.mu.Lock()
		p.pending = p.pending[len(batch):]
		p.msgs -= msgs
		p.backlog.Store(int64(p.msgs))
		p.mu.Unlock()
		select {
		case p.room <- struct{}{}:
		default:
		}
	}
}

// write publishes rows and records them as done (to be deleted).
func (p *publisher) write(ctx context.Context, rows []outRow) error {
	n := 0
	for _, r := range rows {
		n += len(r.row.Msgs)
	}
	km := make([]kafka.Message, 0, n)
	for _, r := range rows {
		for _, m := range r.row.Msgs {
			km = append(km, kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value})
		}
	}
	if err := p.w.WriteMessages(ctx, km...); err != nil {
		p.log.Error("publishing outbox rows", "messages", len(km), "err", err)
		return err
	}
	now := p.now()
	p.mu.Lock()
	for _, r := range rows {
		for i, b := range r.born {
			if !b.IsZero() && r.row.Msgs[i].Topic == contract.TopicAssignments {
				p.metrics.latency.Observe(max(0, now.Sub(b).Seconds()))
			}
		}
		p.done = append(p.done, r.row.ID)
	}
	p.mu.Unlock()
	p.metrics.published.Add(float64(len(km)))
	return nil
}

func (p *publisher) takeDone() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := p.done
	p.done = nil
	return ids
}

// deleter removes published rows every 200 ms, and once more when stopped. Rows it fails to
// delete would be published again at the next start: harmless (same message, same key), but
// logged.
func (p *publisher) deleter(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		stop := false
		select {
		case <-ctx.Done():
			stop = true
		case <-t.C:
		}
		if ids := p.takeDone(); len(ids) > 0 {
			if err := p.store.DeleteOutbox(context.WithoutCancel(ctx), ids); err != nil {
				p.log.Warn("deleting published outbox rows", "err", err)
			}
		}
		if stop {
			return
		}
	}
}

func (p *publisher) close() { p.w.Close() }
