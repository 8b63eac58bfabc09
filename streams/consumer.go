package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
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
	Brokers []string
	GroupID string // the consumer group; ignored with Offsets
	Topic   string
	// Offsets, when set, keeps the consumer's positions instead of a consumer group: the
	// consumer reads every partition itself, from Offsets.Load, and joins no group.
	Offsets  Offsets
	MaxBatch int // messages per handler call; default 1000
	Logger   *slog.Logger
}

// Offsets keeps a consumer's positions outside Kafka. The service keeps them in PostgreSQL
// under its leadership lease: a process that is not the leader cannot move them, and a new
// leader reads from where the old one's durable work ended, at once, without waiting for a
// consumer group to notice that a member died.
type Offsets interface {
	// Load returns each partition's next offset to read; a partition not in the map is read
	// from its first offset.
	Load(ctx context.Context, topic string) (map[int]int64, error)
	// Save is called, in order, with the next offsets once a batch's effect is durable.
	Save(topic string, next map[int]int64)
}

// Consumer reads one topic — as a member of a consumer group, or every partition with its
// own Offsets — and feeds a Handler in batches.
type Consumer struct {
	cfg ConsumerConfig
	r   *kafka.Reader // group mode; nil with Offsets
	lag atomic.Int64  // messages behind the high-water mark, summed over the partitions seen
}

// NewConsumer returns a consumer; Run starts it.
func NewConsumer(cfg ConsumerConfig) *Consumer {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Consumer{cfg: cfg}
	if cfg.Offsets == nil {
		c.r = kafka.NewReader(c.readerConfig())
	}
	return c
}

// readerConfig is the kafka-go reader's configuration: the group's in group mode, each
// partition's (GroupID and the commit settings unused) with Offsets.
func (c *Consumer) readerConfig() kafka.ReaderConfig {
	cfg := c.cfg
	rc := kafka.ReaderConfig{
		Brokers: cfg.Brokers,
		Topic:   cfg.Topic,
		// Latency: answer a fetch as soon as one byte is there (kafka-go's default MaxWait, 10 s,
		// would hold Close for 10 s), for at most FetchMaxBytes.
		MinBytes:         1,
		MaxBytes:         FetchMaxBytes,
		MaxWait:          FetchMaxWait,
		ReadBatchTimeout: time.Second,
		QueueCapacity:    cfg.MaxBatch,
		StartOffset:      kafka.FirstOffset,
		ReadBackoffMin:   10 * time.Millisecond,
		ReadBackoffMax:   200 * time.Millisecond,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			cfg.Logger.Debug("kafka reader", "topic", cfg.Topic, "detail", fmt.Sprintf(msg, args...))
		}),
	}
	if cfg.Offsets != nil {
		return rc
	}
	rc.GroupID = cfg.GroupID
	// Commits go to the broker every 50 ms and when the reader closes. A batch is handed to
	// CommitMessages only once its effect is durable, so committing later than that only
	// widens what a crash replays, and the handler is idempotent; committing in the
	// background keeps a broker round trip out of every batch.
	rc.CommitInterval = 50 * time.Millisecond
	rc.HeartbeatInterval = time.Second
	rc.SessionTimeout = 10 * time.Second
	rc.RebalanceTimeout = 10 * time.Second
	rc.JoinGroupBackoff = time.Second
	return rc
}

// Lag is the number of messages on the topic not yet handled, as of the last batch.
func (c *Consumer) Lag() int64 { return c.lag.Load() }

// Run reads and handles until ctx is cancelled, then lets the batch in hand finish, commits
// it, leaves the group and returns nil. A handler error is retried with backoff for as long
// as the context lives; the batch is never skipped.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	return c.RunPipelined(ctx, func(ctx context.Context, msgs []kafka.Message) (func() error, error) {
		err := h(ctx, msgs)
		return func() error { return err }, nil
	}, 1)
}

// fetch reads messages in the background into a channel the size of a batch: from the
// group's reader, or from one reader per partition at the offsets Offsets keeps. The returned
// function stops the fetching and closes the readers.
func (c *Consumer) fetch(ctx context.Context) (<-chan kafka.Message, <-chan error, func(), error) {
	readers := []*kafka.Reader{c.r}
	if c.cfg.Offsets != nil {
		next, err := c.cfg.Offsets.Load(ctx, c.cfg.Topic)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("offsets of %s: %w", c.cfg.Topic, err)
		}
		readers, err = partitionReaders(ctx, c.readerConfig(), func(p int) int64 {
			if o, ok := next[p]; ok {
				return o
			}
			return kafka.FirstOffset
		})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read %s: %w", c.cfg.Topic, err)
		}
	}
	msgs := make(chan kafka.Message, c.cfg.MaxBatch)
	fetchErr := make(chan error, len(readers))
	fetchCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := r.FetchMessage(fetchCtx)
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
	}
	go func() { wg.Wait(); close(msgs) }()
	return msgs, fetchErr, func() {
		stop()
		for _, r := range readers {
			r.Close()
		}
	}, nil
}

// next waits for a message, then takes whatever else is already there, up to MaxBatch. ok is
// false when ctx ended or the fetcher stopped. If oldest (the oldest batch in flight)
// finishes first, next returns no batch and its result in settled, so that a failed batch is
// redone, and a durable one committed, without waiting for more messages.
func (c *Consumer) next(ctx context.Context, msgs <-chan kafka.Message, fetchErr <-chan error,
	oldest <-chan error) (batch []kafka.Message, ok bool, settled *error, err error) {
	select {
	case <-ctx.Done():
		return nil, false, nil, nil
	case err := <-fetchErr:
		return nil, false, nil, err
	case res := <-oldest:
		return nil, true, &res, nil
	case m, ok := <-msgs:
		if !ok {
			return nil, false, nil, nil
		}
		batch = append(make([]kafka.Message, 0, 64), m)
	}
	for len(batch) < c.cfg.MaxBatch {
		select {
		case m, ok := <-msgs:
			if !ok {
				return batch, true, nil, nil
			}
			batch = append(batch, m)
		default:
			return batch, true, nil, nil
		}
	}
	return batch, true, nil, nil
}

