package dispatch

import (
	"fmt"
	"slices"
	"time"

	"github.com/ems120/ems120/contract"
)

// Defaults of SurgeRules.
const (
	DefaultP4MaxWait        = 30 * time.Minute
	DefaultAutoFeverPerHour = 20
	DefaultAutoOccupancyPct = 90
	// autoOffAfter is how long both figures must stay well below their thresholds (half the
	// fever calls, 10 points of occupancy) before an automatic surge mode switches itself off.
	autoOffAfter = 3 * time.Hour
	// spareShare: while at least this share of the fleet is available, a deferred call does
	// not wait for its maximum.
	spareShare = 0.5
)

// SurgeRules are surge mode's rules.
//
// In surge mode: negative-pressure units are kept for fever and infectious calls (a
// priority-1 call still takes the nearest unit of any kind); a priority-4 call is deferred —
// queued, served once it has waited P4MaxWait or while half the fleet is available; mild (3–4)
// fever and infectious patients go to Fangcang shelters; the peace-and-war hospitals' standby
// beds open (the hospitals registry, told through SurgeAware).
type SurgeRules struct {
	P4MaxWait time.Duration // default 30 min
	// Automatic switch: on when the fever and infectious calls of the last hour reach
	// AutoFeverPerHour, or the isolation occupancy given to AutoSurge reaches
	// AutoOccupancyPct; < 0 disables that trigger. Default 20 calls, 90%.
	AutoFeverPerHour int
	AutoOccupancyPct float64
}

func (r *SurgeRules) defaults() {
	if r.P4MaxWait == 0 {
		r.P4MaxWait = DefaultP4MaxWait
	}
	if r.AutoFeverPerHour == 0 {
		r.AutoFeverPerHour = DefaultAutoFeverPerHour
	}
	if r.AutoOccupancyPct == 0 {
		r.AutoOccupancyPct = DefaultAutoOccupancyPct
	}
}

