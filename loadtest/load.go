package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch/fleetindex"
	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/sql/pgtemp"
	"github.com/ems120/ems120/streams"
)

// Load modes.
const (
	ModeCalls = "calls"
	ModePings = "pings"
)

// LoadConfig configures `ems120 loadtest`.
type LoadConfig struct {
	Mode     string        // calls or pings
	Rate     float64       // messages per second; 0 = as fast as they go
	Duration time.Duration // how long to produce
	Brokers  []string      // external Kafka; nil = the embedded broker
	DSN      string        // external PostgreSQL; "" = a throwaway one
	City     *city.City    // default Wuhan, its fleet replaced by Units synthetic units
	Units    int           // fleet size; see Load for the defaults
	// Recycle has crews report on scene and available as soon as they read their
	// assignment, so units come free again (two pings per call, three times the writes).
	// Without it the fleet is sized to the calls and each unit serves one call.
	Recycle  bool
	Seed     uint64
	Progress io.Writer // progress lines (stderr); nil for none
	Logger   *slog.Logger
}

// LoadResult is what a load test measured, beyond the summary.
type LoadResult struct {
	Summary      Summary
	LatencyMs    []float64 // per call: write to ems.calls → assignment read from ems.assignments
	WrittenAtS   []float64 // per call, as LatencyMs: when it was written, seconds after the first write
	LatencyMax   float64
	Produced     int
	Throughput   []Sample // assignments (calls mode) or pings applied, per second, in Calls
	RawMessages  int
	PingsApplied int // pings mode: applied to the fleet index (stale ones included)
}

// live is a running ems120 with its broker and database, for load and replay.
type live struct {
	brokers []string
	svc     *service.Service
	stop    func() error
}

