package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ems120/ems120/chaos"
	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/coverage"
	"github.com/ems120/ems120/demo"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/loadtest"
	"github.com/ems120/ems120/replay"
	"github.com/ems120/ems120/report"
	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/simulator"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/stack"
)

func demoCmd(f *flags) func(context.Context) error {
	f.withCity().withLog()
	cfg := demo.Config{Status: f.stderr}
	f.StringVar(&cfg.KafkaListen, "kafka-listen", "127.0.0.1:9092", "address of the embedded Kafka-protocol broker")
	f.db(&cfg.DSN, false, "PostgreSQL DSN; empty starts a throwaway server from the system's binaries")
	f.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:8080", "HTTP API address")
	f.Float64Var(&cfg.RatePerMin, "rate", 1, "synthetic calls per minute (0: only what arrives on the topics)")
	f.Float64Var(&cfg.Speed, "speed", 1, "the simulated crews' clock against real time (10 = ten times faster)")
	f.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: run until Ctrl-C)")
	f.DurationVar(&cfg.StatusEvery, "status", 5*time.Second, "status line period")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the synthetic calls and the simulated crews")
	summary := f.String("summary", "", "write the summary JSON to this file at exit")
	f.StringVar(&cfg.Credentials, "credentials", "", "write the demo's accounts (one per role) to this JSON file; default: a file in the demo's temporary directory")
	f.DurationVar(&cfg.Dispatch.SessionTTL, "session-ttl", 12*time.Hour, "how long a console sign-in lasts")
	f.rules(&cfg.Dispatch)
	return func(ctx context.Context) error {
		cfg.City, cfg.Logger = f.City, f.Log
		sum, err := demo.Run(ctx, cfg)
		if err != nil || *summary == "" {
			return err
		}
		return writeFile(*summary, sum.Write)
	}
}

func serveCmd(f *flags) func(context.Context) error {
	f.withCity().withLog()
	var st stack.Config
	var cfg service.Config
	f.kafka(&st.Brokers, "Kafka brokers, host:port,... (env EMS_KAFKA)")
	f.db(&st.DSN, true, "PostgreSQL DSN (env DATABASE_URL)")
	f.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:8080", "HTTP API address")
	f.StringVar(&cfg.GroupID, "group", "ems120", "the service's name: one active process per name holds its lease and its consumer offsets")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 1500*time.Millisecond, "how long the active process's lease lasts unrenewed; a standby takes over after it")
	f.DurationVar(&cfg.SessionTTL, "session-ttl", 12*time.Hour, "how long a console sign-in lasts")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate: serve HTTPS only (with -tls-key)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of -tls-cert")
	f.rules(&cfg)
	return func(ctx context.Context) error {
		if len(st.Brokers) == 0 || st.DSN == "" {
			return errors.New("serve needs -kafka (or EMS_KAFKA) and -db (or DATABASE_URL)")
		}
		st.Logger, cfg.City, cfg.Logger = f.Log, f.City, f.Log
		return stack.Run(ctx, st, cfg)
	}
}

func brokerCmd(f *flags) func(context.Context) error {
	f.withLog()
	listen := f.String("listen", "127.0.0.1:9092", "address to listen on")
	dir := f.String("dir", "", "directory of the broker's log (created if missing; kept at exit)")
	return func(ctx context.Context) error {
		if *dir == "" {
			return errors.New("broker needs -dir: where its log lives")
		}
		return stack.RunBroker(ctx, *listen, *dir, f.Log)
	}
}

func migrateCmd(f *flags) func(context.Context) error {
	var dsn string
	f.db(&dsn, true, "PostgreSQL DSN (env DATABASE_URL)")
	return func(ctx context.Context) error {
		if dsn == "" {
			return errors.New("migrate needs -db (or DATABASE_URL)")
		}
		applied, err := sql.Migrate(ctx, dsn)
		if err == nil {
			fmt.Fprintf(f.stdout, "applied %d migration(s): %v\n", len(applied), applied)
		}
		return err
	}
}

