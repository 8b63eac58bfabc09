package streams

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/contract"
)

// memOffsets is an Offsets kept in memory, as the service keeps them in PostgreSQL.
type memOffsets struct {
	mu    sync.Mutex
	next  map[int]int64
	saved chan map[int]int64
}

func (m *memOffsets) Load(context.Context, string) (map[int]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[int]int64{}
	for p, o := range m.next {
		out[p] = o
	}
	return out, nil
}

func (m *memOffsets) Save(_ string, next map[int]int64) {
	m.mu.Lock()
	for p, o := range next {
		m.next[p] = max(m.next[p], o)
	}
	m.mu.Unlock()
	m.saved <- next
}

// At depth 2 a batch whose record fails after it was started is handled again and its
// offsets saved only then — even when no message comes after it to move the pipeline on —
// and a consumer started from the saved offsets reads only what came after.
func TestPipelinedRedoesAFailedBatchWithoutWaitingForMore(t *testing.T) {
	b := startBroker(t)
	produce(t, b.Addrs(), contract.TopicCalls, 0, 5)
	offs := &memOffsets{next: map[int]int64{}, saved: make(chan map[int]int64, 100)}
	c := NewConsumer(ConsumerConfig{Brokers: b.Addrs(), Topic: contract.TopicCalls, Offsets: offs})
	var mu sync.Mutex
	var durable []string
	failed := false
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.RunPipelined(ctx, func(_ context.Context, msgs []kafka.Message) (func() error, error) {
			mu.Lock()
			defer mu.Unlock()
			if !failed {
				failed = true
				return func() error { time.Sleep(50 * time.Millisecond); return errors.New("commit failed") }, nil
			}
			for _, m := range msgs {
				durable = append(durable, string(m.Value))
			}
			return func() error { return nil }, nil
		}, 2)
	}()
	deadline := time.After(30 * time.Second)
	for got := int64(0); got < 5; {
		select {
		case n := <-offs.saved:
			got = max(got, n[0])
		case <-deadline:
			t.Fatalf("offsets never reached 5; durable %v", durable)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	distinct := map[string]bool{}
	for _, v := range durable {
		distinct[v] = true
	}
	if len(distinct) != 5 {
		// Batches after the failed one may be handled twice (they are redone with it): the
		// handler is idempotent. Every message must have been made durable.
		t.Errorf("durable %v, want each of the 5 messages", durable)
	}
	mu.Unlock()
	produce(t, b.Addrs(), contract.TopicCalls, 5, 7)
	again := NewConsumer(ConsumerConfig{Brokers: b.Addrs(), Topic: contract.TopicCalls, Offsets: offs})
	got := make(chan string, 10)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = again.Run(ctx, func(_ context.Context, msgs []kafka.Message) error {
			for _, m := range msgs {
				got <- string(m.Value)
			}
			return nil
		})
	}()
	for i := 5; i < 7; i++ {
		select {
		case v := <-got:
			if v != fmt.Sprint(i) {
				t.Errorf("a consumer started from the saved offsets read %q, want %d", v, i)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("nothing read after the saved offsets")
		}
	}
}
