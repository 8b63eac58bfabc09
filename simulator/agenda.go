package simulator

import (
	"cmp"
	"container/heap"
	"time"
)

// Agenda is a time-ordered list of things to do: the earliest first, ties in the order they
// were added. The simulator's virtual clock runs on one, and so do the demo's crews on the
// real clock. The zero value is empty.
type Agenda struct {
	items agendaItems
	seq   int
}

// At adds fn, to be done at t; it is called with the time it is done at.
func (a *Agenda) At(t time.Time, fn func(now time.Time)) {
	a.seq++
	heap.Push(&a.items, agendaItem{at: t, seq: a.seq, fn: fn})
}

// Len is the number of things left to do.
func (a *Agenda) Len() int { return len(a.items) }

// Next is the time of the earliest thing to do; ok is false when there is none.
func (a *Agenda) Next() (t time.Time, ok bool) {
	if len(a.items) == 0 {
		return time.Time{}, false
	}
	return a.items[0].at, true
}

// Pop removes the earliest thing to do and returns it with its time. The agenda must not
// be empty.
func (a *Agenda) Pop() (time.Time, func(now time.Time)) {
	it := heap.Pop(&a.items).(agendaItem)
	return it.at, it.fn
}

type agendaItem struct {
	at  time.Time
	seq int
	fn  func(now time.Time)
}

// agendaItems is the agenda's heap (container/heap).
type agendaItems []agendaItem

func (a agendaItems) Len() int { return len(a) }
func (a agendaItems) Less(i, j int) bool {
	return cmp.Or(a[i].at.Compare(a[j].at), cmp.Compare(a[i].seq, a[j].seq)) < 0
}
func (a agendaItems) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *agendaItems) Push(x any)   { *a = append(*a, x.(agendaItem)) }
func (a *agendaItems) Pop() any {
	old := *a
	it := old[len(old)-1]
	*a = old[:len(old)-1]
	return it
}
