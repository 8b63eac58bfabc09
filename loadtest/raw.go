package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/streams"
)

// measureRaw runs rawKafka with as many copies of sample as the load will send (rate ×
// duration), at least least and at most most (most at full speed); it returns how many it
// moved and the rate.
func measureRaw(ctx context.Context, cfg Config, lv *live, like string, sample []byte, least, most int, progress func(string, ...any)) (int, float64, error) {
	n := most
	if cfg.Rate > 0 {
		n = min(most, max(least, int(cfg.Rate*cfg.Duration.Seconds())))
	}
	progress("raw Kafka: %d messages", n)
	raw, err := rawKafka(ctx, lv.brokers, streams.Partitions(like), n, sample)
	return n, raw, err
}

// rawKafka moves n copies of value through the broker with the project's writer and
// consumer, nothing else, on a new topic of the given partitions (those of the topic the
// load goes to), and returns messages per second from the first write to the last read.
func rawKafka(ctx context.Context, brokers []string, partitions, n int, value []byte) (float64, error) {
	topic := fmt.Sprintf("ems.loadtest.raw.%d", time.Now().UnixNano())
	if err := streams.EnsureTopics(ctx, brokers, []streams.TopicSpec{{Name: topic, Partitions: partitions}}); err != nil {
		return 0, err
	}
	w := streams.NewWriter(brokers, topic)
	defer w.Close()
	cons := streams.NewConsumer(streams.ConsumerConfig{Brokers: brokers, GroupID: topic, Topic: topic, MaxBatch: 5000,
		Logger: slog.New(slog.DiscardHandler)})
	var read atomic.Int64
	done := make(chan struct{})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lastRead atomic.Int64
	go func() {
		defer close(done)
		_ = cons.Run(rctx, func(_ context.Context, msgs []kafka.Message) error {
			if read.Add(int64(len(msgs))) >= int64(n) {
				lastRead.Store(time.Now().UnixNano())
				cancel()
			}
			return nil
		})
	}()
	start := time.Now()
	batch := make([]kafka.Message, 0, 1000)
	for i := 0; i < n; i++ {
		batch = append(batch, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: value})
		if len(batch) == cap(batch) || i == n-1 {
			if err := w.WriteMessages(ctx, batch...); err != nil {
				return 0, err
			}
			batch = batch[:0]
		}
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return 0, errors.New("raw kafka: consumer did not read everything in 2 minutes")
	}
	end := time.Unix(0, lastRead.Load())
	return float64(n) / end.Sub(start).Seconds(), nil
}
