package access

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Throttle limits failed sign-ins, per name (whether or not an account has it, so that a
// lockout says nothing about which accounts exist) and per client address: after MaxPerName
// (MaxPerAddress) failures within Window, further sign-ins from that name (address) are
// refused for Lockout, right password or not. A success clears the name's failures.
type Throttle struct {
	MaxPerName    int
	MaxPerAddress int
	Window        time.Duration
	Lockout       time.Duration

	mu    sync.Mutex
	names map[string]*strikes
	addrs map[string]*strikes
}

// DefaultThrottle: 5 failures for a name or 20 from an address within 15 minutes lock it for
// 15 minutes.
func DefaultThrottle() *Throttle {
	return &Throttle{MaxPerName: 5, MaxPerAddress: 20, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
}

type strikes struct {
	first       time.Time // start of the current window
	n           int
	lockedUntil time.Time
}

// Locked is a refusal of a sign-in by the throttle.
type Locked struct {
	What  string // "name" or "address"
	Until time.Time
}

func (l *Locked) Error() string {
	return fmt.Sprintf("too many failed sign-ins from this %s: try again after %s", l.What, l.Until.UTC().Format("15:04:05 UTC"))
}

// Check returns a *Locked when name or address may not try now, nil otherwise.
func (t *Throttle) Check(name, address string, now time.Time) *Locked {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.names[key(name)]; s != nil && now.Before(s.lockedUntil) {
		return &Locked{What: "name", Until: s.lockedUntil}
	}
	if s := t.addrs[address]; s != nil && now.Before(s.lockedUntil) {
		return &Locked{What: "address", Until: s.lockedUntil}
	}
	return nil
}

// Fail counts a failed sign-in; it returns a *Locked when this failure locks the name or the
// address.
func (t *Throttle) Fail(name, address string, now time.Time) *Locked {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.names == nil {
		t.names, t.addrs = map[string]*strikes{}, map[string]*strikes{}
	}
	var locked *Locked
	if until, ok := t.strike(t.names, key(name), t.MaxPerName, now); ok {
		locked = &Locked{What: "name", Until: until}
	}
	if until, ok := t.strike(t.addrs, address, t.MaxPerAddress, now); ok && locked == nil {
		locked = &Locked{What: "address", Until: until}
	}
	t.forgetOld(now)
	return locked
}

// Succeed clears a name's failures after a good sign-in.
func (t *Throttle) Succeed(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.names, key(name))
}

func (t *Throttle) strike(m map[string]*strikes, k string, limit int, now time.Time) (time.Time, bool) {
	s := m[k]
	if s == nil || now.Sub(s.first) > t.Window {
		s = &strikes{first: now}
		m[k] = s
	}
	s.n++
	if s.n >= limit {
		s.lockedUntil = now.Add(t.Lockout)
		s.first, s.n = now, 0
		return s.lockedUntil, true
	}
	return time.Time{}, false
}

// forgetOld drops entries past their window and lockout, so that a flood of invented names
// does not grow the maps without bound.
func (t *Throttle) forgetOld(now time.Time) {
	if len(t.names)+len(t.addrs) < 10_000 {
		return
	}
	for _, m := range []map[string]*strikes{t.names, t.addrs} {
		for k, s := range m {
			if now.Sub(s.first) > t.Window && !now.Before(s.lockedUntil) {
				delete(m, k)
			}
		}
	}
}

func key(name string) string { return strings.ToLower(strings.TrimSpace(name)) }