func simulateCmd(f *flags) func(context.Context) error {
	f.withCity().withOutput()
	cfg := simulator.Config{Progress: f.stderr}
	f.StringVar(&cfg.Scenario, "scenario", simulator.ScenarioNormal, strings.Join(simulator.Scenarios, ", "))
	f.Float64Var(&cfg.Hours, "hours", 24, "simulated hours (after a 24-hour warm-up)")
	f.Float64Var(&cfg.CallsPerDay, "calls-per-day", simulator.DefaultCallsPerDay, "calls a day, before the daily profile")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed: the same seed gives the same result")
	dpolicy := f.String("dispatch-policy", "standard", "standard, or preempt (a priority-1 call may take a unit from a priority 3–4 call)")
	f.DurationVar(&cfg.Decontamination, "decon", dispatch.DefaultDecontamination, "how long a unit that carried a fever or infectious patient is decontaminated (negative: not at all)")
	f.hospitalRules(&cfg.Hospitals)
	f.surveillanceRules(&cfg.Surveillance)
	f.surgeRules(&cfg.SurgeRules)
	f.StringVar(&cfg.Surge, "surge", simulator.SurgeOff, "surge mode: off, on (a supervisor switches it on as the measured hours begin) or auto (at the thresholds)")
	f.Float64Var(&cfg.Epidemic.Factor, "epidemic-rate", simulator.DefaultEpidemicFactor, "epidemic: total calls, times the normal rate")
	f.Float64Var(&cfg.Epidemic.Days, "epidemic-days", simulator.DefaultEpidemicDays, "epidemic: days it lasts from the start of the measured hours")
	f.Float64Var(&cfg.Epidemic.FeverShare, "epidemic-fever", simulator.DefaultEpidemicFever, "epidemic: share of the calls that are fever")
	outbreakCells := f.outbreak(&cfg.Outbreak)
	return func(context.Context) error {
		if *dpolicy != "standard" && *dpolicy != "preempt" {
			return fmt.Errorf("-dispatch-policy %q: want standard or preempt", *dpolicy)
		}
		if err := outbreakCells(); err != nil {
			return err
		}
		cfg.City, cfg.Preempt = f.City, *dpolicy == "preempt"
		r, err := simulator.Run(cfg)
		if err != nil {
			return err
		}
		run := f.heading("ems120 simulate: %s, scenario %s, %g hours, seed %d, hospital policy %s, dispatch %s",
			cfg.City.Name, cfg.Scenario, cfg.Hours, cfg.Seed, cfg.Hospitals.Policy, *dpolicy)
		return f.finish(r.Summary, func(dir string) error { return report.WriteSim(dir, run, r) })
	}
}

func coverageCmd(f *flags) func(context.Context) error {
	f.withCity()
	at := f.String("at", "12:00", "local time of day (the travel speeds depend on it), HH:MM")
	asJSON := f.Bool("json", false, "print the summary as one JSON object")
	var files report.CoverageFiles
	f.StringVar(&files.GeoJSON, "geojson", "", "write the cells (GeoJSON FeatureCollection) to this file")
	f.StringVar(&files.PNG, "png", "", "draw the map to this PNG file")
	f.IntVar(&files.WidthPx, "width", 1400, "width of the PNG, pixels")
	return func(context.Context) error {
		when, err := coverage.AtTimeOfDay(f.City, *at)
		if err != nil {
			return fmt.Errorf("-at %q: want HH:MM", *at)
		}
		tr := coverage.AtStations(f.City, city.DefaultTravelModel(f.City.Location()), when)
		if err := files.Write(f.City, tr, *at); err != nil {
			return err
		}
		return report.WriteCoverage(f.stdout, f.City, tr, *at, *asJSON)
	}
}

