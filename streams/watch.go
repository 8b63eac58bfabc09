package streams

import (
	"context"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Watch reads every partition of a topic without a consumer group — from the beginning, or
// with fromEnd from each partition's end as it is now — and calls fn with each message and
// the moment it was read (fn is called from one goroutine per partition). It returns once
// every reader has fetched once, so that nothing written afterwards is read late for the
// reader's connecting; the channel closes when ctx ends and every reader has stopped.
func Watch(ctx context.Context, brokers []string, topic string, fromEnd bool, fn func(kafka.Message, time.Time)) (<-chan struct{}, error) {
	start := func(int) int64 { return kafka.FirstOffset }
	if fromEnd {
		start = func(int) int64 { return kafka.LastOffset }
	}
	readers, err := partitionReaders(ctx, kafka.ReaderConfig{Brokers: brokers, Topic: topic, MinBytes: 1,
		MaxBytes: FetchMaxBytes, MaxWait: FetchMaxWait}, start)
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				fn(m, time.Now())
			}
		}()
	}
	fetched := make([]bool, len(readers))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		all := true
		for i, r := range readers {
			fetched[i] = fetched[i] || r.Stats().Fetches > 0
			all = all && fetched[i]
		}
		if all {
			break
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done, nil
}

// partitionReaders makes a reader configured as cfg for each partition of cfg.Topic at the
// offset start gives it: kafka.FirstOffset, kafka.LastOffset (the end as it is now, before
// anything more is produced) or an offset. On an error it closes those it made.
func partitionReaders(ctx context.Context, cfg kafka.ReaderConfig, start func(partition int) int64) ([]*kafka.Reader, error) {
	brokers, topic := cfg.Brokers, cfg.Topic
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, err
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, err
	}
	var readers []*kafka.Reader
	fail := func(err error) ([]*kafka.Reader, error) {
		for _, r := range readers {
			r.Close()
		}
		return nil, err
	}
	for _, p := range parts {
		offset := start(p.ID)
		if offset == kafka.LastOffset {
			pc, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p.ID)
			if err != nil {
				return fail(err)
			}
			offset, err = pc.ReadLastOffset()
			pc.Close()
			if err != nil {
				return fail(err)
			}
		}
		pcfg := cfg
		pcfg.Partition = p.ID
		r := kafka.NewReader(pcfg)
		if err := r.SetOffset(offset); err != nil {
			r.Close()
			return fail(err)
		}
		readers = append(readers, r)
	}
	return readers, nil
}
