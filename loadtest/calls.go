package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/results"
	"github.com/ems120/ems120/simulator"
	"github.com/ems120/ems120/streams"
)

func loadCalls(ctx context.Context, cfg Config, lv *live, c *city.City, progress func(string, ...any)) (results.Load, error) {
	gen := simulator.NewGenerator(c, simulator.DefaultMix, cfg.Seed, "LT")
	sample, _ := json.Marshal(gen.Call(time.Now()))
	rawN, raw, err := measureRaw(ctx, cfg, lv, contract.TopicCalls, sample, 20_000, 100_000, progress)
	if err != nil {
		return results.Load{}, err
	}
	gen = simulator.NewGenerator(c, simulator.DefaultMix, cfg.Seed, fmt.Sprintf("LT%d", time.Now().Unix()))
	progress("calls at %s for %s", RateString(cfg.Rate), cfg.Duration)
	res, err := driveCalls(ctx, lv, cfg.Recycle, atRate(cfg.Rate, cfg.Duration), int(cfg.Rate*cfg.Duration.Seconds()), gen.Call, cfg.Logger, progress)
	if err != nil {
		return res, err
	}
	res.RawMessages = rawN
	res.Summary.RawKafkaPerS = results.F(raw)
	return res, nil
}

// callRun is one run of calls: the book of calls written and assignments read, which the
// producer, the watcher and the crews share under mu.
type callRun struct {
	lv       *live
	mu       sync.Mutex
	bk       *book
	start    time.Time
	produced int
	progress func(string, ...any)
}

// driveCalls writes calls to ems.calls as the pacer says, next making each (received now),
// and measures each call's latency until its assignment is readable on ems.assignments. With
// recycle the crews free their unit as soon as they read the assignment.
func driveCalls(ctx context.Context, lv *live, recycle bool, p pacer, expect int, next func(now time.Time) contract.Call,
	log *slog.Logger, progress func(string, ...any)) (results.Load, error) {
	r := &callRun{lv: lv, bk: newBook(expect), progress: progress}
	warmHeap()
	r.start = time.Now()
	r.bk.start = r.start
	// The watcher: every partition of ems.assignments read directly (no group, no commits),
	// each message stamped the moment it is read — the end of a call's latency.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watchDone, err := streams.Watch(watchCtx, lv.brokers, contract.TopicAssignments, true, func(m kafka.Message, now time.Time) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.bk.read(m.Key, m.Value, now)
	})
	if err != nil {
		return results.Load{}, err
	}
	crewCtx, stopCrews := context.WithCancel(ctx)
	defer stopCrews()
	crewsDone := make(chan error, 1)
	go func() { crewsDone <- r.crews(crewCtx, recycle, log) }()
	if err := r.produce(ctx, p, next); err != nil {
		return results.Load{}, err
	}
	producedFor := time.Since(r.start)
	r.drain()
	stopCrews()
	<-crewsDone
	stopWatch()
	<-watchDone
	return r.result(producedFor), nil
}

// crews, with recycle, read every assignment, then report on scene and available at once, at
// the scene (the load test measures dispatch, not driving), so the units come free for the
// next calls — and spread over the city as they would. Without, they wait for ctx.
func (r *callRun) crews(ctx context.Context, recycle bool, log *slog.Logger) error {
	if !recycle {
		<-ctx.Done()
		return nil
	}
	w := streams.NewWriter(r.lv.brokers, contract.TopicUnits)
	defer w.Close()
	crews := streams.NewConsumer(streams.ConsumerConfig{Brokers: r.lv.brokers, GroupID: fmt.Sprintf("loadtest-crews-%d", time.Now().UnixNano()),
		Topic: contract.TopicAssignments, MaxBatch: 5000, Logger: log})
	// The crews run on the same two cores as the system they load, so they read only the
	// unit from each assignment (its key is the call) and write with the contract's encoder.
	return crews.Run(ctx, func(ctx context.Context, msgs []kafka.Message) error {
		now := time.Now()
		pings := make([]kafka.Message, 0, 2*len(msgs))
		buf := make([]byte, 0, 2*150*len(msgs)) // the pings' values, each its own region
		for _, m := range msgs {
			var a struct {
				UnitID string `json:"unit_id"`
			}
			if json.Unmarshal(m.Value, &a) != nil || a.UnitID == "" {
				continue
			}
			r.mu.Lock()
			h := r.bk.scene(m.Key)
			r.mu.Unlock()
			for i, st := range []contract.UnitStatus{contract.StatusOnScene, contract.StatusAvailable} {
				p := contract.UnitPing{UnitID: a.UnitID, At: now.Add(time.Duration(i) * time.Microsecond).UTC(),
					Lat: h.Lat, Lng: h.Lng, Status: st}
				start := len(buf)
				buf, _ = p.AppendJSON(buf) // a scene in the city always encodes
				pings = append(pings, kafka.Message{Key: []byte(a.UnitID), Value: buf[start:len(buf):len(buf)]})
			}
		}
		return w.WriteMessages(ctx, pings...)
	})
}

