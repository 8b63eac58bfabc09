package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/contract"
)

func startBroker(t *testing.T) *Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := StartBroker(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func produce(t *testing.T, addrs []string, topic string, from, to int) {
	t.Helper()
	w := NewWriter(addrs, topic)
	defer w.Close()
	var msgs []kafka.Message
	for i := from; i < to; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// consume runs a consumer until `want` distinct values were handled (or the deadline), then
// stops it and returns every value handled, repeats included.
func consume(t *testing.T, addrs []string, topic, group string, want int, h func([]kafka.Message) error) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := NewConsumer(ConsumerConfig{Brokers: addrs, GroupID: group, Topic: topic})
	var mu sync.Mutex
	var seen []string
	distinct := map[string]bool{}
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		done <- c.Run(runCtx, func(_ context.Context, msgs []kafka.Message) error {
			if h != nil {
				if err := h(msgs); err != nil {
					return err
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				seen = append(seen, string(m.Value))
				distinct[string(m.Value)] = true
			}
			if len(distinct) >= want {
				stop()
			}
			return nil
		})
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("timed out with %d of %d values", len(distinct), want)
	}
	return seen
}

func TestEnsureTopicsIsIdempotent(t *testing.T) {
	b := startBroker(t)
	if err := EnsureTopics(context.Background(), b.Addrs(), Topics); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
	conn, err := kafka.Dial("tcp", b.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(contract.TopicCalls)
	if err != nil {
		t.Fatal(err)
	}
	if want := Partitions(contract.TopicCalls); len(parts) != want {
		t.Fatalf("%s has %d partitions, want %d", contract.TopicCalls, len(parts), want)
	}
}

func TestConsumerResumesAfterCommitted(t *testing.T) {
	b := startBroker(t)
	produce(t, b.Addrs(), contract.TopicCalls, 0, 20)
	first := consume(t, b.Addrs(), contract.TopicCalls, "g", 20, nil)
	if len(first) != 20 {
		t.Fatalf("first consumer handled %d, want 20", len(first))
	}
	produce(t, b.Addrs(), contract.TopicCalls, 20, 25)
	second := consume(t, b.Addrs(), contract.TopicCalls, "g", 5, nil)
	for _, v := range second {
		var n int
		fmt.Sscan(v, &n)
		if n < 20 {
			t.Fatalf("second consumer got %s again although it was committed", v)
		}
	}
}

func TestConsumerRetriesAndNeverSkips(t *testing.T) {
	b := startBroker(t)
	produce(t, b.Addrs(), contract.TopicCalls, 0, 10)
	failures := 2
	seen := consume(t, b.Addrs(), contract.TopicCalls, "g", 10, func([]kafka.Message) error {
		if failures > 0 {
			failures--
			return errors.New("database down")
		}
		return nil
	})
	if len(seen) != 10 {
		t.Fatalf("handled %v, want each of 10 once after the retries", seen)
	}
}

func TestUncommittedBatchComesAgain(t *testing.T) {
	b := startBroker(t)
	produce(t, b.Addrs(), contract.TopicCalls, 0, 5)
	// A handler that never succeeds: shutdown leaves the batch uncommitted.
	ctx, cancel := context.WithCancel(context.Background())
	c := NewConsumer(ConsumerConfig{Brokers: b.Addrs(), GroupID: "g", Topic: contract.TopicCalls})
	tried := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(context.Context, []kafka.Message) error {
			tried <- struct{}{}
			return errors.New("always failing")
		})
	}()
	select {
	case <-tried:
	case <-time.After(30 * time.Second):
		t.Fatal("handler never called")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := consume(t, b.Addrs(), contract.TopicCalls, "g", 5, nil)
	if len(seen) != 5 {
		t.Fatalf("after an uncommitted batch the next consumer handled %v, want all 5", seen)
	}
}

func TestDeadLetterKeepsOriginalBytes(t *testing.T) {
	orig := []byte{'{', 0xff, 0xfe, '"'}
	m := DeadLetter(kafka.Message{Topic: contract.TopicCalls, Partition: 2, Offset: 41, Key: []byte("k"), Value: orig},
		errors.New("invalid JSON"), time.Unix(0, 0))
	var dl contract.DeadLetter
	if err := json.Unmarshal(m.Value, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Topic != contract.TopicCalls || dl.Partition != 2 || dl.Offset != 41 || dl.Error != "invalid JSON" ||
		string(dl.ValueBase64) != string(orig) || string(m.Key) != "k" {
		t.Fatalf("dead letter = %+v", dl)
	}
}

// The embedded broker's log is cut into small segments (see segmentBytes); a consumer reads a
// topic of several segments back whole and in order.
func TestLogAcrossSegmentsReadsBackWhole(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := &kafka.Client{Addr: kafka.TCP(b.Addrs()...)}
	resp, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeBroker, ResourceName: "0", ConfigNames: []string{"log.segment.bytes"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Resources) != 1 || len(resp.Resources[0].ConfigEntries) != 1 ||
		resp.Resources[0].ConfigEntries[0].ConfigValue != fmt.Sprint(segmentBytes) {
		t.Fatalf("the broker's log.segment.bytes: %+v", resp.Resources)
	}
	const n = 2500 // 2 KB each: five segments
	pad := strings.Repeat("x", 2000)
	w := NewWriter(b.Addrs(), contract.TopicEvents)
	defer w.Close()
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{Key: []byte("k"), Value: fmt.Appendf(nil, "%05d %s", i, pad)})
		if len(msgs) == 100 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	seen := consume(t, b.Addrs(), contract.TopicEvents, "g", n, nil)
	if len(seen) != n {
		t.Fatalf("read %d messages back, want %d", len(seen), n)
	}
	for i, v := range seen {
		if want := fmt.Sprintf("%05d %s", i, pad); v != want {
			t.Fatalf("message %d reads %.10q…", i, v)
		}
	}
}

// The embedded broker keeps its log in files, not on the Go heap, and Close removes them.
func TestLogLivesInFilesRemovedOnClose(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n, size = 1000, 2000 // 2 MB of values
	w := NewWriter(b.Addrs(), contract.TopicEvents)
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(strings.Repeat("x", size))})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var onDisk int64
	err := filepath.WalkDir(b.dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			onDisk += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if onDisk < n*size {
		t.Fatalf("the broker's files hold %d bytes after %d bytes of values were produced", onDisk, n*size)
	}
	b.Close() // and again at the test's cleanup: a no-op
	if _, err := os.Stat(b.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Close the log's directory %s: %v, want it removed", b.dir, err)
	}
}

