package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/hospitals"
	"github.com/ems120/ems120/report"
	"github.com/ems120/ems120/results"
	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/simulator"
	"github.com/ems120/ems120/surveillance"
	"github.com/uber/h3-go/v4"
)

// flags is a subcommand's flag set, with the flags several subcommands share defined once.
// After parse, City and Log hold what -city and -log-level chose (when added), and the
// conversions added to after have run.
type flags struct {
	*flag.FlagSet
	name      string
	args      []string
	getenv    func(string) string
	stdout    io.Writer
	stderr    io.Writer
	cityPath  *string
	level     *string
	asJSON    *bool
	reportDir *string
	after     []func()
	City      *city.City
	Log       *slog.Logger
}

func newFlags(name string, getenv func(string) string, stdout, stderr io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flags{FlagSet: fs, name: name, getenv: getenv, stdout: stdout, stderr: stderr}
}

// withCity adds -city: a city file, or the built-in Wuhan.
func (f *flags) withCity() *flags {
	f.cityPath = f.String("city", "", "city file (JSON); empty: the built-in Wuhan")
	return f
}

// withLog adds -log-level: a text logger on stderr.
func (f *flags) withLog() *flags {
	f.level = f.String("log-level", "info", "debug, info, warn or error")
	return f
}

// withOutput adds -json and -report: how a run's summary is printed, and where its report goes.
func (f *flags) withOutput() *flags {
	f.asJSON = f.Bool("json", false, "print the summary as one JSON object")
	f.reportDir = f.String("report", "", "write a Markdown report with PNG plots to this directory")
	return f
}

// parse parses args, loads what -city and -log-level name and runs the after callbacks.
func (f *flags) parse(args []string) error {
	f.args = args
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.level != nil {
		var l slog.Level
		if err := l.UnmarshalText([]byte(*f.level)); err != nil {
			return fmt.Errorf("-log-level %q: want debug, info, warn or error", *f.level)
		}
		f.Log = slog.New(slog.NewTextHandler(f.stderr, &slog.HandlerOptions{Level: l}))
	}
	if f.cityPath != nil {
		f.City = city.Wuhan()
		if *f.cityPath != "" {
			c, err := city.Load(*f.cityPath)
			if err != nil {
				return err
			}
			f.City = c
		}
	}
	for _, fn := range f.after {
		fn()
	}
	return nil
}

// db is -db, a PostgreSQL DSN: by default $DATABASE_URL where the subcommand reads it.
func (f *flags) db(p *string, fromEnv bool, usage string) {
	def := ""
	if fromEnv {
		def = f.getenv("DATABASE_URL")
	}
	f.StringVar(p, "db", def, usage)
}

// kafka is -kafka, Kafka brokers host:port,... (by default $EMS_KAFKA), into p.
func (f *flags) kafka(p *[]string, usage string) {
	addrs := f.String("kafka", f.getenv("EMS_KAFKA"), usage)
	f.after = append(f.after, func() {
		if *addrs != "" {
			*p = strings.Split(*addrs, ",")
		}
	})
}

// rules are the dispatch and destination rules that demo and serve take, into cfg.
func (f *flags) rules(cfg *service.Config) {
	f.DurationVar(&cfg.AckTimeout, "ack-timeout", dispatch.DefaultAckTimeout, "time a dispatched unit has to acknowledge before the call goes to the next unit (negative: never)")
	maxR := f.Float64("max-radius-km", dispatch.DefaultMaxRadiusM/1000, "widest search for a unit before a call waits in the queue, km")
	f.BoolVar(&cfg.Preempt, "preempt", false, "let a priority-1 call take a unit on its way to a priority 3–4 call")
	f.DurationVar(&cfg.PreemptSaving, "preempt-saving", dispatch.DefaultPreemptSaving, "how much sooner the pre-empted unit must arrive")
	f.DurationVar(&cfg.Decontamination, "decon", dispatch.DefaultDecontamination, "how long a unit that carried a fever or infectious patient is decontaminated before it is dispatched again (negative: not at all)")
	f.Float64Var(&cfg.CoverageTargetPct, "coverage-target", 75, "below this demand-weighted coverage (percent), publish move-up advice")
	f.DurationVar(&cfg.CoverageSnapshotEvery, "coverage-snapshot", 10*time.Minute, "how often the coverage map is stored in PostgreSQL")
	f.hospitalRules(&cfg.Hospitals)
	f.surveillanceRules(&cfg.Surveillance)
	f.surgeRules(&cfg.Surge)
	f.BoolVar(&cfg.SurgeAuto, "surge-auto", true, "switch surge mode on (and an automatic one off) by itself at the thresholds")
	f.after = append(f.after, func() { cfg.MaxRadiusM = *maxR * 1000 })
}

