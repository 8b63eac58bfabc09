package surveillance

import (
	"time"

	"github.com/uber/h3-go/v4"
)

// Tally gathers calls into the hours a Detector observes.
type Tally struct {
	res     int
	next    time.Time       // the first hour not yet handed out; zero before the first call or Until
	pending map[int64]*Hour // by the hour's Unix time (time.Time keys differ by location)
}

// NewTally returns a tally of cells at resolution res.
func NewTally(res int) *Tally {
	return &Tally{res: res, pending: map[int64]*Hour{}}
}

// Add counts one call at its time and place, in its district ("" when it is in none: then it
// counts for its cell only). A call for an hour already handed out counts in the first hour
// still open: late, not lost.
func (t *Tally) Add(at time.Time, lat, lng float64, district string) {
	start := at.UTC().Truncate(time.Hour)
	if !t.next.IsZero() && start.Before(t.next) {
		start = t.next
	}
	h := t.pending[start.Unix()]
	if h == nil {
		h = &Hour{Start: start, Cells: map[h3.Cell]int{}, Districts: map[string]int{}}
		t.pending[start.Unix()] = h
	}
	h.Cells[h3.LatLngToCell(h3.NewLatLng(lat, lng), t.res)]++
	if district != "" {
		h.Districts[district]++
	}
}

// Until hands out, in order, every hour that has ended by now and was not handed out before,
// the empty ones too: an hour with no call is an observed zero.
func (t *Tally) Until(now time.Time) []Hour {
	if t.next.IsZero() {
		for _, h := range t.pending {
			if t.next.IsZero() || h.Start.Before(t.next) {
				t.next = h.Start
			}
		}
		if t.next.IsZero() {
			t.next = now.UTC().Truncate(time.Hour)
		}
	}
	var out []Hour
	for ; !t.next.Add(time.Hour).After(now); t.next = t.next.Add(time.Hour) {
		h := t.pending[t.next.Unix()]
		delete(t.pending, t.next.Unix())
		if h == nil {
			h = &Hour{Start: t.next}
		}
		out = append(out, *h)
	}
	return out
}

// Start sets the first hour the tally hands out (the hours before it are never observed).
func (t *Tally) Start(at time.Time) { t.next = at.UTC().Truncate(time.Hour) }
