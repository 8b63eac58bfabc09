package service_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/results"
	"github.com/ems120/ems120/service"
)

// BenchmarkConsole measures the console in a real headless Chromium against a real service:
// page-load, the time from navigation to complete boards (the page's own clock:
// performance.now() when the first snapshot is drawn), and board, the time from a decision's
// commit to the frame that shows it on the call board, for calls arriving at 5/s.
func BenchmarkConsole(b *testing.B) {
	e := newEnv(b)
	r := e.startWith(service.Config{AckTimeout: -1})
	base := "http://" + r.svc.HTTPAddr()

	b.Run("page-load", func(b *testing.B) {
		p := openConsole(b, base, e.account("operator", ""))
		var loads []float64
		for b.Loop() {
			p.do(chromedp.Navigate(base + "/"))
			p.wait(`window.emsConsole && emsConsole.readyAt > 0`)
			loads = append(loads, eval[float64](p, `emsConsole.readyAt`))
		}
		b.ReportMetric(results.Percentile(loads, 50), "ms-p50")
		b.ReportMetric(slices.Max(loads), "ms-max")
		b.ReportMetric(0, "ns/op")
	})
	b.Run("board", func(b *testing.B) {
		p := openConsole(b, base, e.account("operator", ""))
		var n int
		for b.Loop() {
			calls := e.calls(5, fmt.Sprintf("BRD%d", n))
			n++
			for _, c := range calls {
				e.produce(contract.TopicCalls, encode(b, []contract.Call{c})...)
				time.Sleep(200 * time.Millisecond)
			}
		}
		p.wait(fmt.Sprintf(`emsConsole.boardLatency.length >= %d`, 2*5*n))
		lat := eval[[]float64](p, `emsConsole.boardLatency`)
		b.ReportMetric(results.Percentile(lat, 50), "ms-p50")
		b.ReportMetric(results.Percentile(lat, 99), "ms-p99")
		b.ReportMetric(slices.Max(lat), "ms-max")
		b.ReportMetric(float64(len(lat)), "events")
		b.ReportMetric(0, "ns/op")
	})
}