// hospitalRules are the destination rules: demo, serve, simulate and replay take them.
func (f *flags) hospitalRules(cfg *hospitals.Config) {
	f.StringVar((*string)(&cfg.Policy), "hospital-policy", string(hospitals.PolicyBalanced), "destination policy: balanced or nearest")
	f.DurationVar(&cfg.StaleAfter, "stale-after", 2*time.Hour, "a capacity report older than this is stale")
	f.DurationVar(&cfg.MaxTransport, "max-transport", 45*time.Minute, "longest acceptable transport to a hospital with a free bed")
	f.DurationVar(&cfg.Slack, "slack", 15*time.Minute, "extra transport accepted to spread load (beds held for hours or days)")
	f.DurationVar(&cfg.EmergencySlack, "emergency-slack", 3*time.Minute, "extra transport accepted to spread load (emergency-department patients)")
}

// surveillanceRules are the fever-call surveillance's rules: serve, demo and simulate take them.
func (f *flags) surveillanceRules(cfg *surveillance.Config) {
	f.Float64Var(&cfg.Z, "surv-z", surveillance.DefaultZ, "EARS C2: alert when the count exceeds the baseline's mean by this many standard deviations")
	f.Float64Var(&cfg.Floor, "surv-floor", surveillance.DefaultFloor, "EARS C2 and CUSUM: the least standard deviation a count is judged by (sparse cells)")
	f.IntVar(&cfg.WindowHours, "surv-window", surveillance.DefaultWindowHours, "hours of calls each hourly test counts")
	f.Float64Var(&cfg.CUSUMK, "surv-cusum-k", surveillance.DefaultCUSUMK, "CUSUM: the standardised excess an hour must pass to add to the sum")
	f.Float64Var(&cfg.CUSUMH, "surv-cusum-h", surveillance.DefaultCUSUMH, "CUSUM: alert when the sum passes this")
}

// surgeRules are surge mode's rules: serve, demo and simulate take them.
func (f *flags) surgeRules(r *dispatch.SurgeRules) {
	f.DurationVar(&r.P4MaxWait, "surge-p4-max-wait", dispatch.DefaultP4MaxWait, "surge mode: the longest a priority-4 call is deferred")
	f.IntVar(&r.AutoFeverPerHour, "surge-auto-fever", dispatch.DefaultAutoFeverPerHour, "automatic surge mode: fever and infectious calls in the last hour that switch it on (negative: never)")
	f.Float64Var(&r.AutoOccupancyPct, "surge-auto-occupancy", dispatch.DefaultAutoOccupancyPct, "automatic surge mode: isolation occupancy (designated and Fangcang, percent) that switches it on (negative: never)")
}

// outbreak is the outbreak scenario's cluster; the function it returns reads -outbreak-cells
// once the flags are parsed.
func (f *flags) outbreak(o *simulator.Outbreak) func() error {
	cells := f.String("outbreak-cells", "", "the cluster's H3 cells, comma-separated (default: three neighbouring resolution-7 cells at the Huanan market)")
	f.StringVar(&o.District, "outbreak-district", "", "spread the cluster over this district (code) instead of cells")
	f.Float64Var(&o.StartH, "outbreak-start-h", simulator.DefaultOutbreakStartH, "hours into the measured hours when the cluster begins")
	f.Float64Var(&o.PerHour, "outbreak-rate", simulator.DefaultOutbreakPerHour, "the cluster's extra fever calls an hour when it begins")
	f.Float64Var(&o.GrowthPerDay, "outbreak-growth", simulator.DefaultOutbreakGrowth, "the cluster's growth, a factor a day (1.414: doubles in two days)")
	return func() error {
		for _, c := range strings.Split(*cells, ",") {
			if c = strings.TrimSpace(c); c != "" {
				var cell h3.Cell
				if err := cell.UnmarshalText([]byte(c)); err != nil || !cell.IsValid() {
					return fmt.Errorf("-outbreak-cells: %q is not an H3 cell", c)
				}
				o.Cells = append(o.Cells, cell)
			}
		}
		return nil
	}
}

// finish writes a run's report, when -report is set, and prints its summary: one JSON
// object with -json, else a line per key.
func (f *flags) finish(sum results.Summary, writeReport func(dir string) error) error {
	if err := f.writeReport(writeReport); err != nil {
		return err
	}
	if *f.asJSON {
		return sum.Write(f.stdout)
	}
	return sum.WriteText(f.stdout)
}

// heading is the heading of a run's report: its title, and the command that reproduces it.
func (f *flags) heading(format string, a ...any) report.Run {
	return report.Run{Title: fmt.Sprintf(format, a...), Command: report.CommandLine(f.name, f.args)}
}

// writeReport has write put a run's report in -report's directory, when it is set, and
// says where it is.
func (f *flags) writeReport(write func(dir string) error) error {
	if *f.reportDir == "" {
		return nil
	}
	if err := write(*f.reportDir); err != nil {
		return err
	}
	fmt.Fprintf(f.stderr, "%s: report in %s\n", f.name, filepath.Join(*f.reportDir, "report.md"))
	return nil
}

// writeFile creates path and has write fill it.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(write(f), f.Close())
}
