package loadtest

import (
	"context"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/streams"
)

// watch reads every partition of a topic from its current end, without a consumer group,
// and calls fn with each message and the moment it was read. The returned channel closes
// when ctx ends and every reader has stopped.
func watch(ctx context.Context, brokers []string, topic string, fn func(kafka.Message, time.Time)) (<-chan struct{}, error) {
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, err
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	var readers []*kafka.Reader
	for _, p := range parts {
		// The partition's end now, before anything is produced: nothing is missed.
		pc, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p.ID)
		if err != nil {
			return nil, err
		}
		end, err := pc.ReadLastOffset()
		pc.Close()
		if err != nil {
			return nil, err
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID, MinBytes: 1,
			MaxBytes: streams.FetchMaxBytes, MaxWait: 50 * time.Millisecond})
		if err := r.SetOffset(end); err != nil {
			return nil, err
		}
		readers = append(readers, r)
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
	// Ready when every reader has fetched once: a reader connects on its first read, and a
	// message written before that would be stamped late — the instrument's start-up measured
	// as the system's latency.
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