// Surge is surge mode's state, and a switch of it as recorded.
type Surge struct {
	On     bool      `json:"on"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	Actor  string    `json:"actor,omitempty"` // the supervisor; empty for an automatic switch
	Auto   bool      `json:"auto"`
}

// SurgeAware is what Destinations may also do: follow surge mode.
type SurgeAware interface {
	SetSurge(on bool, at time.Time)
}

// Surge returns surge mode's state.
func (e *Engine) Surge() Surge { return e.surge }

// SetSurge switches surge mode by a supervisor's command, with its reason. It returns the
// switch to record and the events that followed (deferred calls dispatched when it goes
// off); switching to the state it is in is refused.
func (e *Engine) SetSurge(on bool, reason, actor string, now time.Time) (Surge, []Event, error) {
	if on == e.surge.On {
		return Surge{}, nil, fmt.Errorf("surge mode is already %s", onOff(on))
	}
	if reason == "" {
		return Surge{}, nil, &contract.Error{Field: "reason", Reason: "missing: say why surge mode is switched " + onOff(on)}
	}
	return e.switchSurge(Surge{On: on, At: now, Reason: reason, Actor: actor}, now)
}

// RestoreSurge sets surge mode as recorded, at start-up: no events.
func (e *Engine) RestoreSurge(s Surge) {
	e.surge = s
	if sa, ok := e.cfg.Hospitals.(SurgeAware); ok {
		sa.SetSurge(s.On, s.At)
	}
}

func (e *Engine) switchSurge(s Surge, now time.Time) (Surge, []Event, error) {
	e.surge = s
	e.calmSince = time.Time{}
	if sa, ok := e.cfg.Hospitals.(SurgeAware); ok {
		sa.SetSurge(s.On, now)
	}
	var evs []Event
	if !s.On {
		for _, inc := range slices.Clone(e.queue) {
			if !inc.DeferredUntil.IsZero() {
				inc.DeferredUntil = time.Time{}
				e.dequeue(inc)
				evs = e.dispatch(inc, now, ReasonDeferredEnded, evs)
			}
		}
	}
	return s, evs, nil
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// AutoSurge switches surge mode by itself: on when the last hour's fever and infectious
// calls or the isolation occupancy (given, percent) reach their thresholds; off again —
// only a switch it made itself — once both have stayed well below them for 3 hours. It
// returns the switch, if any, and the events that followed.
func (e *Engine) AutoSurge(now time.Time, occupancyPct float64) (*Surge, []Event) {
	e.pruneFever(now)
	r := e.cfg.Surge
	fever := len(e.feverAt)
	hot := (r.AutoFeverPerHour > 0 && fever >= r.AutoFeverPerHour) || (r.AutoOccupancyPct > 0 && occupancyPct >= r.AutoOccupancyPct)
	switch {
	case !e.surge.On && hot:
		why := fmt.Sprintf("automatic: %d fever and infectious calls in the last hour (threshold %d), isolation occupancy %.1f%% (threshold %.0f%%)",
			fever, r.AutoFeverPerHour, occupancyPct, r.AutoOccupancyPct)
		s, evs, _ := e.switchSurge(Surge{On: true, At: now, Reason: why, Auto: true}, now)
		return &s, evs
	case e.surge.On && e.surge.Auto:
		calm := float64(fever) < float64(r.AutoFeverPerHour)/2 && occupancyPct < r.AutoOccupancyPct-10
		if !calm {
			e.calmSince = time.Time{}
			return nil, nil
		}
		if e.calmSince.IsZero() {
			e.calmSince = now
		}
		if now.Sub(e.calmSince) >= autoOffAfter {
			why := fmt.Sprintf("automatic: calm for %s (%d fever and infectious calls in the last hour, isolation occupancy %.1f%%)",
				autoOffAfter, fever, occupancyPct)
			s, evs, _ := e.switchSurge(Surge{On: false, At: now, Reason: why, Auto: true}, now)
			return &s, evs
		}
	}
	return nil, nil
}

// noteFever keeps the receipt times of the last hour's fever and infectious calls (pruned
// here too: an engine whose AutoSurge is never called must not keep every receipt).
func (e *Engine) noteFever(c contract.Call, now time.Time) {
	if c.NeedsIsolation() {
		e.pruneFever(now)
		e.feverAt = append(e.feverAt, now)
	}
}

func (e *Engine) pruneFever(now time.Time) {
	i := 0
	for i < len(e.feverAt) && now.Sub(e.feverAt[i]) > time.Hour {
		i++
	}
	e.feverAt = e.feverAt[i:]
}

// reservedFor is the unit kind a call may not take in surge mode (negative-pressure units for
// a call of priority 2–4 that needs no isolation), or none.
func (e *Engine) reservedFor(c contract.Call) contract.UnitKind {
	if e.surge.On && !c.NeedsIsolation() && c.Priority >= 2 {
		return contract.KindNegativePressure
	}
	return ""
}

// defer queues a priority-4 call in surge mode, to be served after its maximum wait or
// sooner while the fleet has units to spare. It reports whether it did.
func (e *Engine) deferCall(inc *Incident, now time.Time, evs []Event) ([]Event, bool) {
	if !e.surge.On || inc.Call.Priority != 4 || e.spare() {
		return evs, false
	}
	inc.State, inc.UnitID, inc.DeferredUntil = StateQueued, "", now.Add(e.cfg.Surge.P4MaxWait)
	e.enqueue(inc)
	return append(evs, Event{Type: EventQueued, At: now, CallID: inc.Call.CallID, State: StateQueued,
		Reason: fmt.Sprintf("surge mode: priority 4 deferred up to %s", e.cfg.Surge.P4MaxWait)}), true
}

// spare reports whether at least half the fleet is available.
func (e *Engine) spare() bool { return float64(e.index.Len()) >= spareShare*float64(len(e.units)) }

// deferredDue dispatches the deferred calls that have waited their maximum (or all of them
// while the fleet has units to spare), oldest first.
// Out of surge mode no call is deferred (switching off serves them all), so it does nothing.
func (e *Engine) deferredDue(now time.Time) []Event {
	if !e.surge.On {
		return nil
	}
	var due []*Incident
	spare := e.spare()
	for _, inc := range e.queue {
		if !inc.DeferredUntil.IsZero() && (spare || !now.Before(inc.DeferredUntil)) {
			due = append(due, inc)
		}
	}
	var evs []Event
	for _, inc := range due {
		inc.DeferredUntil = time.Time{}
		e.dequeue(inc)
		evs = e.dispatch(inc, now, ReasonDeferredEnded, evs)
	}
	return evs
}
