package chaos

import (
	"context"
	"fmt"
	"math"
	"slices"
	"syscall"
	"time"

	"github.com/ems120/ems120/results"
)

// ms is d in seconds, to the millisecond.
func ms(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

type fault int

const (
	kill fault = iota
	outage
	pause
)

// faults runs the schedule — the faults in a seeded random order, a calm Gap between them —
// and fills in the summary's fault counts and takeover times.
func (h *harness) faults(ctx context.Context, sum *Summary) error {
	var plan []fault
	for range h.cfg.Kills {
		plan = append(plan, kill)
	}
	for range h.cfg.DBOutages {
		plan = append(plan, outage)
	}
	for range h.cfg.Pauses {
		plan = append(plan, pause)
	}
	h.rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	active, epoch, err := h.waitActive(ctx, 0, 30*time.Second)
	if err != nil {
		return err
	}
	for i, f := range plan {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(h.cfg.Gap):
		}
		if err := h.revive(); err != nil {
			return err
		}
		var took time.Duration
		switch f {
		case kill:
			active, epoch, took, err = h.kill(ctx, active, epoch)
			sum.Kills++
		case pause:
			active, epoch, took, err = h.pause(ctx, active, epoch, sum)
			sum.Pauses++
		case outage:
			active, epoch, took, err = h.outage(ctx, epoch)
			sum.DBOutages++
			sum.DBRecoveryMax = max(sum.DBRecoveryMax, ms(took))
			took = 0
		}
		if err != nil {
			return fmt.Errorf("fault %d of %d: %w", i+1, len(plan), err)
		}
		if took > 0 {
			sum.TakeoverS = append(sum.TakeoverS, ms(took))
		}
	}
	sum.Takeovers = len(sum.TakeoverS)
	if len(sum.TakeoverS) > 0 {
		sorted := slices.Sorted(slices.Values(sum.TakeoverS))
		sum.TakeoverP50 = math.Round(results.Percentile(sorted, 50)*1000) / 1000
		sum.TakeoverMax = sorted[len(sorted)-1]
	}
	return nil
}

// revive starts again, as a supervisor would, any serve process that exited by itself.
func (h *harness) revive() error {
	for _, s := range h.serves {
		select {
		case <-s.exited:
			h.progress("%s had exited by itself (see %s.log); starting it again", s.name, s.name)
			if err := s.start(h.cfg.Exe, h.cfg.Dir); err != nil {
				return err
			}
		default:
		}
	}
	return nil
}

// kill kills the active serve with SIGKILL, waits for another to take over, and starts the
// killed one again (it comes back as a standby).
func (h *harness) kill(ctx context.Context, active *serve, epoch int64) (*serve, int64, time.Duration, error) {
	at := time.Now()
	active.kill()
	next, e, err := h.waitActive(ctx, epoch, 30*time.Second)
	if err != nil {
		return nil, 0, 0, err
	}
	took := time.Since(at)
	h.progress("kill -9 %s: %s active at epoch %d after %.2f s", active.name, next.name, e, took.Seconds())
	if err := active.start(h.cfg.Exe, h.cfg.Dir); err != nil {
		return nil, 0, 0, err
	}
	return next, e, took, nil
}

// pause stops the active serve with SIGSTOP until another has taken over, then lets it run
// again: it must step down (its writes are fenced); one that still says it is active after
// 5 s is a stale leader.
func (h *harness) pause(ctx context.Context, active *serve, epoch int64, sum *Summary) (*serve, int64, time.Duration, error) {
	at := time.Now()
	active.paused = true
	active.signal(syscall.SIGSTOP)
	next, e, err := h.waitActive(ctx, epoch, 30*time.Second)
	took := time.Since(at)
	active.signal(syscall.SIGCONT)
	active.paused = false
	if err != nil {
		return nil, 0, 0, err
	}
	stepped := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if hl, ok := active.health(); ok && hl.Role != "active" {
			stepped = true
			break
		}
	}
	if !stepped {
		sum.StaleLeaders++
	}
	h.progress("SIGSTOP %s: %s active at epoch %d after %.2f s; the paused one stepped down: %v",
		active.name, next.name, e, took.Seconds(), stepped)
	return next, e, took, nil
}

// outage stops PostgreSQL in immediate mode for Outage, starts it again and waits for an
// active serve; the time returned runs from the database's return.
func (h *harness) outage(ctx context.Context, epoch int64) (*serve, int64, time.Duration, error) {
	if err := h.st.StopDatabase(true); err != nil {
		return nil, 0, 0, err
	}
	time.Sleep(h.cfg.Outage)
	if err := h.st.StartDatabase(ctx); err != nil {
		return nil, 0, 0, err
	}
	back := time.Now()
	next, e, err := h.waitActive(ctx, epoch-1, 60*time.Second)
	if err != nil {
		return nil, 0, 0, err
	}
	took := time.Since(back)
	h.progress("PostgreSQL down %.1f s (immediate): %s active at epoch %d %.2f s after it returned",
		h.cfg.Outage.Seconds(), next.name, e, took.Seconds())
	return next, e, took, nil
}