func loadtestCmd(f *flags) func(context.Context) error {
	f.withOutput()
	cfg := loadtest.Config{Progress: f.stderr}
	f.StringVar(&cfg.Mode, "mode", loadtest.ModeCalls, "calls, pings, or console (calls and pings with operators' clients on the live feed)")
	f.IntVar(&cfg.Clients, "clients", 120, "console mode: clients on GET /v1/stream")
	f.Float64Var(&cfg.PingRate, "ping-rate", 500, "console mode: pings per second to 258 moving units, beside the calls")
	f.Float64Var(&cfg.Rate, "rate", 0, "messages per second (0: as fast as they go)")
	f.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long to produce")
	f.kafka(&cfg.Brokers, "Kafka brokers (empty: the embedded broker)")
	f.db(&cfg.DSN, true, "PostgreSQL DSN (empty: a throwaway server)")
	f.IntVar(&cfg.Units, "units", 0, "fleet size (default: pings 10,000; calls one per expected call, or 2,000 with -recycle)")
	f.BoolVar(&cfg.Recycle, "recycle", false, "calls mode: crews free their unit as soon as they read the assignment (two pings per call)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed")
	return func(ctx context.Context) error {
		res, err := loadtest.Run(ctx, cfg)
		if err != nil {
			return err
		}
		run := f.heading("ems120 loadtest -mode %s at %s for %s", cfg.Mode, loadtest.RateString(cfg.Rate), cfg.Duration)
		if err := f.writeReport(func(dir string) error { return report.WriteLoad(dir, run, res) }); err != nil {
			return err
		}
		if *f.asJSON { // the summary and what the mode measured beyond it
			return loadtest.WriteJSON(f.stdout, cfg.Mode, res)
		}
		if err := res.Summary.WriteText(f.stdout); err != nil {
			return err
		}
		return loadtest.WriteConsoleText(f.stdout, res.Console)
	}
}

func replayCmd(f *flags) func(context.Context) error {
	f.withCity().withOutput()
	file := f.String("file", "", "CSV of calls with a header row (e.g. ../shared/data/montco/calls.csv)")
	src := sourceFlags(f)
	into := f.String("into", replay.IntoLive, "live (onto ems.calls, end to end over Kafka and PostgreSQL) or simulate (virtual time)")
	live, sim := loadtest.ReplayConfig{Progress: f.stderr}, simulator.Config{Progress: f.stderr}
	f.Float64Var(&live.Speed, "speed", 60, "the file's clock against ours: 60 replays an hour of calls in a minute")
	f.kafka(&live.Brokers, "live: Kafka brokers (empty: the embedded broker)")
	f.db(&live.DSN, true, "live: PostgreSQL DSN (empty: a throwaway server)")
	f.Uint64Var(&sim.Seed, "seed", 1, "simulate: seed of the crews' times and the warm-up")
	f.hospitalRules(&sim.Hospitals)
	return func(ctx context.Context) error {
		switch {
		case *file == "":
			return errors.New("replay needs -file")
		case *into != replay.IntoLive && *into != replay.IntoSimulate:
			return fmt.Errorf("-into %q: want live or simulate", *into)
		}
		rp, err := replay.ReadFile(*file, *src, f.City)
		if err != nil {
			return err
		}
		if rp.WriteRejections(f.stderr, *file, src.OnlyPrefix); len(rp.Calls) == 0 {
			return errors.New("replay: no usable rows")
		}
		run := f.heading("ems120 replay of %s into %s at %g×: %d calls (%d rows rejected)",
			filepath.Base(*file), *into, live.Speed, len(rp.Calls), rp.RejectedTotal())
		live.City, sim.City = f.City, f.City
		if *into == replay.IntoSimulate {
			r, err := replay.Simulate(rp, live.Speed, sim)
			if err != nil {
				return err
			}
			return f.finish(r.Summary, func(dir string) error { return report.WriteSim(dir, run, r) })
		}
		r, err := loadtest.Replay(ctx, live, rp)
		if err != nil {
			return err
		}
		return f.finish(r.Summary, func(dir string) error { return report.WriteLoad(dir, run, r) })
	}
}

