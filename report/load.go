package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/ems120/ems120/results"
)

// Run describes what produced a report, for its heading.
type Run struct {
	Title   string // e.g. "ems120 loadtest -mode calls"
	Command string // the command line that reproduces it
}

// CommandLine is the ems120 command line that reproduces a run of subcommand cmd with
// args, quoted for a POSIX shell.
func CommandLine(cmd string, args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.TrimSpace("ems120 " + cmd + " " + strings.Join(q, " "))
}

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// WriteLoad writes a load test's report to dir: report.md with the summary, and PNG plots —
// the latency histogram, latency (p50, p99, max) per second of writing, and throughput per
// second.
func WriteLoad(dir string, run Run, r results.Load) error {
	var figs []figure
	if len(r.LatencyMs) > 0 {
		figs = append(figs, figure{"latency-histogram.png", "Latency, call written to ems.calls → assignment readable on ems.assignments",
			func() (*plot.Plot, error) {
				return histogram(r.LatencyMs, "latency of each call", "latency (ms, log scale)", true)
			}})
		if len(r.WrittenAtS) == len(r.LatencyMs) {
			figs = append(figs, figure{"latency-over-time.png", "Latency by the second the call was written: p50, p99 and max",
				func() (*plot.Plot, error) { return latencyOverTime(r.LatencyMs, r.WrittenAtS) }})
		}
	}
	if len(r.Throughput) > 0 {
		what := "assignments"
		if r.PingsApplied > 0 {
			what = "pings applied"
		}
		xy := make(plotter.XYs, len(r.Throughput))
		for i, s := range r.Throughput {
			xy[i] = plotter.XY{X: float64(i), Y: float64(s.Calls)}
		}
		figs = append(figs, figure{"throughput.png", "Throughput per second: " + what,
			func() (*plot.Plot, error) {
				return lines(what+" per second", "seconds since the first write", what+" / s", series{what, xy})
			}})
	}
	var extra []string
	if len(r.LatencyMs) > 0 {
		extra = append(extra, fmt.Sprintf("Calls measured: %d of %d written; latency max %.1f ms.", len(r.LatencyMs), r.Produced, r.LatencyMax))
	}
	if r.RawMessages > 0 {
		extra = append(extra, fmt.Sprintf("The raw Kafka ceiling (`raw_kafka_per_s`) moved %d messages through the same broker and client with no processing.", r.RawMessages))
	}
	return write(dir, run, r.Summary, extra, figs)
}

// WriteSim writes a simulation's report to dir: report.md with the summary, and PNG plots —
// calls and queue over time, units busy, hospital occupancy of the focus bed kind, coverage
// over time, and the response-time histogram.
func WriteSim(dir string, run Run, r results.Sim) error {
	n := len(r.Samples)
	calls, queued, busy := make(plotter.XYs, n), make(plotter.XYs, n), make(plotter.XYs, n)
	occ, one, two := make(plotter.XYs, n), make(plotter.XYs, n), make(plotter.XYs, n)
	for i, s := range r.Samples {
		h := s.At.Sub(r.Samples[0].At).Hours()
		calls[i] = plotter.XY{X: h, Y: float64(s.Calls)}
		queued[i] = plotter.XY{X: h, Y: float64(s.Queued)}
		busy[i] = plotter.XY{X: h, Y: float64(s.Busy)}
		occ[i] = plotter.XY{X: h, Y: s.OccupancyPct}
		one[i] = plotter.XY{X: h, Y: s.CoveragePct}
		two[i] = plotter.XY{X: h, Y: s.DoublePct}
	}
	const hours = "hours since the start of the measured period"
	var figs []figure
	if n > 0 {
		figs = append(figs,
			figure{"calls.png", "Calls received (cumulative)", func() (*plot.Plot, error) {
				return lines("calls received", hours, "calls", series{"calls", calls})
			}},
			figure{"queue.png", "Calls waiting for a unit, and units busy with an incident", func() (*plot.Plot, error) {
				return lines("queue and busy units", hours, "count", series{"calls queued", queued}, series{"units busy", busy})
			}},
			figure{"occupancy.png", fmt.Sprintf("Mean occupancy of %s beds across the hospitals that take them", r.FocusBed), func() (*plot.Plot, error) {
				return lines("hospital occupancy: "+r.FocusBed, hours, "occupied %", series{"mean occupancy", occ})
			}},
			figure{"coverage.png", "Demand-weighted share of the city within 5 km / 15 min of an available unit (and of two)", func() (*plot.Plot, error) {
				return lines("coverage", hours, "% of demand", series{"covered by one", one}, series{"covered by two", two})
			}})
	}
	if len(r.Response) > 0 {
		figs = append(figs, figure{"response-histogram.png", "Response time, call to arrival on scene (the 15-minute standard is 900 s)",
			func() (*plot.Plot, error) { return histogram(r.Response, "response time", "seconds", false) }})
	}
	return write(dir, run, r.Summary, nil, figs)
}

