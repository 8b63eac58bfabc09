package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/sql/pgtemp"
	"github.com/ems120/ems120/streams"
)

// DemoConfig configures `ems120 demo`.
type DemoConfig struct {
	KafkaListen string        // embedded broker address
	DSN         string        // "" starts a throwaway PostgreSQL
	HTTPAddr    string        // API address
	City        *city.City    // the city; Wuhan by default
	RatePerMin  float64       // synthetic calls a minute; 0 = only what arrives on the topics
	Speed       float64       // the simulated crews' clock: 1 = real time
	Duration    time.Duration // 0 = until ctx is cancelled
	Seed        uint64
	StatusEvery time.Duration // status line period; default 5 s
	Status      io.Writer     // where status lines go (stderr)
	Logger      *slog.Logger
	// Dispatch holds the dispatch rules (AckTimeout, Preempt, …); its connection fields are
	// set by Demo.
	Dispatch service.Config
}

// Demo runs everything embedded — the broker, PostgreSQL, the service, the simulated fleet,
// the simulated hospital capacity reporters and the synthetic call stream — prints a status line every few seconds, and returns the summary
// when ctx is cancelled or the duration is over. The throwaway database is removed at exit.
func Demo(ctx context.Context, cfg DemoConfig) (Summary, error) {
	if cfg.City == nil {
		cfg.City = city.Wuhan()
	}
	if cfg.StatusEvery <= 0 {
		cfg.StatusEvery = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger
	broker, err := streams.StartBroker(ctx, cfg.KafkaListen)
	if err != nil {
		return Summary{}, err
	}
	defer broker.Close()
	log.Info("embedded Kafka broker (kfake) listening", "addr", broker.Addrs()[0])
	dsn := cfg.DSN
	if dsn == "" {
		pg, err := pgtemp.Start(ctx)
		if err != nil {
			return Summary{}, err
		}
		defer func() {
			pg.Close()
			log.Info("throwaway PostgreSQL stopped and removed")
		}()
		dsn = pg.DSN
		log.Info("throwaway PostgreSQL started", "dsn", dsn)
	}
	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	scfg := cfg.Dispatch
	scfg.Brokers, scfg.DSN, scfg.HTTPAddr, scfg.City, scfg.Logger = broker.Addrs(), dsn, cfg.HTTPAddr, cfg.City, log
	svc, err := service.New(runCtx, scfg)
	if err != nil {
		return Summary{}, err
	}
	started := time.Now()
	loc, err := time.LoadLocation(cfg.City.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return svc.Run(gctx) })
	fleet := &Fleet{Brokers: broker.Addrs(), City: cfg.City, Travel: city.DefaultTravelModel(loc), Seed: cfg.Seed, Logger: log, Speed: cfg.Speed}
	g.Go(func() error { return fleet.Run(gctx) })
	reporters := &Reporters{Brokers: broker.Addrs(), City: cfg.City, Speed: cfg.Speed, Seed: cfg.Seed, Logger: log}
	g.Go(func() error { return reporters.Run(gctx) })
	if cfg.RatePerMin > 0 {
		g.Go(func() error { return stream(gctx, broker.Addrs(), cfg) })
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
	if err := g.Wait(); err != nil {
		return Summary{}, err
	}
	// The service has stopped; the record is final. Read the summary before the throwaway
	// database goes.
	st, err := sql.Open(context.WithoutCancel(ctx), dsn)
	if err != nil {
		return Summary{}, err
	}
	defer st.Close()
	sum, err := FromRecord(context.WithoutCancel(ctx), st, time.Since(started))
	if err != nil {
		return Summary{}, err
	}
	status := svc.Status()
	sum.Rejected = status.Rejected
	if status.LatencyP50 > 0 {
		sum.LatencyMsP50 = F(float64(status.LatencyP50) / float64(time.Millisecond))
		sum.LatencyMsP99 = F(float64(status.LatencyP99) / float64(time.Millisecond))
	}
	if cfg.Status != nil {
		fmt.Fprintf(cfg.Status, "final  %s\n", status)
	}
	return sum, nil
}

// stream writes synthetic calls to ems.calls at the configured rate until ctx ends.
func stream(ctx context.Context, brokers []string, cfg DemoConfig) error {
	w := streams.NewWriter(brokers, contract.TopicCalls)
	defer w.Close()
	gen := NewGenerator(cfg.City, DefaultMix, cfg.Seed, "C-"+time.Now().UTC().Format("20060102-150405"))
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(gen.Gap(cfg.RatePerMin)):
		}
		c := gen.Call(time.Now())
		b, _ := json.Marshal(c)
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(c.CallID), Value: b}); err != nil && ctx.Err() == nil {
			return fmt.Errorf("synthetic calls: %w", err)
		}
	}
}
