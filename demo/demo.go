// Package demo is `ems120 demo`: the whole system on one machine — the embedded broker, a
// throwaway PostgreSQL and the service (started by package stack) — with simulated actors
// around it: a synthetic call stream, crews that answer their assignments over ems.units, and
// hospital reporters who send their beds on ems.capacity.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/results"
	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/simulator"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/stack"
	"github.com/ems120/ems120/streams"
)

// Config configures `ems120 demo`.
type Config struct {
	KafkaListen string        // embedded broker address
	DSN         string        // "" starts a throwaway PostgreSQL
	HTTPAddr    string        // API address
	City        *city.City    // the city; Wuhan by default
	RatePerMin  float64       // synthetic calls a minute; 0 = only what arrives on the topics
	Speed       float64       // the simulated crews' clock: 1 = real time
	Duration    time.Duration // 0 = until ctx is cancelled
	Seed        uint64
	StatusEvery time.Duration // status line period; default 5 s
	Credentials string        // where the demo's accounts are written; "" for a temporary file
	Status      io.Writer     // where status lines go (stderr)
	Logger      *slog.Logger
	// Dispatch holds the dispatch rules (AckTimeout, Preempt, …); its connection fields are
	// set by Run.
	Dispatch service.Config
}

// Run runs the demo, prints a status line every few seconds, and returns the summary when
// ctx is cancelled or the duration is over. The throwaway database is removed at exit.
func Run(ctx context.Context, cfg Config) (results.Summary, error) {
	cfg.defaults()
	if cfg.Status != nil {
		fmt.Fprintf(cfg.Status, "ems120 demo: %s, %d stations, %d hospitals, %d units; %.1f calls/min; console and API http://%s/ (Ctrl-C to stop)\n",
			cfg.City.Name, len(cfg.City.Stations), len(cfg.City.Hospitals), len(cfg.City.Fleet), cfg.RatePerMin, cfg.HTTPAddr)
	}
	st, err := stack.Start(ctx, stack.Config{KafkaListen: cfg.KafkaListen, DSN: cfg.DSN, Logger: cfg.Logger})
	if err != nil {
		return results.Summary{}, err
	}
	defer st.Close()
	scfg := cfg.Dispatch
	scfg.HTTPAddr, scfg.City, scfg.Logger = cfg.HTTPAddr, cfg.City, cfg.Logger
	svc, err := st.NewService(ctx, scfg)
	if err != nil {
		return results.Summary{}, err
	}
	creds, cleanup, err := seedAccounts(ctx, svc, cfg.Credentials, cfg.City)
	if err != nil {
		return results.Summary{}, err
	}
	defer cleanup()
	if cfg.Status != nil {
		fmt.Fprintf(cfg.Status, "ems120 demo: sign in as operator, supervisor, reporter or analyst; passwords and API tokens in %s\n", creds)
	}
	runCtx := ctx // -duration is the play's: it starts once the service and the accounts are ready
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	started := time.Now()
	if err := cfg.play(runCtx, st.Brokers, svc); err != nil {
		return results.Summary{}, err
	}
	// The service has stopped; the record is final. Read the summary before the throwaway
	// database goes.
	return summary(context.WithoutCancel(ctx), st.DSN, svc, time.Since(started), cfg.Status)
}

func (cfg *Config) defaults() {
	if cfg.City == nil {
		cfg.City = city.Wuhan()
	}
	if cfg.StatusEvery <= 0 {
		cfg.StatusEvery = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
}

// play runs the service and the simulated actors around it until ctx ends or one fails.
func (cfg Config) play(ctx context.Context, brokers []string, svc *service.Service) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return svc.Run(gctx) })
	crews := &Crews{Brokers: brokers, City: cfg.City, Travel: city.DefaultTravelModel(cfg.City.Location()), Seed: cfg.Seed, Logger: cfg.Logger, Speed: cfg.Speed}
	g.Go(func() error { return crews.Run(gctx) })
	reporters := &Reporters{Brokers: brokers, City: cfg.City, Speed: cfg.Speed, Seed: cfg.Seed, Logger: cfg.Logger}
	g.Go(func() error { return reporters.Run(gctx) })
	if cfg.RatePerMin > 0 {
		g.Go(func() error { return cfg.stream(gctx, brokers) })
	}
	g.Go(func() error {
		t := time.NewTicker(cfg.StatusEvery)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				if cfg.Status != nil {
					fmt.Fprintf(cfg.Status, "%s  %s\n", time.Now().Format("15:04:05"), svc.Status())
				}
			}
		}
	})
	return g.Wait()
}

// summary is the run's summary: the record's counts and response figures, the service's
// refusals and decision latency.
func summary(ctx context.Context, dsn string, svc *service.Service, elapsed time.Duration, status io.Writer) (results.Summary, error) {
	st, err := sql.Open(ctx, dsn)
	if err != nil {
		return results.Summary{}, err
	}
	defer st.Close()
	sum, err := st.RunSummary(ctx)
	if err != nil {
		return results.Summary{}, err
	}
	sum.ThroughputPerS = results.F(float64(sum.Calls) / elapsed.Seconds())
	s := svc.Status()
	sum.Rejected = s.Rejected
	if s.LatencyP50 > 0 {
		sum.LatencyMsP50 = results.F(float64(s.LatencyP50) / float64(time.Millisecond))
		sum.LatencyMsP99 = results.F(float64(s.LatencyP99) / float64(time.Millisecond))
	}
	if status != nil {
		fmt.Fprintf(status, "final  %s\n", s)
	}
	return sum, nil
}

// stream writes synthetic calls to ems.calls at the configured rate until ctx ends.
func (cfg Config) stream(ctx context.Context, brokers []string) error {
	w := streams.NewWriter(brokers, contract.TopicCalls)
	defer w.Close()
	gen := simulator.NewGenerator(cfg.City, simulator.DefaultMix, cfg.Seed, "C-"+time.Now().UTC().Format("20060102-150405"))
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(gen.Gap(cfg.RatePerMin)):
		}
		c := gen.Call(time.Now())
		b, err := c.AppendJSON(nil)
		if err != nil {
			return fmt.Errorf("synthetic calls: %w", err)
		}
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(c.CallID), Value: b}); err != nil && ctx.Err() == nil {
			return fmt.Errorf("synthetic calls: %w", err)
		}
	}
}
