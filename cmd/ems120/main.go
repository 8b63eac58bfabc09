// Command ems120 is the 120 dispatch centre: `ems120 demo` runs everything embedded with the
// built-in Wuhan city; `ems120 serve` runs the daemon against a Kafka cluster and PostgreSQL;
// `ems120 migrate` applies the schema. See README.md and docs/CONTRACT.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/coverage"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/hospitals"
	"github.com/ems120/ems120/loadtest"
	"github.com/ems120/ems120/report"
	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/sql"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A dispatch server has memory to spare and latency to keep: collect garbage a quarter as
	// often as Go's default, unless GOGC says otherwise.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// EMS_CPUPROFILE=FILE writes a CPU profile of the whole run (go tool pprof).
	if path := os.Getenv("EMS_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	// EMS_MEMPROFILE=FILE writes a heap profile when the command returns.
	if path := os.Getenv("EMS_MEMPROFILE"); path != "" {
		defer func() {
			if f, err := os.Create(path); err == nil {
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}()
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ems120:", err)
		}
		os.Exit(2)
	}
}

const usage = `ems120 — 120 emergency dispatch for a megacity

Usage: ems120 <command> [flags]

Commands:
  demo      everything embedded: Kafka-protocol broker, throwaway PostgreSQL, the Wuhan city,
            a simulated fleet and call stream, the HTTP API and a status line
  serve     the daemon, against a Kafka cluster (-kafka) and PostgreSQL (-db)
  simulate  a discrete-event simulation in virtual time (no broker, no database)
  coverage  the 5 km / 15-minute coverage of the city with its fleet at the stations
  loadtest  end to end over Kafka and PostgreSQL: -mode calls or -mode pings
  replay    real calls from a CSV, onto the calls topic (-into live) or into the simulator
  migrate   apply the SQL migrations to -db

Run 'ems120 <command> -h' for a command's flags.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return errors.New("no command")
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "serve":
		return runServe(ctx, rest, getenv, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "simulate":
		return runSimulate(rest, stdout, stderr)
	case "coverage":
		return runCoverage(rest, stdout, stderr)
	case "loadtest":
		return runLoadtest(ctx, rest, getenv, stdout, stderr)
	case "replay":
		return runReplay(ctx, rest, getenv, stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// ruleFlags are the dispatch and destination rules that demo and serve take.
func ruleFlags(fs *flag.FlagSet) func() service.Config {
	ack := fs.Duration("ack-timeout", dispatch.DefaultAckTimeout, "time a dispatched unit has to acknowledge before the call goes to the next unit (negative: never)")
	maxR := fs.Float64("max-radius-km", dispatch.DefaultMaxRadiusM/1000, "widest search for a unit before a call waits in the queue, km")
	preempt := fs.Bool("preempt", false, "let a priority-1 call take a unit on its way to a priority 3–4 call")
	saving := fs.Duration("preempt-saving", dispatch.DefaultPreemptSaving, "how much sooner the pre-empted unit must arrive")
	covTarget := fs.Float64("coverage-target", 75, "below this demand-weighted coverage (percent), publish move-up advice")
	covEvery := fs.Duration("coverage-snapshot", 10*time.Minute, "how often the coverage map is stored in PostgreSQL")
	hosp := hospitalFlags(fs)
	return func() service.Config {
		return service.Config{AckTimeout: *ack, MaxRadiusM: *maxR * 1000, Preempt: *preempt, PreemptSaving: *saving, Hospitals: hosp(),
			CoverageTargetPct: *covTarget, CoverageSnapshotEvery: *covEvery}
	}
}

// hospitalFlags are the destination rules: demo, serve and simulate take them.
func hospitalFlags(fs *flag.FlagSet) func() hospitals.Config {
	policy := fs.String("hospital-policy", string(hospitals.PolicyBalanced), "destination policy: balanced or nearest")
	stale := fs.Duration("stale-after", 2*time.Hour, "a capacity report older than this is stale")
	maxT := fs.Duration("max-transport", 45*time.Minute, "longest acceptable transport to a hospital with a free bed")
	slack := fs.Duration("slack", 15*time.Minute, "extra transport accepted to spread load (beds held for hours or days)")
	edSlack := fs.Duration("emergency-slack", 3*time.Minute, "extra transport accepted to spread load (emergency-department patients)")
	return func() hospitals.Config {
		return hospitals.Config{Policy: hospitals.Policy(*policy), StaleAfter: *stale, MaxTransport: *maxT, Slack: *slack, EmergencySlack: *edSlack}
	}
}

func loadCity(path string) (*city.City, error) {
	if path == "" {
		return city.Wuhan(), nil
	}
	return city.Load(path)
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("kafka-listen", "127.0.0.1:9092", "address of the embedded Kafka-protocol broker")
	dsn := fs.String("db", "", "PostgreSQL DSN; empty starts a throwaway server from the system's binaries")
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP API address")
	rate := fs.Float64("rate", 1, "synthetic calls per minute (0: only what arrives on the topics)")
	speed := fs.Float64("speed", 1, "the simulated crews' clock against real time (10 = ten times faster)")
	duration := fs.Duration("duration", 0, "stop after this long (0: run until Ctrl-C)")
	summary := fs.String("summary", "", "write the summary JSON to this file at exit")
	cityFile := fs.String("city", "", "city file (JSON); empty: the built-in Wuhan")
	seed := fs.Uint64("seed", 1, "seed of the synthetic calls and the simulated crews")
	status := fs.Duration("status", 5*time.Second, "status line period")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	rules := ruleFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	c, err := loadCity(*cityFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "ems120 demo: %s, %d stations, %d hospitals, %d units; %.1f calls/min; API http://%s (Ctrl-C to stop)\n",
		c.Name, len(c.Stations), len(c.Hospitals), len(c.Fleet), *rate, *httpAddr)
	sum, err := loadtest.Demo(ctx, loadtest.DemoConfig{
		KafkaListen: *listen, DSN: *dsn, HTTPAddr: *httpAddr, City: c, RatePerMin: *rate, Speed: *speed,
		Duration: *duration, Seed: *seed, StatusEvery: *status, Status: stderr, Logger: log, Dispatch: rules(),
	})
	if err != nil {
		return err
	}
	if *summary != "" {
		f, err := os.Create(*summary)
		if err != nil {
			return err
		}
		defer f.Close()
		return sum.Write(f)
	}
	return nil
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kafkaAddrs := fs.String("kafka", getenv("EMS_KAFKA"), "Kafka brokers, host:port,... (env EMS_KAFKA)")
	dsn := fs.String("db", getenv("DATABASE_URL"), "PostgreSQL DSN (env DATABASE_URL)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP API address")
	cityFile := fs.String("city", "", "city file (JSON); empty: the built-in Wuhan")
	group := fs.String("group", "ems120", "Kafka consumer group")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	rules := ruleFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kafkaAddrs == "" || *dsn == "" {
		return errors.New("serve needs -kafka (or EMS_KAFKA) and -db (or DATABASE_URL)")
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	c, err := loadCity(*cityFile)
	if err != nil {
		return err
	}
	cfg := rules()
	cfg.Brokers, cfg.DSN, cfg.HTTPAddr, cfg.City, cfg.GroupID, cfg.Logger = strings.Split(*kafkaAddrs, ","), *dsn, *httpAddr, c, *group, log
	svc, err := service.New(ctx, cfg)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", getenv("DATABASE_URL"), "PostgreSQL DSN (env DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dsn == "" {
		return errors.New("migrate needs -db (or DATABASE_URL)")
	}
	applied, err := sql.Migrate(ctx, *dsn)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migration(s): %v\n", len(applied), applied)
	return nil
}

func runSimulate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cityFile := fs.String("city", "", "city file (JSON); empty: the built-in Wuhan")
	scenario := fs.String("scenario", loadtest.ScenarioNormal, "normal or fever-surge")
	hours := fs.Float64("hours", 24, "simulated hours (after a 24-hour warm-up)")
	seed := fs.Uint64("seed", 1, "seed: the same seed gives the same result")
	perDay := fs.Float64("calls-per-day", loadtest.DefaultCallsPerDay, "calls a day, before the daily profile")
	dpolicy := fs.String("dispatch-policy", "standard", "standard, or preempt (a priority-1 call may take a unit from a priority 3–4 call)")
	jsonOut := fs.Bool("json", false, "print the summary as one JSON object")
	reportDir := fs.String("report", "", "write a Markdown report with PNG plots to this directory")
	hosp := hospitalFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dpolicy != "standard" && *dpolicy != "preempt" {
		return fmt.Errorf("-dispatch-policy %q: want standard or preempt", *dpolicy)
	}
	c, err := loadCity(*cityFile)
	if err != nil {
		return err
	}
	hc := hosp()
	r, err := loadtest.Simulate(loadtest.SimConfig{City: c, Scenario: *scenario, Hours: *hours, Seed: *seed, CallsPerDay: *perDay,
		HospitalPolicy: hc.Policy, Hospitals: hc, Preempt: *dpolicy == "preempt", Progress: stderr})
	if err != nil {
		return err
	}
	run := report.Run{Title: fmt.Sprintf("ems120 simulate: %s, scenario %s, %g hours, seed %d, hospital policy %s, dispatch %s",
		c.Name, *scenario, *hours, *seed, hc.Policy, *dpolicy), Command: commandLine("simulate", args)}
	if err := writeReport(*reportDir, stderr, "simulate", func(dir string) error { return report.WriteSim(dir, run, r) }); err != nil {
		return err
	}
	if *jsonOut {
		return r.Summary.Write(stdout)
	}
	return r.Summary.WriteText(stdout)
}

func runCoverage(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("coverage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cityFile := fs.String("city", "", "city file (JSON); empty: the built-in Wuhan")
	at := fs.String("at", "12:00", "local time of day (the travel speeds depend on it), HH:MM")
	jsonOut := fs.Bool("json", false, "print the summary as one JSON object")
	geoFile := fs.String("geojson", "", "write the cells (GeoJSON FeatureCollection) to this file")
	pngFile := fs.String("png", "", "draw the map to this PNG file")
	width := fs.Int("width", 1400, "width of the PNG, pixels")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := loadCity(*cityFile)
	if err != nil {
		return err
	}
	hm, err := time.Parse("15:04", *at)
	if err != nil {
		return fmt.Errorf("-at %q: want HH:MM", *at)
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	when := time.Date(2026, 11, 28, hm.Hour(), hm.Minute(), 0, 0, loc)
	cells := coverage.ServiceArea(c, coverage.Resolution)
	tr := coverage.NewTracker(cells, city.DefaultTravelModel(loc), when)
	for _, u := range c.Fleet {
		st, _ := c.Station(u.Station)
		tr.Set(u.ID, st.Point)
	}
	one, two := tr.Summary()
	if *geoFile != "" {
		b, err := json.Marshal(tr.GeoJSON(nil))
		if err != nil {
			return err
		}
		if err := os.WriteFile(*geoFile, b, 0o644); err != nil {
			return err
		}
	}
	if *pngFile != "" {
		f, err := os.Create(*pngFile)
		if err != nil {
			return err
		}
		title := fmt.Sprintf("%s at %s: %.1f%% of demand within 5 km / 15 min of an available unit (%.1f%% of two); %d units at %d stations",
			c.Name, *at, one, two, len(c.Fleet), len(c.Stations))
		err = report.CoverageMap(f, c, cells, tr.Reach, title, *width)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	out := struct {
		loadtest.Summary
		UnitsAvailable int                        `json:"units_available"`
		Cells          int                        `json:"cells"`
		At             string                     `json:"at"`
		ByDistrict     []coverage.DistrictSummary `json:"by_district"`
	}{UnitsAvailable: tr.Units(), Cells: len(cells), At: *at, ByDistrict: tr.ByDistrict()}
	out.CoveragePct, out.DoubleCoveragePct = loadtest.F(one), loadtest.F(two)
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "%s at %s: coverage %.1f%%, double coverage %.1f%% (%d units, %d cells)\n", c.Name, *at, one, two, tr.Units(), len(cells))
	for _, d := range out.ByDistrict {
		name := d.Code
		for _, cd := range c.Districts {
			if cd.Code == d.Code {
				name = cd.Name
			}
		}
		fmt.Fprintf(stdout, "  %-8s %-6s coverage %5.1f%%  double %5.1f%%\n", d.Code, name, d.CoveragePct, d.DoubleCoveragePct)
	}
	return nil
}

func runLoadtest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", loadtest.ModeCalls, "calls or pings")
	rate := fs.Float64("rate", 0, "messages per second (0: as fast as they go)")
	duration := fs.Duration("duration", 20*time.Second, "how long to produce")
	kafkaAddrs := fs.String("kafka", getenv("EMS_KAFKA"), "Kafka brokers (empty: the embedded broker)")
	dsn := fs.String("db", getenv("DATABASE_URL"), "PostgreSQL DSN (empty: a throwaway server)")
	units := fs.Int("units", 0, "fleet size (default: pings 10,000; calls one per expected call, or 2,000 with -recycle)")
	recycle := fs.Bool("recycle", false, "calls mode: crews free their unit as soon as they read the assignment (two pings per call)")
	seed := fs.Uint64("seed", 1, "seed")
	jsonOut := fs.Bool("json", false, "print the summary as one JSON object")
	reportDir := fs.String("report", "", "write a Markdown report with PNG plots to this directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var brokers []string
	if *kafkaAddrs != "" {
		brokers = strings.Split(*kafkaAddrs, ",")
	}
	res, err := loadtest.Load(ctx, loadtest.LoadConfig{Mode: *mode, Rate: *rate, Duration: *duration, Brokers: brokers, DSN: *dsn,
		Units: *units, Recycle: *recycle, Seed: *seed, Progress: stderr})
	if err != nil {
		return err
	}
	run := report.Run{Title: fmt.Sprintf("ems120 loadtest -mode %s at %s for %s", *mode, loadtest.RateString(*rate), *duration),
		Command: commandLine("loadtest", args)}
	if err := writeReport(*reportDir, stderr, "loadtest", func(dir string) error { return report.WriteLoad(dir, run, res) }); err != nil {
		return err
	}
	out := struct {
		loadtest.Summary
		Mode         string   `json:"mode"`
		Produced     int      `json:"produced"`
		LatencyMsMax *float64 `json:"latency_ms_max"`
		PingsApplied *int     `json:"pings_applied"`
		RawMessages  int      `json:"raw_messages"`
		RatioToRaw   *float64 `json:"ratio_to_raw"`
	}{Summary: res.Summary, Mode: *mode, Produced: res.Produced, RawMessages: res.RawMessages}
	if *mode == loadtest.ModeCalls && len(res.LatencyMs) > 0 {
		out.LatencyMsMax = loadtest.F(res.LatencyMax)
	}
	if *mode == loadtest.ModePings {
		out.PingsApplied = &res.PingsApplied
		if res.Summary.ThroughputPerS != nil && res.Summary.RawKafkaPerS != nil {
			r := math.Round(*res.Summary.ThroughputPerS / *res.Summary.RawKafkaPerS * 1000) / 1000
			out.RatioToRaw = &r
		}
	}
	enc := json.NewEncoder(stdout)
	if !*jsonOut {
		return res.Summary.WriteText(stdout)
	}
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// commandLine is the command that reproduces a run, for its report.
func commandLine(cmd string, args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.TrimSpace("ems120 " + cmd + " " + strings.Join(q, " "))
}

// writeReport has write put a report in dir, when dir is set, and says where it is.
func writeReport(dir string, stderr io.Writer, cmd string, write func(dir string) error) error {
	if dir == "" {
		return nil
	}
	if err := write(dir); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s: report in %s\n", cmd, filepath.Join(dir, "report.md"))
	return nil
}

func runReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := loadtest.DefaultReplaySource
	file := fs.String("file", "", "CSV of calls with a header row (e.g. ../shared/data/montco/calls.csv)")
	latCol := fs.String("lat-col", def.LatCol, "latitude column")
	lngCol := fs.String("lng-col", def.LngCol, "longitude column")
	timeCol := fs.String("time-col", def.TimeCol, "time column")
	timeFormat := fs.String("time-format", def.TimeFormat, "Go time layout of the time column")
	titleCol := fs.String("title-col", def.TitleCol, "call type column, if the file has one: selects rows (-only) and sets priority and category")
	only := fs.String("only", def.OnlyPrefix, "use only rows whose call type starts with this (empty: all)")
	relocate := fs.Bool("relocate", false, "move the calls onto the city (median call onto the median station), keeping distances")
	srcRadius := fs.Float64("source-radius-km", def.SourceRadiusKm, "with -relocate: reject rows farther than this from the file's median call")
	limit := fs.Int("limit", 0, "use at most this many of the rows -only selects (0: all)")
	speed := fs.Float64("speed", 60, "the file's clock against ours: 60 replays an hour of calls in a minute")
	into := fs.String("into", loadtest.IntoLive, "live (onto ems.calls, end to end over Kafka and PostgreSQL) or simulate (virtual time)")
	kafkaAddrs := fs.String("kafka", getenv("EMS_KAFKA"), "live: Kafka brokers (empty: the embedded broker)")
	dsn := fs.String("db", getenv("DATABASE_URL"), "live: PostgreSQL DSN (empty: a throwaway server)")
	cityFile := fs.String("city", "", "city file (JSON); empty: the built-in Wuhan")
	seed := fs.Uint64("seed", 1, "simulate: seed of the crews' times and the warm-up")
	jsonOut := fs.Bool("json", false, "print the summary as one JSON object")
	reportDir := fs.String("report", "", "write a Markdown report with PNG plots to this directory")
	hosp := hospitalFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("replay needs -file")
	}
	if *into != loadtest.IntoLive && *into != loadtest.IntoSimulate {
		return fmt.Errorf("-into %q: want live or simulate", *into)
	}
	c, err := loadCity(*cityFile)
	if err != nil {
		return err
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	rp, err := loadtest.ReadReplay(f, loadtest.ReplaySource{LatCol: *latCol, LngCol: *lngCol, TimeCol: *timeCol, TimeFormat: *timeFormat,
		TitleCol: *titleCol, OnlyPrefix: *only, Relocate: *relocate, SourceRadiusKm: *srcRadius, Limit: *limit}, c)
	f.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "replay: %s: %d rows, %d skipped (not %q), %d usable, %d rejected\n", *file, rp.Rows, rp.Skipped, *only, len(rp.Calls), rp.RejectedTotal())
	reasons := make([]string, 0, len(rp.Rejected))
	for r := range rp.Rejected {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		fmt.Fprintf(stderr, "replay:   rejected %5d  %s\n", rp.Rejected[r], r)
	}
	for _, e := range rp.Examples {
		fmt.Fprintf(stderr, "replay:   e.g. %s\n", e)
	}
	if len(rp.Calls) == 0 {
		return errors.New("replay: no usable rows")
	}
	cfg := loadtest.ReplayConfig{Speed: *speed, City: c, DSN: *dsn, Progress: stderr}
	if *kafkaAddrs != "" {
		cfg.Brokers = strings.Split(*kafkaAddrs, ",")
	}
	run := report.Run{Title: fmt.Sprintf("ems120 replay of %s into %s at %g×: %d calls (%d rows rejected)",
		filepath.Base(*file), *into, *speed, len(rp.Calls), rp.RejectedTotal()), Command: commandLine("replay", args)}
	var sum loadtest.Summary
	var write func(dir string) error
	if *into == loadtest.IntoSimulate {
		hc := hosp()
		cfg.Sim = loadtest.SimConfig{Seed: *seed, HospitalPolicy: hc.Policy, Hospitals: hc, Progress: stderr}
		r, err := loadtest.ReplaySimulate(cfg, rp)
		if err != nil {
			return err
		}
		sum, write = r.Summary, func(dir string) error { return report.WriteSim(dir, run, r) }
	} else {
		r, err := loadtest.ReplayLive(ctx, cfg, rp)
		if err != nil {
			return err
		}
		sum, write = r.Summary, func(dir string) error { return report.WriteLoad(dir, run, r) }
	}
	if err := writeReport(*reportDir, stderr, "replay", write); err != nil {
		return err
	}
	if *jsonOut {
		return sum.Write(stdout)
	}
	return sum.WriteText(stdout)
}