type figure struct {
	file, caption string
	draw          func() (*plot.Plot, error)
}

type series struct {
	name string
	xy   plotter.XYs
}

func write(dir string, run Run, sum results.Summary, extra []string, figs []figure) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var md bytes.Buffer
	fmt.Fprintf(&md, "# %s\n\n", run.Title)
	if run.Command != "" {
		fmt.Fprintf(&md, "```\n%s\n```\n\n", run.Command)
	}
	md.WriteString("| key | value |\n|---|---|\n")
	for _, f := range sum.Fields() {
		fmt.Fprintf(&md, "| `%s` | %v |\n", f.Key, f.Value)
	}
	md.WriteString("\n")
	for _, e := range extra {
		md.WriteString(e + "\n\n")
	}
	for _, fig := range figs {
		p, err := fig.draw()
		if err != nil {
			return fmt.Errorf("report: %s: %w", fig.file, err)
		}
		if err := savePNG(p, filepath.Join(dir, fig.file)); err != nil {
			return fmt.Errorf("report: %s: %w", fig.file, err)
		}
		fmt.Fprintf(&md, "## %s\n\n![%s](%s)\n\n", fig.caption, fig.caption, fig.file)
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), md.Bytes(), 0o644)
}

func savePNG(p *plot.Plot, path string) error {
	c := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(8*vg.Inch, 4.5*vg.Inch), vgimg.UseDPI(96))}
	p.Draw(draw.New(c))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// histogram bins values; logX bins log10 of the values (latencies span orders of magnitude).
func histogram(values []float64, title, xlabel string, logX bool) (*plot.Plot, error) {
	vs := make(plotter.Values, 0, len(values))
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if logX {
			v = math.Log10(math.Max(v, 0.01))
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("no values to plot")
	}
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, "count"
	bins := min(60, max(5, int(math.Sqrt(float64(len(vs))))))
	h, err := plotter.NewHist(vs, bins)
	if err != nil {
		return nil, err
	}
	h.FillColor = palette[0]
	p.Add(h)
	if logX {
		p.X.Tick.Marker = log10Ticks{}
	}
	return p, nil
}

// log10Ticks labels an axis that holds log10(ms) with the milliseconds.
type log10Ticks struct{}

func (log10Ticks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		for _, m := range []float64{1, 2, 5} {
			x := e + math.Log10(m)
			if x < lo || x > hi {
				continue
			}
			ts = append(ts, plot.Tick{Value: x, Label: strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", math.Pow(10, x)), ".00"), "0")})
		}
	}
	return ts
}

func latencyOverTime(lat, at []float64) (*plot.Plot, error) {
	bySec := map[int][]float64{}
	last := 0
	for i, l := range lat {
		s := int(at[i])
		bySec[s] = append(bySec[s], l)
		last = max(last, s)
	}
	var p50, p99, mx plotter.XYs
	for s := 0; s <= last; s++ {
		v := bySec[s]
		if len(v) == 0 {
			continue
		}
		x := float64(s) + 0.5
		p50 = append(p50, plotter.XY{X: x, Y: results.Percentile(v, 50)})
		p99 = append(p99, plotter.XY{X: x, Y: results.Percentile(v, 99)})
		mx = append(mx, plotter.XY{X: x, Y: slices.Max(v)})
	}
	p, err := lines("latency per second", "seconds since the first write", "ms", series{"p50", p50}, series{"p99", p99}, series{"max", mx})
	if err != nil {
		return nil, err
	}
	p.Y.Min = 0
	return p, nil
}

func lines(title, xlabel, ylabel string, ss ...series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, ylabel
	for i, s := range ss {
		if len(s.xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = palette[i%len(palette)], vg.Points(1.4)
		p.Add(l)
		if len(ss) > 1 {
			p.Legend.Add(s.name, l)
		}
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p, nil
}
