package simulator

import (
	"slices"
	"testing"
	"time"
)

// Things are done earliest first, and those due at the same time in the order they were added.
func TestAgendaOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var a Agenda
	var done []string
	add := func(after time.Duration, name string) {
		a.At(t0.Add(after), func(now time.Time) {
			if !now.Equal(t0.Add(after)) {
				t.Errorf("%s done at %v, want %v", name, now, t0.Add(after))
			}
			done = append(done, name)
		})
	}
	add(3*time.Second, "c")
	add(time.Second, "a1")
	add(2*time.Second, "b")
	add(time.Second, "a2")
	add(time.Second, "a3")
	if next, ok := a.Next(); !ok || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("next %v %v, want %v", next, ok, t0.Add(time.Second))
	}
	for a.Len() > 0 {
		at, fn := a.Pop()
		fn(at)
	}
	if want := []string{"a1", "a2", "a3", "b", "c"}; !slices.Equal(done, want) {
		t.Fatalf("done %v, want %v", done, want)
	}
	if _, ok := a.Next(); ok {
		t.Fatal("an empty agenda has a next")
	}
}
