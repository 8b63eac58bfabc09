package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/streams"
)

// While Kafka is down the publisher holds at most its bound: a row beyond it waits (the
// committer behind it stops, and so does the intake), and when the broker is back every
// message goes out, the waiting row's too.
func TestPublisherBoundsItsQueueWhileKafkaIsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := testenv.Postgres(t)
	if _, err := sql.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	store, err := sql.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	b, err := streams.StartBrokerIn(ctx, addr, dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Close() // Kafka goes away
	var backlog atomic.Int64
	p := newPublisher(store, []string{addr}, newMetrics(), slog.New(slog.DiscardHandler), time.Now, 10, &backlog)
	defer p.close()
	go func() { _ = p.run(ctx) }()
	row := func(n int) *outRow {
		r := &outRow{row: sql.OutboxRow{ID: store.NewOutboxID()}}
		for i := range 5 {
			r.row.Msgs = append(r.row.Msgs, sql.OutboxMsg{Topic: contract.TopicEvents, Key: []byte("k"), Value: []byte(fmt.Sprint(n*5 + i))})
			r.born = append(r.born, time.Time{})
		}
		return r
	}
	p.enqueue(ctx, nil, row(0))
	p.enqueue(ctx, nil, row(1))
	third := make(chan struct{})
	go func() { p.enqueue(ctx, nil, row(2)); close(third) }()
	time.Sleep(time.Second) // the publisher tries, and fails, to write meanwhile
	select {
	case <-third:
		t.Fatalf("a row beyond the bound was taken while Kafka was down (backlog %d)", backlog.Load())
	default:
	}
	if backlog.Load() != 10 {
		t.Errorf("backlog %d, want the bound, 10", backlog.Load())
	}
	b, err = streams.StartBrokerIn(ctx, addr, dir) // Kafka is back
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	select {
	case <-third:
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting row was never taken after Kafka came back")
	}
	got := map[string]bool{}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: contract.TopicEvents, MaxWait: time.Second})
	defer r.Close()
	for len(got) < 15 {
		rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
		m, err := r.ReadMessage(rctx)
		rcancel()
		if err != nil {
			t.Fatalf("read back %d of 15: %v", len(got), err)
		}
		got[string(m.Value)] = true
	}
}
