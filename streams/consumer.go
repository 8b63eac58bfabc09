package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/contract"
)

// Handler makes the effect of a batch of messages durable. It returns nil only when it has:
// then, and only then, the batch's offsets are committed. It must be idempotent, since after
// a crash the same messages come again. It gets a context that is not cancelled by shutdown,
// so a batch that has started finishes.
type Handler func(ctx context.Context, msgs []kafka.Message) error

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Brokers  []string
	GroupID  string
	Topic    string
	MaxBatch int // messages per handler call; default 1000
	Logger   *slog.Logger
}

// Consumer reads one topic as a member of a consumer group and feeds a Handler in batches.
type Consumer struct {
	cfg ConsumerConfig
	r   *kafka.Reader
	lag atomic.Int64 // messages behind the high-water mark, summed over the partitions seen
}

// NewConsumer returns a consumer; Run starts it.
func NewConsumer(cfg ConsumerConfig) *Consumer {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: cfg.Brokers,
		GroupID: cfg.GroupID,
		Topic:   cfg.Topic,
		// Latency: answer a fetch as soon as one byte is there, and wait at most 100 ms for it
		// (kafka-go's default 10 s would also hold Close for 10 s).
		MinBytes:          1,
		MaxBytes:          10 << 20,
		MaxWait:           100 * time.Millisecond,
		ReadBatchTimeout:  time.Second,
		QueueCapacity:     cfg.MaxBatch,
		CommitInterval:    0, // synchronous commits: CommitMessages returns when the broker has them
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  time.Second,
		ReadBackoffMin:    10 * time.Millisecond,
		ReadBackoffMax:    200 * time.Millisecond,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			cfg.Logger.Debug("kafka reader", "topic", cfg.Topic, "detail", fmt.Sprintf(msg, args...))
		}),
	})
	return &Consumer{cfg: cfg, r: r}
}

// Lag is the number of messages on the topic not yet handled, as of the last batch.
func (c *Consumer) Lag() int64 { return c.lag.Load() }

// Run reads and handles until ctx is cancelled, then lets the batch in hand finish, commits
// it, leaves the group and returns nil. A handler error is retried with backoff for as long
// as the context lives; the batch is never skipped.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	msgs := make(chan kafka.Message, c.cfg.MaxBatch)
	fetchErr := make(chan error, 1)
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	go func() {
		defer close(msgs)
		for {
			m, err := c.r.FetchMessage(fetchCtx)
			if err != nil {
				if fetchCtx.Err() == nil {
					fetchErr <- fmt.Errorf("fetch %s: %w", c.cfg.Topic, err)
				}
				return
			}
			select {
			case msgs <- m:
			case <-fetchCtx.Done():
				return
			}
		}
	}()
	defer c.r.Close()
	lags := map[int]int64{}
	batch := make([]kafka.Message, 0, c.cfg.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case err := <-fetchErr:
			return err
		case m, ok := <-msgs:
			if !ok {
				return nil
			}
			batch = append(batch, m)
		}
	drain:
		for len(batch) < c.cfg.MaxBatch {
			select {
			case m, ok := <-msgs:
				if !ok {
					break drain
				}
				batch = append(batch, m)
			default:
				break drain
			}
		}
		if err := c.handle(ctx, h, batch); err != nil {
			return err
		}
		var total int64
		for _, m := range batch {
			lags[m.Partition] = max(0, m.HighWaterMark-m.Offset-1)
		}
		for _, l := range lags {
			total += l
		}
		c.lag.Store(total)
	}
}

// handle runs the handler until it succeeds, then commits. Shutdown does not interrupt a
// batch in hand (the handler's context is detached from ctx); it only stops the retries of
// a failing one, whose messages then stay uncommitted.
func (c *Consumer) handle(ctx context.Context, h Handler, batch []kafka.Message) error {
	hctx := context.WithoutCancel(ctx)
	backoff := 100 * time.Millisecond
	for {
		err := h(hctx, batch)
		if err == nil {
			break
		}
		c.cfg.Logger.Error("handler failed; retrying the batch", "topic", c.cfg.Topic, "messages", len(batch), "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	// One commit per partition: the highest offset commits everything before it.
	last := map[int]kafka.Message{}
	for _, m := range batch {
		if l, ok := last[m.Partition]; !ok || m.Offset > l.Offset {
			last[m.Partition] = m
		}
	}
	commits := make([]kafka.Message, 0, len(last))
	for _, m := range last {
		commits = append(commits, m)
	}
	cctx, cancel := context.WithTimeout(hctx, 10*time.Second)
	defer cancel()
	if err := c.r.CommitMessages(cctx, commits...); err != nil {
		// The effect is durable; a failed commit only means the batch comes again, and the
		// handler is idempotent. A rebalance that took the partitions away ends here too.
		c.cfg.Logger.Warn("commit failed; the batch will be redelivered", "topic", c.cfg.Topic, "err", err)
	}
	return nil
}

// DeadLetter builds the dead-letter message for m: where it came from, why it was refused,
// and its original bytes.
func DeadLetter(m kafka.Message, reason error, now time.Time) kafka.Message {
	dl := contract.DeadLetter{
		Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: string(m.Key),
		Error: reason.Error(), Value: string(m.Value), ValueBase64: m.Value, At: now.UTC(),
	}
	b, err := json.Marshal(dl)
	if err != nil {
		b = []byte(`{"error":"dead letter does not encode"}`) // unreachable: every field encodes
	}
	return kafka.Message{Key: m.Key, Value: b} // for a writer whose topic is contract.TopicDeadLetter
}