// sourceFlags say how replay reads its CSV.
func sourceFlags(f *flags) *replay.Source {
	def, src := replay.DefaultSource, &replay.Source{}
	f.StringVar(&src.LatCol, "lat-col", def.LatCol, "latitude column")
	f.StringVar(&src.LngCol, "lng-col", def.LngCol, "longitude column")
	f.StringVar(&src.TimeCol, "time-col", def.TimeCol, "time column")
	f.StringVar(&src.TimeFormat, "time-format", def.TimeFormat, "Go time layout of the time column")
	f.StringVar(&src.TitleCol, "title-col", def.TitleCol, "call type column, if the file has one: selects rows (-only) and sets priority and category")
	f.StringVar(&src.OnlyPrefix, "only", def.OnlyPrefix, "use only rows whose call type starts with this (empty: all)")
	f.BoolVar(&src.Relocate, "relocate", false, "move the calls onto the city (median call onto the median station), keeping distances")
	f.Float64Var(&src.SourceRadiusKm, "source-radius-km", def.SourceRadiusKm, "with -relocate: reject rows farther than this from the file's median call")
	f.IntVar(&src.Limit, "limit", 0, "use at most this many of the rows -only selects (0: all)")
	return src
}

func checkCmd(f *flags) func(context.Context) error {
	var dsn string
	f.db(&dsn, true, "PostgreSQL DSN (env DATABASE_URL)")
	asJSON := f.Bool("json", false, "print the findings as JSON")
	return func(ctx context.Context) error {
		if dsn == "" {
			return errors.New("check needs -db (or DATABASE_URL)")
		}
		st, err := sql.Open(ctx, dsn)
		if err != nil {
			return err
		}
		defer st.Close()
		findings, err := st.Check(ctx)
		if err != nil {
			return err
		}
		if err := printFindings(f.stdout, findings, *asJSON); err != nil {
			return err
		}
		if len(findings) > 0 {
			return errCheckFailed
		}
		return nil
	}
}

func chaosCmd(f *flags) func(context.Context) error {
	f.withCity().withLog()
	var cfg chaos.Config
	f.IntVar(&cfg.Standby, "standby", 1, "serve processes beside the active one")
	f.Float64Var(&cfg.Rate, "rate", 100, "calls per second")
	f.IntVar(&cfg.Kills, "kills", 10, "kill -9 of the active serve (started again as a standby)")
	f.IntVar(&cfg.DBOutages, "db-outages", 1, "PostgreSQL stopped in immediate mode for -outage, then started")
	f.IntVar(&cfg.Pauses, "pauses", 1, "SIGSTOP of the active serve past its lease, then SIGCONT")
	f.DurationVar(&cfg.Outage, "outage", 3*time.Second, "how long PostgreSQL stays down")
	f.DurationVar(&cfg.Gap, "gap", time.Second, "calm between two faults")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 1500*time.Millisecond, "the serve processes' lease")
	f.Float64Var(&cfg.CrewSpeed, "crew-speed", 60, "the simulated crews' clock against real time")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the calls, the crews and the order of the faults")
	f.StringVar(&cfg.Dir, "dir", "", "where the processes' logs go (default: a new temporary directory)")
	asJSON := f.Bool("json", false, "print the summary as one JSON object")
	return func(ctx context.Context) error {
		cfg.City, cfg.Logger, cfg.Progress = f.City, f.Log, f.stderr
		sum, err := chaos.Run(ctx, cfg)
		if err != nil {
			return err
		}
		if err := printChaos(f.stdout, sum, *asJSON); err != nil {
			return err
		}
		if sum.Failed() {
			return fmt.Errorf("%w: something was lost or doubled", errCheckFailed)
		}
		return nil
	}
}
