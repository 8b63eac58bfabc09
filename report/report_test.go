package report

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/coverage"
	"github.com/ems120/ems120/results"
)

func TestCoverageMapDraws(t *testing.T) {
	c := city.Wuhan()
	cells := coverage.ServiceArea(c, 7) // coarser than the service's 8: the test only checks the drawing
	var buf bytes.Buffer
	if err := CoverageMap(&buf, c, cells, func(i int) int { return i % 3 }, "test", 600); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 550 || b.Dx() > 650 || b.Dy() < b.Dx() {
		t.Fatalf("image %v: want about 600 px wide and taller than wide (Wuhan is)", b)
	}
	// The three reach colours are all on the map.
	seen := map[[3]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	for _, col := range [][3]uint32{{0xd7, 0x30, 0x27}, {0xfd, 0xae, 0x61}, {0x1a, 0x98, 0x50}} {
		if !seen[col] {
			t.Errorf("colour %x not drawn", col)
		}
	}
}

func TestWriteLoadReport(t *testing.T) {
	dir := t.TempDir()
	p99 := 12.5
	r := results.Load{Summary: results.Summary{Calls: 4, Assigned: 4, LatencyMsP99: &p99},
		LatencyMs: []float64{3, 4, 5, 12.5}, WrittenAtS: []float64{0.1, 0.5, 1.2, 2.9}, LatencyMax: 12.5, Produced: 4,
		Throughput: []results.Sample{{Calls: 2}, {Calls: 1}, {Calls: 1}}}
	if err := WriteLoad(dir, Run{Title: "load", Command: "ems120 loadtest -rate 2"}, r); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# load", "ems120 loadtest -rate 2", "| `latency_ms_p99` | 12.5 |", "(latency-histogram.png)",
		"(latency-over-time.png)", "(throughput.png)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(string(md), "coverage_pct") {
		t.Errorf("report.md lists a key that does not apply (nil):\n%s", md)
	}
	for _, f := range []string{"latency-histogram.png", "latency-over-time.png", "throughput.png"} {
		decodePNG(t, filepath.Join(dir, f))
	}
}

func TestWriteSimReport(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	var samples []results.Sample
	for i := 0; i < 20; i++ {
		samples = append(samples, results.Sample{At: at.Add(time.Duration(i) * 10 * time.Minute), Calls: i * 3, Queued: i % 4,
			Busy: 10 + i, OccupancyPct: 50 + float64(i), CoveragePct: 80, DoublePct: 60})
	}
	r := results.Sim{Summary: results.Summary{Calls: 57}, FocusBed: "fever_observation", Samples: samples,
		Response: []float64{300, 420, 610, 950}}
	if err := WriteSim(dir, Run{Title: "sim"}, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"calls.png", "queue.png", "occupancy.png", "coverage.png", "response-histogram.png"} {
		decodePNG(t, filepath.Join(dir, f))
	}
}

func decodePNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Errorf("%s is %v", path, b)
	}
}