func (c *Consumer) noteLag(lags map[int]int64, batch []kafka.Message) {
	var total int64
	for _, m := range batch {
		lags[m.Partition] = max(0, m.HighWaterMark-m.Offset-1)
	}
	for _, l := range lags {
		total += l
	}
	c.lag.Store(total)
}

// commit hands the batch's offsets to the reader: one per partition, the highest, which
// commits everything before it. The reader sends them to the broker in the background.
func (c *Consumer) commit(ctx context.Context, batch []kafka.Message) {
	last := map[int]kafka.Message{}
	for _, m := range batch {
		if l, ok := last[m.Partition]; !ok || m.Offset > l.Offset {
			last[m.Partition] = m
		}
	}
	if c.cfg.Offsets != nil {
		next := make(map[int]int64, len(last))
		for p, m := range last {
			next[p] = m.Offset + 1
		}
		c.cfg.Offsets.Save(c.cfg.Topic, next)
		return
	}
	commits := make([]kafka.Message, 0, len(last))
	for _, m := range last {
		commits = append(commits, m)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.r.CommitMessages(cctx, commits...); err != nil {
		// The effect is durable; a commit that does not happen only means the batch comes
		// again, and the handler is idempotent.
		c.cfg.Logger.Warn("commit failed; the batch will be redelivered", "topic", c.cfg.Topic, "err", err)
	}
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

// Starter begins making a batch's effect durable and returns a function that waits until it
// is. Batches are started in order; a later batch may start before an earlier one is
// durable, so a Starter's effects must be ordered by the order of starting (the service's
// group commit is) and idempotent.
type Starter func(ctx context.Context, msgs []kafka.Message) (wait func() error, err error)

type flight struct {
	batch   []kafka.Message
	done    chan error // the wait's result, once
	err     error
	settled bool // err holds the result
}

func startFlight(batch []kafka.Message, wait func() error) *flight {
	f := &flight{batch: batch, done: make(chan error, 1)}
	go func() { f.done <- wait() }()
	return f
}

// result waits for the flight's wait to return.
func (f *flight) result() error {
	if !f.settled {
		f.err, f.settled = <-f.done, true
	}
	return f.err
}

// RunPipelined is Run with up to depth batches in flight: the next batch is started while
// the ones before it are still being made durable. Offsets are committed in order, each
// batch's only once it is durable. When a batch fails, every batch after it is let finish,
// then all of them, from the failed one on, are handled again in order, one at a time with
// backoff, before anything new is started. A batch in flight is settled as soon as it is
// durable or has failed, whether or not more messages come.
func (c *Consumer) RunPipelined(ctx context.Context, start Starter, depth int) error {
	depth = max(depth, 1)
	msgs, fetchErr, stopFetch, err := c.fetch(ctx)
	if err != nil {
		return err
	}
	defer stopFetch()
	hctx := context.WithoutCancel(ctx)
	var inflight []*flight
	// settle waits for the oldest flights until at most keep remain; false means a batch
	// could not be made durable before shutdown.
	settle := func(keep int) bool {
		for len(inflight) > keep {
			f := inflight[0]
			if err := f.result(); err != nil {
				c.cfg.Logger.Error("batch failed; handling it and the ones after it again", "topic", c.cfg.Topic, "err", err)
				redo := inflight
				inflight = nil
				for _, g := range redo[1:] {
					_ = g.result() // let them finish; they are handled again below
				}
				for _, g := range redo {
					if !c.handleStarted(ctx, hctx, start, g.batch) {
						return false
					}
				}
				continue
			}
			c.commit(hctx, f.batch)
			inflight = inflight[1:]
		}
		return true
	}
	lags := map[int]int64{}
	for {
		var oldest <-chan error
		if len(inflight) > 0 && !inflight[0].settled {
			oldest = inflight[0].done
		}
		batch, ok, settled, err := c.next(ctx, msgs, fetchErr, oldest)
		if settled != nil {
			inflight[0].err, inflight[0].settled = *settled, true
			if !settle(len(inflight) - 1) {
				return nil
			}
			continue
		}
		if err != nil || !ok {
			settle(0)
			return err
		}
		wait, err := start(hctx, batch)
		if err != nil {
			if !settle(0) || !c.handleStarted(ctx, hctx, start, batch) {
				return nil
			}
		} else {
			inflight = append(inflight, startFlight(batch, wait))
			if !settle(depth - 1) {
				return nil
			}
		}
		c.noteLag(lags, batch)
	}
}

// handleStarted runs a batch with a Starter until it is durable, with backoff, then commits;
// false when ctx ended first.
func (c *Consumer) handleStarted(ctx, hctx context.Context, start Starter, batch []kafka.Message) bool {
	backoff := 100 * time.Millisecond
	for {
		wait, err := start(hctx, batch)
		if err == nil {
			err = wait()
		}
		if err == nil {
			c.commit(hctx, batch)
			return true
		}
		c.cfg.Logger.Error("handler failed; retrying the batch", "topic", c.cfg.Topic, "messages", len(batch), "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
