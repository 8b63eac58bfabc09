package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/demo"
	"github.com/ems120/ems120/simulator"
	"github.com/ems120/ems120/streams"
)

// load is the call generator and the simulated crews, running until stop.
type load struct {
	cancel  context.CancelFunc
	g       *errgroup.Group
	mu      sync.Mutex
	written []string // call ids the broker acknowledged
}

// startLoad writes calls to ems.calls at Rate per second, in a batch every 20 ms, and plays
// the crews (CrewSpeed times real time, so that units come free again during the run).
func (h *harness) startLoad(ctx context.Context) *load {
	lctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(lctx)
	l := &load{cancel: cancel, g: g}
	crews := &demo.Crews{Brokers: h.brokers, City: h.cfg.City, Travel: city.DefaultTravelModel(h.cfg.City.Location()),
		Seed: h.cfg.Seed, Logger: h.cfg.Logger, Speed: h.cfg.CrewSpeed}
	g.Go(func() error { return crews.Run(gctx) })
	g.Go(func() error { return l.generate(gctx, h) })
	return l
}

func (l *load) generate(ctx context.Context, h *harness) error {
	w := streams.NewWriter(h.brokers, contract.TopicCalls)
	defer w.Close()
	gen := simulator.NewGenerator(h.cfg.City, simulator.DefaultMix, h.cfg.Seed, "CHAOS-"+time.Now().UTC().Format("150405"))
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	start, sent := time.Now(), 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		due := int(time.Since(start).Seconds()*h.cfg.Rate) - sent
		msgs := make([]kafka.Message, 0, due)
		ids := make([]string, 0, due)
		for range due {
			c := gen.Call(time.Now())
			b, err := c.AppendJSON(nil)
			if err != nil {
				return fmt.Errorf("chaos calls: %w", err)
			}
			msgs = append(msgs, kafka.Message{Key: []byte(c.CallID), Value: b})
			ids = append(ids, c.CallID)
		}
		if len(msgs) == 0 {
			continue
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("chaos calls: %w", err)
		}
		sent += len(msgs)
		l.mu.Lock()
		l.written = append(l.written, ids...)
		l.mu.Unlock()
	}
}

// stop stops the generator and the crews and returns the call ids written.
func (l *load) stop() []string {
	l.cancel()
	_ = l.g.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.written
}
