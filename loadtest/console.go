package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/results"
	"github.com/ems120/ems120/simulator"
)

// The console mode: operators' browsers on the live feed (GET /v1/stream) while calls and
// pings flow. Each phase runs the same calls (recycled crews) and pings for the same time, the
// first with no client connected and the second with Clients connected, so the decision
// latency with and without the feed is measured in one run. Every client reads every event;
// for each incident event the delay from its commit (committed_at, stamped by the service) to
// its arrival at the client is recorded.
//
// The pinging units report out_of_service: they move (their positions go to every client)
// without racing the crews' status reports for the units that serve the calls.

func loadConsole(ctx context.Context, cfg Config, lv *live, c *city.City, pingers []unitPos, progress func(string, ...any)) (results.Load, error) {
	base := "http://" + lv.svc.Service.HTTPAddr()
	acct, err := lv.svc.Service.AddAccount(ctx, "loadtest-console", "analyst", "", "loadtest", true)
	if err != nil {
		return results.Load{}, err
	}
	// The pinging units leave service first, so that no call is sent to them.
	applied := lv.svc.PingsApplied()
	n, err := sendPings(ctx, lv, pingers, func(_ time.Duration, sent int) (int, bool) { return len(pingers), sent >= len(pingers) },
		cfg.Seed, contract.StatusOutOfService)
	if err != nil {
		return results.Load{}, err
	}
	waitApplied(lv, applied, n)
	var res results.Load
	for i, n := range []int{0, cfg.Clients} {
		progress("phase %d: %d clients, calls at %s, pings at %s, for %s", i+1, n, RateString(cfg.Rate), RateString(cfg.PingRate), cfg.Duration)
		ph, load, err := consolePhase(ctx, cfg, lv, c, pingers, base, acct.Token, n, i)
		if err != nil {
			return res, err
		}
		progress("phase %d: decision p50 %s p99 %s ms; %d events to clients, delivery p50 %s p99 %s max %s ms, heap/client %s B",
			i+1, fs(ph.DecisionMsP50), fs(ph.DecisionMsP99), ph.Events, fs(ph.DeliveryMsP50), fs(ph.DeliveryMsP99), fs(ph.DeliveryMsMax), is(ph.HeapPerClientB))
		res.Console = append(res.Console, ph)
		res.Summary, res.LatencyMs, res.Produced = load.Summary, load.LatencyMs, load.Produced
	}
	return res, nil
}

func fs(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f", *p)
}

func is(p *int) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprint(*p)
}

func consolePhase(ctx context.Context, cfg Config, lv *live, c *city.City, pingers []unitPos, base, token string, clients, phase int) (results.ConsolePhase, results.Load, error) {
	heap0 := liveHeap()
	ws, err := watch(ctx, base, token, clients)
	if err != nil {
		return results.ConsolePhase{}, results.Load{}, err
	}
	defer ws.close()
	ph := results.ConsolePhase{Clients: clients}
	if clients > 0 {
		per := int((int64(liveHeap()) - int64(heap0)) / int64(clients))
		ph.HeapPerClientB = &per
	}
	pctx, stopPings := context.WithCancel(ctx)
	pinged := make(chan int, 1)
	go func() {
		n, _ := sendPings(pctx, lv, pingers, atRate(cfg.PingRate, cfg.Duration), cfg.Seed+uint64(phase), contract.StatusOutOfService)
		pinged <- n
	}()
	gen := simulator.NewGenerator(c, simulator.DefaultMix, cfg.Seed, fmt.Sprintf("CON%d-%d", phase, time.Now().Unix()))
	load, err := driveCalls(ctx, lv, true, atRate(cfg.Rate, cfg.Duration), int(cfg.Rate*cfg.Duration.Seconds()), gen.Call, cfg.Logger, func(string, ...any) {})
	stopPings()
	ph.Pings = <-pinged
	if err != nil {
		return ph, load, err
	}
	ws.settle() // the crews' last reports, and their events, reach the clients
	ph.Calls = load.Produced
	ph.DecisionMsP50, ph.DecisionMsP99 = load.Summary.LatencyMsP50, load.Summary.LatencyMsP99
	ws.close()
	lat, dropped := ws.result()
	ph.Events, ph.Dropped = len(lat), dropped
	if len(lat) > 0 {
		ph.DeliveryMsP50, ph.DeliveryMsP99 = results.F(results.Percentile(lat, 50)), results.F(results.Percentile(lat, 99))
		ph.DeliveryMsMax = results.F(slices.Max(lat))
	}
	return ph, load, nil
}

// liveHeap is the process's live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// watchers are SSE clients of /v1/stream, each reading every event.
type watchers struct {
	n       atomic.Int64 // incident events received so far, all clients
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	lat     []float64
	dropped int
}

// watch connects n clients and returns once each has its snapshot.
func watch(ctx context.Context, base, token string, n int) (*watchers, error) {
	cctx, cancel := context.WithCancel(ctx)
	ws := &watchers{cancel: cancel}
	ready := make(chan error, n)
	for range n {
		ws.wg.Add(1)
		go func() {
			defer ws.wg.Done()
			ws.client(cctx, base, token, ready)
		}()
	}
	for range n {
		if err := <-ready; err != nil {
			ws.close()
			return nil, err
		}
	}
	return ws, nil
}

func (ws *watchers) close() { ws.cancel(); ws.wg.Wait() }

// settle waits until no event has arrived for half a second (at most 10 s).
func (ws *watchers) settle() {
	last, quiet := ws.n.Load(), 0
	for deadline := time.Now().Add(10 * time.Second); quiet < 2 && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		if n := ws.n.Load(); n != last {
			last, quiet = n, 0
		} else {
			quiet++
		}
	}
}

func (ws *watchers) result() ([]float64, int) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return slices.Clone(ws.lat), ws.dropped
}

var committedAt = []byte(`"committed_at":"`)

// client reads the feed; for each incident event, the delay since its commit.
func (ws *watchers) client(ctx context.Context, base, token string, ready chan<- error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token) // an analyst's: the feed is read-only
	resp, err := http.DefaultClient.Do(req)
	if err == nil && resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		err = fmt.Errorf("GET /v1/stream: %s", resp.Status)
	}
	if err != nil {
		ready <- err
		return
	}
	defer resp.Body.Close()
	// A small reader: a snapshot's line (hundreds of kB) is skipped in pieces, so what the
	// client holds is not counted as the server's memory per client.
	br := bufio.NewReaderSize(resp.Body, 4096)
	signalled := false
	var local []float64
	var err2 error
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			err2 = err
			break
		}
		if !signalled && bytes.HasPrefix(line, []byte("event: snapshot")) {
			signalled = true
			ready <- nil
		}
		i := bytes.Index(line, committedAt)
		if !bytes.HasPrefix(line, []byte("data: ")) || i < 0 {
			continue
		}
		now := time.Now()
		rest := line[i+len(committedAt):]
		if j := bytes.IndexByte(rest, '"'); j > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(rest[:j])); err == nil {
				local = append(local, float64(now.Sub(t))/1e6)
				ws.n.Add(1)
			}
		}
	}
	ws.mu.Lock()
	ws.lat = append(ws.lat, local...)
	if ctx.Err() == nil {
		ws.dropped++
	}
	ws.mu.Unlock()
	if !signalled {
		ready <- fmt.Errorf("feed client: the stream ended before its snapshot: %v", err2)
	}
}
