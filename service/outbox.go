package service

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/streams"
)

// outMsg is an outbox row on its way to Kafka.
type outMsg struct {
	msg  sql.OutboxMsg
	born time.Time // record time of the call it answers, for the latency metric; zero if none
}

// publisher moves committed outbox rows to Kafka, oldest first, and deletes them once the
// broker has them. The table is the queue: a commit only wakes the publisher, which reads
// what is pending. So a broker outage costs nothing but delay, and rows left by a crash go
// out at the next start. Outbox rows are written under the engine lock, one transaction at a
// time, so ids grow in commit order and "everything after the last id sent" is exact.
//
// A row is deleted only after a successful write: every message is published at least once;
// a crash between the write and the delete publishes it twice, identically, and consumers
// keep the latest message per key.
type publisher struct {
	store   *sql.Store
	w       *kafka.Writer
	metrics *metrics
	log     *slog.Logger
	now     func() time.Time
	wake    chan struct{}

	mu   sync.Mutex
	born map[int64]time.Time // outbox id → record time of the call, until published
	sent int64               // highest id published
}

func newPublisher(store *sql.Store, brokers []string, m *metrics, log *slog.Logger, now func() time.Time) *publisher {
	return &publisher{store: store, w: streams.NewWriter(brokers, ""), metrics: m, log: log, now: now,
		wake: make(chan struct{}, 1), born: map[int64]time.Time{}}
}

// enqueue tells the publisher that rows were committed.
func (p *publisher) enqueue(msgs []outMsg) {
	if len(msgs) == 0 {
		return
	}
	p.mu.Lock()
	for _, m := range msgs {
		if !m.born.IsZero() {
			p.born[m.msg.ID] = m.born
		}
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default: // already awake
	}
}

// recover publishes every row already in the table; Run calls it before the consumers start.
func (p *publisher) recover(ctx context.Context) error {
	n, err := p.publishPending(ctx)
	if n > 0 {
		p.log.Info("published outbox rows left by an earlier run", "rows", n)
	}
	return err
}

// run publishes as rows are committed until ctx is cancelled, then publishes what is left
// for up to 5 s. A failed write is retried every half second.
func (p *publisher) run(ctx context.Context) error {
	tick := time.NewTicker(time.Second) // a safety net; commits wake the publisher at once
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := p.publishPending(dctx); err != nil {
				p.log.Warn("outbox rows not published at shutdown; they go out at the next start", "err", err)
			}
			return nil
		case <-p.wake:
		case <-tick.C:
		}
		for {
			if _, err := p.publishPending(ctx); err == nil || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// publishPending sends every committed row after the last one sent.
func (p *publisher) publishPending(ctx context.Context) (int, error) {
	total := 0
	for {
		p.mu.Lock()
		after := p.sent
		p.mu.Unlock()
		rows, err := p.store.PendingOutbox(ctx, after, 5000)
		if err != nil || len(rows) == 0 {
			return total, err
		}
		if err := p.publish(ctx, rows); err != nil {
			return total, err
		}
		total += len(rows)
	}
}

func (p *publisher) publish(ctx context.Context, rows []sql.OutboxMsg) error {
	km := make([]kafka.Message, len(rows))
	ids := make([]int64, len(rows))
	for i, r := range rows {
		km[i] = kafka.Message{Topic: r.Topic, Key: r.Key, Value: r.Value}
		ids[i] = r.ID
	}
	if err := p.w.WriteMessages(ctx, km...); err != nil {
		p.log.Error("publishing outbox rows", "rows", len(rows), "err", err)
		return err
	}
	now := p.now()
	p.mu.Lock()
	for _, r := range rows {
		if b, ok := p.born[r.ID]; ok {
			if r.Topic == contract.TopicAssignments {
				p.metrics.latency.Observe(max(0, now.Sub(b).Seconds()))
			}
			delete(p.born, r.ID)
		}
	}
	p.sent = ids[len(ids)-1]
	p.mu.Unlock()
	p.metrics.published.Add(float64(len(rows)))
	if err := p.store.DeleteOutbox(ctx, ids); err != nil {
		// Sent but not deleted: they would go out again at the next start. Harmless (same
		// message, same key), but say so.
		p.log.Warn("deleting published outbox rows", "err", err)
	}
	return nil
}

func (p *publisher) close() { p.w.Close() }
