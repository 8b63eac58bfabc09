// Package streams is ems120's Kafka plumbing, all through kafka-go over TCP: topic creation,
// latency-tuned writers, a consumer-group reader that hands out batches and commits offsets
// only after the handler has made their effect durable, the dead-letter topic, and the
// embedded Kafka-protocol broker (franz-go's kfake) for the demo and the tests.
package streams

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/internal/tmpdir"
)

// TopicSpec is a topic and its partition count.
type TopicSpec struct {
	Name       string
	Partitions int
}

// Topics are the topics ems120 reads and writes, with the partitions it creates them with.
//
// Calls, assignments and events have one partition. One engine decides for the whole city,
// under one lock, so more partitions cannot spread the work: they only split each fetch and
// each write into one request per partition, and let calls of different partitions overtake
// one another. One partition keeps the city's calls in the order they were received, and is
// the faster for it (BENCHMARKS.md). Pings keep six: they are the high-volume stream, and a
// unit's pings need only be in order among themselves. Topics that exist already are left as
// they are.
var Topics = []TopicSpec{
	{contract.TopicCalls, 1},
	{contract.TopicUnits, 6},
	{contract.TopicCapacity, 3},
	{contract.TopicAssignments, 1},
	{contract.TopicEvents, 1},
	{contract.TopicDeadLetter, 1},
	{contract.TopicCoverage, 1},
	{contract.TopicAlerts, 1},
}

// Partitions is the number of partitions ems120 creates topic with (Topics); 1 for a topic
// not in the list.
func Partitions(topic string) int {
	for _, t := range Topics {
		if t.Name == topic {
			return t.Partitions
		}
	}
	return 1
}

// EnsureTopics creates the topics that do not exist yet, with the broker's default
// replication factor. Existing topics are left as they are.
func EnsureTopics(ctx context.Context, brokers []string, specs []TopicSpec) error {
	if len(brokers) == 0 {
		return errors.New("ensure topics: no brokers")
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 15 * time.Second}
	req := &kafka.CreateTopicsRequest{}
	for _, s := range specs {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: -1})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	var errs []error
	for topic, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("topic %s: %w", topic, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("ensure topics: %w", errors.Join(errs...))
	}
	return nil
}

// NewWriter returns a writer tuned for latency: a batch goes out after at most 200 µs (kafka-go's
// default waits a full second for a batch to fill), every write waits for all in-sync
// replicas, and keys pick partitions with the same murmur2 hash as Java clients, so one call's
// or one unit's messages stay in order on one partition. With topic "" each message names its
// own topic. A batch holds at most 64 messages a partition: kafka-go allocates room for
// BatchSize messages (152 bytes each) for every batch it starts, however few it then carries,
// so a larger BatchSize is allocation that a busy service pays for at every write.
func NewWriter(brokers []string, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Murmur2Balancer{},
		BatchTimeout: 200 * time.Microsecond,
		BatchSize:    64,
		RequiredAcks: kafka.RequireAll,
		MaxAttempts:  10,
		WriteTimeout: 10 * time.Second,
		ReadTimeout:  10 * time.Second,
	}
}

// FetchMaxBytes is the most a reader asks a partition for at a time, and FetchMaxWait how
// long it gives the answer. kafka-go sends the broker MaxWait less a quarter (how long to wait
// for data when there is none) and gives up on an answer that has not begun by MaxWait, then
// fetches the same offset again: a broker slower than that to assemble its answer — the
// embedded one reading its files on a loaded machine, under the race detector — is asked
// again for ever and the reader never moves (TestLogAcrossSegmentsReadsBackWhole stalled so
// with a 100 ms MaxWait and the machine's two cores busy). A second leaves it time. Latency
// does not wait for it: with MinBytes 1 the broker answers as soon as there is data; what
// waits is Close (at most a second, for the fetch in flight) and an idle reader's next
// fetch. 1 MiB (5,000 calls) bounds the broker's work for one answer.
const (
	FetchMaxBytes = 1 << 20
	FetchMaxWait  = time.Second
)

// segmentBytes is the embedded broker's log segment size: each partition's log is a file per
// MiB (about nine new files a second at 5,000 calls a second with crews closing them).
const segmentBytes = 1 << 20

// Broker is the embedded Kafka-protocol broker.
type Broker struct {
	c    *kfake.Cluster
	dir  string // the log's files
	temp bool   // dir is the broker's own, removed by Close
}

// StartBroker starts a one-node kfake cluster listening on listen (host:port; port 0 picks a
// free one) with its log in a directory of its own, removed by Close, and creates ems120's
// topics on it.
func StartBroker(ctx context.Context, listen string) (*Broker, error) {
	// A broker killed with its process leaves its log; the next start removes it.
	dir, err := tmpdir.Make("ems120-broker-")
	if err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	b, err := StartBrokerIn(ctx, listen, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b.temp = true
	return b, nil
}

// StartBrokerIn is StartBroker with the log kept in dir: a broker started again on the same
// directory finds its topics, messages and committed group offsets there (kfake reloads its
// persisted state; Close saves it).
func StartBrokerIn(ctx context.Context, listen, dir string) (*Broker, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: port %q: %w", portStr, err)
	}
	// The log lives in files, as Kafka's does, not in this process's heap: in memory (kfake's
	// default) every message ever produced would stay on the Go heap, which would grow all
	// run long and stretch every garbage collection (BENCHMARKS.md, "Steady state"). In files
	// the log is the kernel's page cache; the heap stays at what the service holds.
	c, err := kfake.NewCluster(
		kfake.DataDir(dir),
		kfake.NumBrokers(1),
		kfake.Ports(port),
		// kfake always asks for 127.0.0.1; listen where the user said instead.
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, p, _ := net.SplitHostPort(addr)
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
		// Consumer-group members of a stopped service leave the group explicitly; a short floor
		// only matters for tests that kill readers.
		kfake.GroupMinSessionTimeout(time.Second),
		kfake.BrokerConfigs(map[string]string{"log.segment.bytes": strconv.Itoa(segmentBytes)}),
	)
	if err != nil {
		return nil, fmt.Errorf("embedded broker on %s: %w", listen, err)
	}
	b := &Broker{c: c, dir: dir}
	if err := EnsureTopics(ctx, b.Addrs(), Topics); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Addrs are the broker's listen addresses.
func (b *Broker) Addrs() []string { return b.c.ListenAddrs() }

// Close stops the broker. A broker of StartBroker removes its log: its data is gone; one of
// StartBrokerIn leaves it in its directory for the next start. A second Close does nothing.
func (b *Broker) Close() {
	b.c.Close()
	if b.temp {
		os.RemoveAll(b.dir)
	}
}