// startLive starts ems120 on the broker and database given (embedded ones when empty) and
// returns once it consumes and has stored its first coverage snapshot: that snapshot comes a
// second after the start (13,534 rows for Wuhan, about half a second of PostgreSQL's CPU) and
// the next one CoverageSnapshotEvery (10 minutes) later, so a measurement started before it
// would have that start-up burst in its first second, where a steady day meets it once in
// ten minutes.
func startLive(ctx context.Context, brokers []string, dsn string, c *city.City, cfg service.Config, log *slog.Logger,
	progress func(string, ...any)) (*live, error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if len(brokers) == 0 {
		b, err := streams.StartBroker(ctx, "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		closers = append(closers, b.Close)
		brokers = b.Addrs()
	}
	if dsn == "" {
		pg, err := pgtemp.Start(ctx)
		if err != nil {
			closeAll()
			return nil, err
		}
		closers = append(closers, func() { pg.Close() })
		dsn = pg.DSN
	}
	cfg.Brokers, cfg.DSN, cfg.City, cfg.Logger = brokers, dsn, c, log
	svc, err := service.New(ctx, cfg)
	if err != nil {
		closeAll()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	for !svc.Ready() {
		select {
		case err := <-done:
			cancel()
			closeAll()
			return nil, fmt.Errorf("service stopped at start: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	waitFirstSnapshot(svc, 30*time.Second, progress)
	return &live{brokers: brokers, svc: svc, stop: func() error {
		cancel()
		err := <-done
		closeAll()
		return err
	}}, nil
}

// loadCity is the city with its fleet replaced by n units placed by the population proxy, each
// homed at the station nearest to it: a fleet of a load test's size with the city's
// geography, spread as units on the move are rather than stacked at the stations.
func loadCity(base *city.City, n int, seed uint64) *city.City {
	c := *base
	c.Fleet = nil
	rng := rand.New(rand.NewPCG(seed, 77))
	gen := NewGenerator(base, DefaultMix, seed, "U")
	kinds := []contract.UnitKind{contract.KindALS, contract.KindBLS, contract.KindBLS, contract.KindNegativePressure}
	stations := fleetindex.New(fleetindex.DefaultResolution)
	for i, st := range base.Stations {
		stations.Update(int32(i), st.Point)
	}
	for i := 0; i < n; i++ {
		call := gen.Call(time.Time{})
		p := city.Point{Lat: call.Lat, Lng: call.Lng}
		home, _, _ := stations.Nearest(p, fleetindex.MaxSearchM, nil)
		c.Fleet = append(c.Fleet, city.Unit{ID: fmt.Sprintf("L-%06d", i), Kind: kinds[rng.IntN(len(kinds))],
			Station: base.Stations[max(home, 0)].ID, Start: &p})
	}
	return &c
}

// Load runs a load test end to end over Kafka and PostgreSQL. Before the calls or pings it
// measures raw_kafka_per_s: the same broker and client moving the same number of the same
// messages, written and read back by a consumer group, with no processing.
//
// The fleet: pings mode, 10,000 units; calls mode with Recycle, 2,000 units that the crews
// free again; calls mode without, one unit per call expected (rate × duration, plus a tenth;
// 150,000 at full speed), each serving one call.
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	if cfg.Mode != ModeCalls && cfg.Mode != ModePings {
		return LoadResult{}, fmt.Errorf("unknown mode %q (want calls or pings)", cfg.Mode)
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 20 * time.Second
	}
	if cfg.City == nil {
		cfg.City = city.Wuhan()
	}
	if cfg.Units <= 0 {
		switch {
		case cfg.Mode == ModePings:
			cfg.Units = 10_000
		case cfg.Recycle:
			cfg.Units = 2000
		case cfg.Rate > 0: // one unit per call, and a tenth more
			cfg.Units = max(2000, int(1.1*cfg.Rate*cfg.Duration.Seconds()))
		default:
			cfg.Units = 150_000
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	progress := progressTo(cfg.Progress, "loadtest")
	c := loadCity(cfg.City, cfg.Units, cfg.Seed)
	progress("starting ems120 with %d units", len(c.Fleet))
	lv, err := startLive(ctx, cfg.Brokers, cfg.DSN, c, service.Config{AckTimeout: -1, MaxBatch: 2000}, cfg.Logger, progress)
	if err != nil {
		return LoadResult{}, err
	}
	var res LoadResult
	var runErr error
	if cfg.Mode == ModeCalls {
		// The fleet is in the record and the engine now, and the calls never read it again:
		// its hundred thousand entries would only be marked at every GC of the measurement.
		c.Fleet = nil
		res, runErr = loadCalls(ctx, cfg, lv, c, progress)
	} else {
		res, runErr = loadPings(ctx, cfg, lv, c, progress)
	}
	if err := lv.stop(); err != nil && runErr == nil {
		runErr = err
	}
	return res, runErr
}

// waitFirstSnapshot waits until svc has stored its first coverage snapshot, or limit passes
// (then it says so and the run goes on: a snapshot that fails is the service's to log).
func waitFirstSnapshot(svc *service.Service, limit time.Duration, progress func(string, ...any)) {
	deadline := time.Now().Add(limit)
	for svc.CoverageSnapshots() == 0 {
		if time.Now().After(deadline) {
			progress("no coverage snapshot stored after %s; measuring anyway", limit)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// progressTo prints progress lines "prefix: …" to w (stderr); nil w prints nothing.
func progressTo(w io.Writer, prefix string) func(format string, args ...any) {
	return func(format string, args ...any) {
		if w != nil {
			fmt.Fprintf(w, prefix+": "+format+"\n", args...)
		}
	}
}

// measureRaw runs rawKafka with as many copies of sample as the load will send (rate ×
// duration), at least least and at most most (most at full speed); it returns how many it
// moved and the rate.
func measureRaw(ctx context.Context, cfg LoadConfig, lv *live, like string, sample []byte, least, most int, progress func(string, ...any)) (int, float64, error) {
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
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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

// pacer says how many messages are due, in all, by el since the start (given how many were
// sent), and whether the feed is finished.
type pacer func(el time.Duration, sent int) (due int, finished bool)

// atRate is rate per second for d (rate 0: as fast as send returns, 2,000 at a time).
func atRate(rate float64, d time.Duration) pacer {
	return func(el time.Duration, sent int) (int, bool) {
		if el >= d {
			return sent, true
		}
		if rate <= 0 {
			return sent + 2000, false
		}
		return int(rate * el.Seconds()), false
	}
}

// pace calls send with how many messages are due, every 5 ms at most 5,000 at a time, until
// the pacer is finished or ctx ends.
func pace(ctx context.Context, p pacer, send func(n int) error) error {
	start := time.Now()
	sent := 0
	for ctx.Err() == nil {
		due, finished := p(time.Since(start), sent)
		n := min(due-sent, 5000)
		if n <= 0 {
			if finished {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err := send(n); err != nil {
			return err
		}
		sent += n
	}
	return nil
}

func loadCalls(ctx context.Context, cfg LoadConfig, lv *live, c *city.City, progress func(string, ...any)) (LoadResult, error) {
	gen := NewGenerator(c, DefaultMix, cfg.Seed, "LT")
	sample, _ := json.Marshal(gen.Call(time.Now()))
	rawN, raw, err := measureRaw(ctx, cfg, lv, contract.TopicCalls, sample, 20_000, 100_000, progress)
	if err != nil {
		return LoadResult{}, err
	}
	gen = NewGenerator(c, DefaultMix, cfg.Seed, fmt.Sprintf("LT%d", time.Now().Unix()))
	progress("calls at %s for %s", RateString(cfg.Rate), cfg.Duration)
	res, err := driveCalls(ctx, lv, cfg.Recycle, atRate(cfg.Rate, cfg.Duration), int(cfg.Rate*cfg.Duration.Seconds()), gen.Call, cfg.Logger, progress)
	if err != nil {
		return res, err
	}
	res.RawMessages = rawN
	res.Summary.RawKafkaPerS = F(raw)
	return res, nil
}

// driveCalls writes calls to ems.calls as the pacer says, next making each (received now),
// and measures each call's latency until its assignment is readable on ems.assignments. With
// recycle the crews free their unit as soon as they read the assignment.
func driveCalls(ctx context.Context, lv *live, recycle bool, p pacer, expect int, next func(now time.Time) contract.Call,
	log *slog.Logger, progress func(string, ...any)) (LoadResult, error) {
	var mu sync.Mutex
	bk := newBook(expect)
	warmHeap()
	start := time.Now()
	bk.start = start

	// The watcher: every partition of ems.assignments read directly (no group, no commits),
	// each message stamped the moment it is read — the end of a call's latency.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watchDone, err := watch(watchCtx, lv.brokers, contract.TopicAssignments, func(m kafka.Message, now time.Time) {
		mu.Lock()
		defer mu.Unlock()
		bk.read(m.Key, m.Value, now)
	})
	if err != nil {
		return LoadResult{}, err
	}

	// The crews: read every assignment, then report on scene and available at once, at the
	// scene (the load test measures dispatch, not driving), so the units come free for the
	// next calls — and spread over the city as they would.
	crewW := streams.NewWriter(lv.brokers, contract.TopicUnits)
	defer crewW.Close()
	if !recycle {
		crewW = nil
	}
	crews := streams.NewConsumer(streams.ConsumerConfig{Brokers: lv.brokers, GroupID: fmt.Sprintf("loadtest-crews-%d", time.Now().UnixNano()),
		Topic: contract.TopicAssignments, MaxBatch: 5000, Logger: log})
	cctx, stopCrews := context.WithCancel(ctx)
	defer stopCrews()
	crewsDone := make(chan error, 1)
	go func() {
		if crewW == nil {
			<-cctx.Done()
			crewsDone <- nil
			return
		}
		// The crews run on the same two cores as the system they load, so they read only the
		// unit from each assignment (its key is the call) and write with the contract's
		// encoder: with encoding/json both ways they took 5.5% of the process's CPU.
		crewsDone <- crews.Run(cctx, func(ctx context.Context, msgs []kafka.Message) error {
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
				mu.Lock()
				h := bk.scene(m.Key)
				mu.Unlock()
				for i, st := range []contract.UnitStatus{contract.StatusOnScene, contract.StatusAvailable} {
					p := contract.UnitPing{UnitID: a.UnitID, At: now.Add(time.Duration(i) * time.Microsecond).UTC(),
						Lat: h.Lat, Lng: h.Lng, Status: st}
					start := len(buf)
					buf, _ = p.AppendJSON(buf) // a scene in the city always encodes
					pings = append(pings, kafka.Message{Key: []byte(a.UnitID), Value: buf[start:len(buf):len(buf)]})
				}
			}
			return crewW.WriteMessages(ctx, pings...)
		})
	}()

	w := streams.NewWriter(lv.brokers, contract.TopicCalls)
	defer w.Close()
	produced := 0
	lastProgress := time.Now()
	err = pace(ctx, p, func(n int) error {
		batch := make([]kafka.Message, n)
		calls := make([]contract.Call, n)
		buf := make([]byte, 0, 200*n) // the batch's values, each message its own region
		for i := range batch {
			calls[i] = next(time.Now())
			start := len(buf)
			buf, _ = calls[i].AppendJSON(buf) // a generated call always encodes
			batch[i] = kafka.Message{Key: []byte(calls[i].CallID), Value: buf[start:len(buf):len(buf)]}
		}
		t0 := time.Since(start)
		mu.Lock()
		for _, c := range calls {
			if !bk.write(c.CallID, sentCall{at: t0, scene: city.Point{Lat: c.Lat, Lng: c.Lng}}) {
				mu.Unlock()
				return fmt.Errorf("call %s: its id's hash is another call's in this run (odds under 1 in 10^9): run again", c.CallID)
			}
		}
		mu.Unlock()
		produced += n
		if time.Since(lastProgress) > 5*time.Second {
			lastProgress = time.Now()
			mu.Lock()
			progress("%d calls written, %d assigned", produced, len(bk.latencies))
			mu.Unlock()
		}
		return w.WriteMessages(ctx, batch...)
	})
	if err != nil {
		return LoadResult{}, err
	}
	producedFor := time.Since(start)
	// Drain: wait until every call is assigned (the crews keep freeing units for the queue),
	// or nothing moves for 15 s.
	deadline, last := time.Now().Add(15*time.Second), -1
	for {
		mu.Lock()
		got := len(bk.latencies)
		mu.Unlock()
		if got >= produced {
			break
		}
		if got != last {
			last, deadline = got, time.Now().Add(15*time.Second)
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // late duplicates, if any, arrive
	stopCrews()
	<-crewsDone
	stopWatch()
	<-watchDone

	mu.Lock()
	defer mu.Unlock()
	latencies, perSecond, lastAssign := bk.latencies, bk.perSecond, bk.lastAssign
	res := LoadResult{LatencyMs: latencies, WrittenAtS: bk.writtenAt, Produced: produced}
	sum := Summary{Calls: produced, Assigned: len(latencies), Queued: lv.svc.Stats().Queued, Rejected: lv.svc.Status().Rejected}
	sum.DuplicateAssignments = len(bk.duplicate) // the book marks only the calls it wrote
	sum.Lost = max(0, produced-sum.Assigned-sum.Queued-sum.Rejected)
	if len(latencies) > 0 {
		sum.LatencyMsP50, sum.LatencyMsP99 = F(Percentile(latencies, 50)), F(Percentile(latencies, 99))
		res.LatencyMax = slices.Max(latencies)
		sum.ThroughputPerS = F(float64(len(latencies)) / lastAssign.Sub(start).Seconds())
	}
	res.Summary = sum
	for i, n := range perSecond {
		res.Throughput = append(res.Throughput, Sample{At: start.Add(time.Duration(i) * time.Second), Calls: n})
	}
	st := lv.svc.Status()
	progress("%d calls in %s (%.0f/s offered), %d assigned, p99 %.1f ms (service: record to published p50 %s p99 %s)", produced,
		producedFor.Round(time.Millisecond), float64(produced)/producedFor.Seconds(), len(latencies), Percentile(latencies, 99),
		st.LatencyP50, st.LatencyP99)
	return res, nil
}

// RateString is a rate for people: "500/s", or "full speed" for 0.
func RateString(r float64) string {
	if r <= 0 {
		return "full speed"
	}
	return fmt.Sprintf("%.0f/s", r)
}

func loadPings(ctx context.Context, cfg LoadConfig, lv *live, c *city.City, progress func(string, ...any)) (LoadResult, error) {
	type unitPos struct {
		id string
		p  city.Point
	}
	units := make([]unitPos, len(c.Fleet))
	for i, u := range c.Fleet {
		units[i] = unitPos{u.ID, c.StartPoint(u)}
	}
	sample, _ := json.Marshal(contract.UnitPing{UnitID: units[0].id, At: time.Now().UTC(), Lat: units[0].p.Lat, Lng: units[0].p.Lng,
		Status: contract.StatusAvailable})
	rawN, raw, err := measureRaw(ctx, cfg, lv, contract.TopicUnits, sample, 50_000, 500_000, progress)
	if err != nil {
		return LoadResult{}, err
	}
	w := streams.NewWriter(lv.brokers, contract.TopicUnits)
	defer w.Close()
	base := lv.svc.PingsApplied()
	rng := rand.New(rand.NewPCG(cfg.Seed, 5))
	produced, next := 0, 0
	start := time.Now()
	var perSecond []Sample
	stopSampling := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		prev := base
		for {
			select {
			case <-stopSampling:
				return
			case now := <-t.C:
				cur := lv.svc.PingsApplied()
				perSecond = append(perSecond, Sample{At: now, Calls: int(cur - prev)})
				prev = cur
			}
		}
	}()
	progress("pings at %s for %s to %d units", RateString(cfg.Rate), cfg.Duration, len(units))
	err = pace(ctx, atRate(cfg.Rate, cfg.Duration), func(n int) error {
		batch := make([]kafka.Message, n)
		buf := make([]byte, 0, 140*n) // the batch's values, each message its own region
		now := time.Now().UTC()
		for i := range batch {
			u := &units[next%len(units)]
			next++
			// A unit drives up to ~100 m between pings.
			u.p = city.Point{Lat: u.p.Lat + (rng.Float64()-0.5)*0.0015, Lng: u.p.Lng + (rng.Float64()-0.5)*0.0015}
			ping := contract.UnitPing{UnitID: u.id, At: now, Lat: u.p.Lat, Lng: u.p.Lng, Status: contract.StatusAvailable}
			start := len(buf)
			buf, _ = ping.AppendJSON(buf) // a position in the city always encodes
			batch[i] = kafka.Message{Key: []byte(u.id), Value: buf[start:len(buf):len(buf)]}
		}
		produced += n
		return w.WriteMessages(ctx, batch...)
	})
	if err != nil {
		return LoadResult{}, err
	}
	// Wait until every ping is applied (or counted stale), or nothing moves for 15 s.
	var done time.Time
	deadline, last := time.Now().Add(15*time.Second), int64(-1)
	for {
		got := lv.svc.PingsApplied() - base
		if got >= int64(produced) {
			done = time.Now()
			break
		}
		if got != last {
			last, deadline = got, time.Now().Add(15*time.Second)
		}
		if time.Now().After(deadline) {
			done = time.Now()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stopSampling)
	<-samplerDone
	applied := lv.svc.PingsApplied() - base
	res := LoadResult{Produced: produced, RawMessages: rawN, Throughput: perSecond, PingsApplied: int(applied)}
	rejected := lv.svc.Status().Rejected
	res.Summary = Summary{Rejected: rejected, Lost: max(0, produced-int(applied)-rejected),
		ThroughputPerS: F(float64(applied) / done.Sub(start).Seconds()), RawKafkaPerS: F(raw)}
	progress("%d pings written, %d applied in %s", produced, applied, done.Sub(start).Round(time.Millisecond))
	return res, nil
}

// sentCall is a call the load test wrote: when (after the start), where (the crews drive
// there when they recycle), and a hash of its first assignment as published. Nothing in it
// points into the heap, so the GC, which marks the book at every cycle of the measurement,
// does not follow a pointer per call (a copy of each assignment, which the book kept before,
// was a tenth of the objects it marked).
type sentCall struct {
	at       time.Duration
	scene    city.Point
	first    uint64
	assigned bool
}

// book keeps the calls written and the assignments read for them; the caller locks. It
// knows a call by a 64-bit hash of its id (key), not by the id: a string key is a pointer
// per call that the garbage collector follows at every cycle, in the process it measures,
// and a 5,000/s run writes 100,000 calls.
type book struct {
	start      time.Time
	seed       maphash.Seed
	written    map[uint64]sentCall
	duplicate  map[string]bool // call ids with a second, different assignment
	latencies  []float64       // ms, per assigned call in the order read
	writtenAt  []float64       // seconds after the start, in step with latencies
	perSecond  []int           // assignments read in each second after the start
	lastAssign time.Time
}

// warmHeap readies the heap for a measurement, as a service that has run for a while has it.
// As testing.B does before a benchmark, the garbage of the set-up (the fleet's load, the raw
// Kafka run) is collected now, not charged to the first seconds. And the memory the heap will
// grow into until its next collection (the GC's goal, five times what is live under GOGC 400)
// is touched once now: on this machine's virtual memory the first touch of a page costs a
// fault, about 13 µs, and a run's first seconds otherwise faulted in the whole goal — 100,000
// faults, p99 of 200–650 ms in seconds 0–3 — once the book, sized for the run, had raised it.
// The freed block stays with the process (it is under the goal), and the allocator reuses
// its pages. At most 1 GiB is touched: an hour-long run's goal grows past that as it goes.
func warmHeap() {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	goal, live := s[0].Value.Uint64(), s[1].Value.Uint64()
	if goal > live {
		b := make([]byte, min(goal-live, 1<<30))
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		runtime.KeepAlive(b)
	}
	runtime.GC()
}

// newBook returns a book for about expect calls (0 if not known), its table made before the
// measurement starts (the caller sets start).
//
// A Go map grows in tables of at most 1,024 slots that split when full, and keys spread
// evenly, so all of them fill, and split, at about the same count: a book grown call by call
// built a second copy of itself, tens of megabytes of memory never touched before, within a
// few seconds around 460,000 calls (92 s into a run at 5,000/s). On this machine's virtual
// memory a first touch is dear (making a 600,000-entry table: 13,500 page faults, 180 ms):
// each such window, and no other, showed 10,000 page faults a second in the process and
// per-second p99 of 200–400 ms in every 120 s run. Made for the run before the clock starts
// (make zeroes, so touches, the whole table), the table never grows while it is measured.
func newBook(expect int) *book {
	return &book{seed: maphash.MakeSeed(), written: make(map[uint64]sentCall, expect), duplicate: map[string]bool{},
		latencies: make([]float64, 0, expect), writtenAt: make([]float64, 0, expect)}
}

func (b *book) key(callID string) uint64 { return maphash.String(b.seed, callID) }

// write notes a call written. False: its key is taken — the same id written twice, which the
// generator never does, or two ids with one hash, with odds of about n²/2⁶⁵ for n calls (under
// 1 in 10⁹ for a million). The caller fails the run rather than mix two calls up.
func (b *book) write(callID string, sc sentCall) bool {
	k := b.key(callID)
	if _, taken := b.written[k]; taken {
		return false
	}
	b.written[k] = sc
	return true
}

// scene is where the call whose id is key was written to happen (zero for a call the book
// did not write).
func (b *book) scene(key []byte) city.Point { return b.written[maphash.Bytes(b.seed, key)].scene }

// read takes an assignment read at now. Its key is its call id. The first one for a call
// gives the call's latency; the same assignment published again (a replayed outbox row) has
// the same bytes, so a later one with different bytes is a second assignment: a duplicate.
// Assignments for calls the book did not write are none of its business.
func (b *book) read(key, value []byte, now time.Time) {
	k := maphash.Bytes(b.seed, key) // as key(string(key)), without the string
	sc, ours := b.written[k]
	h := maphash.Bytes(b.seed, value)
	switch {
	case !ours:
	case sc.assigned:
		if h != sc.first {
			b.duplicate[string(key)] = true
		}
	default:
		sc.first, sc.assigned = h, true
		b.written[k] = sc
		el := now.Sub(b.start)
		b.latencies = append(b.latencies, float64(el-sc.at)/float64(time.Millisecond))
		b.writtenAt = append(b.writtenAt, sc.at.Seconds())
		sec := int(el.Seconds())
		for len(b.perSecond) <= sec {
			b.perSecond = append(b.perSecond, 0)
		}
		b.perSecond[sec]++
		b.lastAssign = now
	}
}

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
