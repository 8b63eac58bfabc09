// Package loadtest drives a running ems120 (started by package stack) and measures it: calls
// or pings at a chosen rate over Kafka, each call's latency from its write on ems.calls until
// its assignment is readable on ems.assignments, throughput, and nothing lost or doubled,
// beside the same broker and client moving the same messages with no processing. The live
// replay of a real call stream runs through the same measurement.
package loadtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch/fleetindex"
	"github.com/ems120/ems120/results"
	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/simulator"
	"github.com/ems120/ems120/stack"
)

// Load modes.
const (
	ModeCalls   = "calls"
	ModePings   = "pings"
	ModeConsole = "console" // operators' clients on the live feed while calls and pings flow
)

// Config configures `ems120 loadtest`.
type Config struct {
	Mode     string        // calls or pings
	Rate     float64       // messages per second; 0 = as fast as they go
	Duration time.Duration // how long to produce
	Brokers  []string      // external Kafka; nil = the embedded broker
	DSN      string        // external PostgreSQL; "" = a throwaway one
	City     *city.City    // default Wuhan, its fleet replaced by Units synthetic units
	Units    int           // fleet size; see Run for the defaults
	// Recycle has crews report on scene and available as soon as they read their
	// assignment, so units come free again (two pings per call, three times the writes).
	// Without it the fleet is sized to the calls and each unit serves one call.
	Recycle bool
	// Console mode: Clients on the live feed, and pings at PingRate to 258 moving units
	// beside the calls (which use Rate, and a recycled fleet of Units).
	Clients  int
	PingRate float64
	Seed     uint64
	Progress io.Writer // progress lines (stderr); nil for none
	Logger   *slog.Logger
}

// live is a running ems120 with its broker and database, for load and replay.
type live struct {
	brokers []string
	svc     *stack.Running
	stop    func() error
}

// startLive starts ems120 on the broker and database given (embedded ones when empty) and
// returns once it consumes and has stored its first coverage snapshot: that snapshot comes a
// second after the start (13,534 rows for Wuhan) and the next one CoverageSnapshotEvery (10
// minutes) later, so a measurement started before it would have that start-up burst in its
// first second, where a steady day meets it once in ten minutes.
func startLive(ctx context.Context, brokers []string, dsn string, c *city.City, cfg service.Config, log *slog.Logger,
	progress func(string, ...any)) (*live, error) {
	st, err := stack.Start(ctx, stack.Config{Brokers: brokers, DSN: dsn, Logger: log})
	if err != nil {
		return nil, err
	}
	cfg.City, cfg.Logger = c, log
	svc, err := st.Serve(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	waitFirstSnapshot(svc.Service, 30*time.Second, progress)
	return &live{brokers: st.Brokers, svc: svc, stop: func() error {
		err := svc.Stop()
		st.Close()
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
	gen := simulator.NewGenerator(base, simulator.DefaultMix, seed, "U")
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

// Run runs a load test end to end over Kafka and PostgreSQL. Before the calls or pings it
// measures raw_kafka_per_s: the same broker and client moving the same number of the same
// messages, written and read back by a consumer group, with no processing.
//
// The fleet: pings mode, 10,000 units; calls mode with Recycle, 2,000 units that the crews
// free again; calls mode without, one unit per call expected (rate × duration, plus a tenth;
// 150,000 at full speed), each serving one call.
func Run(ctx context.Context, cfg Config) (results.Load, error) {
	if cfg.Mode != ModeCalls && cfg.Mode != ModePings && cfg.Mode != ModeConsole {
		return results.Load{}, fmt.Errorf("unknown mode %q (want calls, pings or console)", cfg.Mode)
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
		case cfg.Recycle, cfg.Mode == ModeConsole:
			cfg.Units = 2000
		case cfg.Rate > 0: // one unit per call, and a tenth more
			cfg.Units = max(2000, int(1.1*cfg.Rate*cfg.Duration.Seconds()))
		default:
			cfg.Units = 150_000
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	progress := progressTo(cfg.Progress, "loadtest")
	c := loadCity(cfg.City, cfg.Units, cfg.Seed)
	scfg := service.Config{AckTimeout: -1, MaxBatch: 2000}
	var pingers []unitPos
	if cfg.Mode == ModeConsole {
		scfg.HTTPAddr = "127.0.0.1:0"
		pingers = addPingers(c, 258)
	}
	progress("starting ems120 with %d units", len(c.Fleet))
	lv, err := startLive(ctx, cfg.Brokers, cfg.DSN, c, scfg, cfg.Logger, progress)
	if err != nil {
		return results.Load{}, err
	}
	var res results.Load
	var runErr error
	if cfg.Mode == ModeConsole {
		res, runErr = loadConsole(ctx, cfg, lv, c, pingers, progress)
	} else if cfg.Mode == ModeCalls {
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

// RateString is a rate for people: "500/s", or "full speed" for 0.
func RateString(r float64) string {
	if r <= 0 {
		return "full speed"
	}
	return fmt.Sprintf("%.0f/s", r)
}

// addPingers adds n units to the city's fleet for the console mode's pings, one at each
// station in turn (Wuhan's fleet is 258), and returns them.
func addPingers(c *city.City, n int) []unitPos {
	out := make([]unitPos, n)
	for i := range out {
		st := c.Stations[i%len(c.Stations)]
		out[i] = unitPos{id: fmt.Sprintf("P-%03d", i), p: st.Point}
		c.Fleet = append(c.Fleet, city.Unit{ID: out[i].id, Kind: contract.KindBLS, Station: st.ID})
	}
	return out
}