// Watch reads every partition: from the beginning it sees what was written before it, from
// the end only what comes after; each message once.
func TestWatchFromBeginningAndFromEnd(t *testing.T) {
	b := startBroker(t)
	const topic = "watch.test"
	if err := EnsureTopics(context.Background(), b.Addrs(), []TopicSpec{{Name: topic, Partitions: 3}}); err != nil {
		t.Fatal(err)
	}
	produce(t, b.Addrs(), topic, 0, 30)
	watch := func(fromEnd bool) (func() []string, func()) {
		var mu sync.Mutex
		var got []string
		ctx, cancel := context.WithCancel(context.Background())
		done, err := Watch(ctx, b.Addrs(), topic, fromEnd, func(m kafka.Message, _ time.Time) {
			mu.Lock()
			got = append(got, string(m.Value))
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		return func() []string { mu.Lock(); defer mu.Unlock(); return slices.Sorted(slices.Values(got)) }, func() { cancel(); <-done }
	}
	all, stopAll := watch(false)
	defer stopAll()
	later, stopLater := watch(true)
	defer stopLater()
	produce(t, b.Addrs(), topic, 30, 40)
	for deadline := time.Now().Add(10 * time.Second); len(all()) < 40 || len(later()) < 10; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("from the beginning %d of 40 messages, from the end %d of 10", len(all()), len(later()))
		}
	}
	time.Sleep(200 * time.Millisecond) // any extra copy arrives
	if got := later(); len(got) != 10 || got[0] != "30" || got[9] != "39" {
		t.Fatalf("from the end: %v, want 30…39", got)
	}
	if got := all(); len(got) != 40 {
		t.Fatalf("from the beginning: %d messages, want 40", len(got))
	}
}
