package simulator

import (
	"fmt"
	"strings"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/results"
)

// Surge modes of a simulation: off, switched on by a supervisor as the measured hours begin,
// or automatic (the engine's thresholds, checked every minute).
const (
	SurgeOff  = "off"
	SurgeOn   = "on"
	SurgeAuto = "auto"
)

// Epidemic is the epidemic scenario: total calls Factor times the normal rate for Days from
// the start of the measured hours, FeverShare of them fever (the scale Wuhan met in early 2020).
type Epidemic struct {
	Factor     float64
	Days       float64
	FeverShare float64
}

// Defaults of the epidemic scenario.
const (
	DefaultEpidemicFactor = 4
	DefaultEpidemicDays   = 7
	DefaultEpidemicFever  = 0.6
)

func (e *Epidemic) defaults() {
	if e.Factor <= 0 {
		e.Factor = DefaultEpidemicFactor
	}
	if e.Days <= 0 {
		e.Days = DefaultEpidemicDays
	}
	if e.FeverShare <= 0 || e.FeverShare > 1 {
		e.FeverShare = DefaultEpidemicFever
	}
}

// epidemicMix is DefaultMix with fever at share and the other categories scaled to the rest.
func epidemicMix(share float64) Mix {
	m := Mix{Priority: DefaultMix.Priority, Infectious: DefaultMix.Infectious, Category: map[contract.Category]float64{}}
	rest := 1 - DefaultMix.Category[contract.CategoryFever]
	for k, v := range DefaultMix.Category {
		m.Category[k] = v * (1 - share) / rest
	}
	m.Category[contract.CategoryFever] = share
	return m
}

// startSurge sets surge mode up: on at the start of the measured hours, or checked every
// minute from then; either way the standby beds the registry opens are added to the true
// beds (the hospitals then report them).
func (s *sim) startSurge() {
	switch s.cfg.Surge {
	case SurgeOn:
		s.at(s.cfg.Start, func() {
			sw, evs, err := s.engine.SetSurge(true, "simulate: -surge on", "supervisor", s.now)
			if err != nil {
				s.err = err
				return
			}
			s.switches = append(s.switches, sw)
			s.handle(evs)
		})
	case SurgeAuto:
		s.every(s.cfg.Start, tickEvery, func() {
			if sw, evs := s.engine.AutoSurge(s.now, s.reg.IsolationOccupancyPct()); sw != nil {
				s.switches = append(s.switches, *sw)
				s.handle(evs)
			}
		})
	}
	if s.cfg.Surge != SurgeOff {
		s.every(s.cfg.Start, tickEvery, func() {
			for _, h := range s.reg.OpenStandby(s.now) {
				if b := s.truth[h.ID][contract.BedIsolation]; b != nil {
					b.total += h.StandbyBeds
					s.standbyOpened += h.StandbyBeds
				}
			}
		})
	}
}

// noteSurgeEvent keeps what surge mode did to a measured call: deferred (and when its
// deferral ended), late.
func (s *sim) noteSurgeEvent(ev dispatch.Event, c contract.Call) {
	switch {
	case ev.Type == dispatch.EventQueued && strings.Contains(ev.Reason, "deferred"):
		s.deferredAt[ev.CallID] = ev.At
	case ev.Type == dispatch.EventAssigned:
		if at, ok := s.deferredAt[ev.CallID]; ok && !at.IsZero() {
			s.deferredWait = append(s.deferredWait, ev.At.Sub(c.ReceivedAt).Seconds())
			s.deferredAt[ev.CallID] = time.Time{}
		}
	}
}

// surgeFigures fills the summary's surge and epidemic figures.
func (s *sim) surgeFigures(sum *results.Summary) {
	late := func(want func(contract.Call) bool) *float64 {
		n, lateN := 0, 0
		for id, c := range s.calls {
			if !s.measured(c) || !want(c) || s.end.Sub(c.ReceivedAt) < 15*time.Minute {
				continue
			}
			n++
			if r, ok := s.arrivedS[id]; !ok || r > 900 {
				lateN++
			}
		}
		if n == 0 {
			return nil
		}
		return results.F(100 * float64(lateN) / float64(n))
	}
	sum.LateIsolationPct = late(contract.Call.NeedsIsolation)
	sum.LateP1Pct = late(func(c contract.Call) bool { return c.Priority == 1 })
	fc, sb, sw, dc := s.fangcangAdmits, s.standbyOpened, len(s.switches), len(s.deferredAt)
	sum.FangcangAdmissions, sum.StandbyBedsOpened, sum.SurgeSwitches, sum.DeferredCalls = &fc, &sb, &sw, &dc
	if len(s.deferredWait) > 0 {
		sum.DeferredWaitSP90 = results.F(results.Percentile(s.deferredWait, 90))
	}
	q := 0
	for _, x := range s.samples {
		q = max(q, x.Queued)
	}
	sum.QueueMax = &q
}

// describeSwitches is the switches as lines, for the progress output.
func describeSwitches(sws []dispatch.Surge) []string {
	var out []string
	for _, sw := range sws {
		out = append(out, fmt.Sprintf("%s surge mode %s: %s", sw.At.Format("2006-01-02 15:04"), map[bool]string{true: "on", false: "off"}[sw.On], sw.Reason))
	}
	return out
}