// produce writes the calls as the pacer says, noting each in the book before it is sent.
func (r *callRun) produce(ctx context.Context, p pacer, next func(now time.Time) contract.Call) error {
	w := streams.NewWriter(r.lv.brokers, contract.TopicCalls)
	defer w.Close()
	lastProgress := time.Now()
	return pace(ctx, p, func(n int) error {
		batch := make([]kafka.Message, n)
		calls := make([]contract.Call, n)
		buf := make([]byte, 0, 200*n) // the batch's values, each message its own region
		for i := range batch {
			calls[i] = next(time.Now())
			start := len(buf)
			buf, _ = calls[i].AppendJSON(buf) // a generated call always encodes
			batch[i] = kafka.Message{Key: []byte(calls[i].CallID), Value: buf[start:len(buf):len(buf)]}
		}
		t0 := time.Since(r.start)
		r.mu.Lock()
		for _, c := range calls {
			if !r.bk.write(c.CallID, sentCall{at: t0, scene: city.Point{Lat: c.Lat, Lng: c.Lng}}) {
				r.mu.Unlock()
				return fmt.Errorf("call %s: its id's hash is another call's in this run (odds under 1 in 10^9): run again", c.CallID)
			}
		}
		r.mu.Unlock()
		r.produced += n
		if time.Since(lastProgress) > 5*time.Second {
			lastProgress = time.Now()
			r.mu.Lock()
			r.progress("%d calls written, %d assigned", r.produced, len(r.bk.latencies))
			r.mu.Unlock()
		}
		return w.WriteMessages(ctx, batch...)
	})
}

// drain waits until every call is assigned (the crews keep freeing units for the queue), or
// nothing moves for 15 s; then a moment more, for late duplicates, if any, to arrive.
func (r *callRun) drain() {
	waitProgress(r.produced, 50*time.Millisecond, func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.bk.latencies)
	})
	time.Sleep(500 * time.Millisecond)
}

// result is what the run measured, from the book and the service's counts.
func (r *callRun) result(producedFor time.Duration) results.Load {
	r.mu.Lock()
	defer r.mu.Unlock()
	bk := r.bk
	latencies := bk.latencies
	st := r.lv.svc.Status()
	res := results.Load{LatencyMs: latencies, WrittenAtS: bk.writtenAt, Produced: r.produced}
	sum := results.Summary{Calls: r.produced, Assigned: len(latencies), Queued: r.lv.svc.Stats().Queued, Rejected: st.Rejected}
	sum.DuplicateAssignments = len(bk.duplicate) // the book marks only the calls it wrote
	sum.Lost = max(0, r.produced-sum.Assigned-sum.Queued-sum.Rejected)
	p99 := results.Percentile(latencies, 99)
	if len(latencies) > 0 {
		sum.LatencyMsP50, sum.LatencyMsP99 = results.F(results.Percentile(latencies, 50)), results.F(p99)
		res.LatencyMax = slices.Max(latencies)
		sum.ThroughputPerS = results.F(float64(len(latencies)) / bk.lastAssign.Sub(r.start).Seconds())
	}
	res.Summary = sum
	for i, n := range bk.perSecond {
		res.Throughput = append(res.Throughput, results.Sample{At: r.start.Add(time.Duration(i) * time.Second), Calls: n})
	}
	r.progress("%d calls in %s (%.0f/s offered), %d assigned, p99 %.1f ms (service: record to published p50 %s p99 %s)", r.produced,
		producedFor.Round(time.Millisecond), float64(r.produced)/producedFor.Seconds(), len(latencies), p99,
		st.LatencyP50, st.LatencyP99)
	return res
}
