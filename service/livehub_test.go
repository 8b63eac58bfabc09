package service

import (
	"fmt"
	"testing"
)

func TestLiveHubResumesFromTheRingOrSendsASnapshot(t *testing.T) {
	h := newLiveHub()
	sub, replay, snap, cur := h.subscribe("")
	if !snap || len(replay) != 0 || cur != h.gen+"-0" {
		t.Fatalf("a new client: snapshot %v, replay %d, at %s", snap, len(replay), cur)
	}
	for i := 1; i <= 5; i++ {
		h.publish("n", i)
	}
	if len(sub.ch) != 5 {
		t.Fatalf("the connected client got %d events, want 5", len(sub.ch))
	}
	first := <-sub.ch
	h.unsubscribe(sub)

	// It comes back having seen event 1: events 2…5, in order, no snapshot.
	_, replay, snap, _ = h.subscribe(first.id)
	if snap || len(replay) != 4 {
		t.Fatalf("resume after %s: snapshot %v, %d events, want 4", first.id, snap, len(replay))
	}
	for i, ev := range replay {
		if want := fmt.Sprintf("%s-%d", h.gen, i+2); ev.id != want || string(ev.data) != fmt.Sprint(i+2) {
			t.Fatalf("replay[%d] = %s %s, want %s", i, ev.id, ev.data, want)
		}
	}
	// Too far behind (fell out of the ring), from another process, or from the future: a snapshot.
	for i := 0; i < liveRing; i++ {
		h.publish("n", i)
	}
	for _, last := range []string{first.id, "othergen-3", fmt.Sprintf("%s-%d", h.gen, h.seq+1), "garbage"} {
		if _, replay, snap, _ := h.subscribe(last); !snap || replay != nil {
			t.Errorf("resume after %q: snapshot %v, %d events; want a snapshot", last, snap, len(replay))
		}
	}
	// The oldest event still in the ring resumes.
	if _, replay, snap, _ := h.subscribe(fmt.Sprintf("%s-%d", h.gen, h.seq-liveRing)); snap || len(replay) != liveRing {
		t.Errorf("resume from the ring's start: snapshot %v, %d events", snap, len(replay))
	}
}

func TestLiveHubDropsASlowClientAndARebuildDropsAll(t *testing.T) {
	h := newLiveHub()
	slow, _, _, _ := h.subscribe("")
	for i := 0; i <= liveClientBuf; i++ {
		h.publish("n", i)
	}
	select {
	case <-slow.gone:
	default:
		t.Fatal("a client that read nothing was not dropped when its queue filled")
	}
	if h.clients() != 0 {
		t.Fatalf("clients %d after the drop", h.clients())
	}
	a, _, _, _ := h.subscribe("")
	old := h.gen
	h.restart()
	select {
	case <-a.gone:
	default:
		t.Fatal("restart did not drop the client")
	}
	if _, _, snap, _ := h.subscribe(old + "-1"); !snap || h.gen == old {
		t.Fatal("after a restart, an id of the old generation must get a snapshot")
	}
}

// With no client connected for liveGrace nothing is encoded, and a client that comes back
// with an id from before gets a snapshot, not a replay with a hole in it.
func TestLiveHubWithNoClientSendsNothingAndResumesWithASnapshot(t *testing.T) {
	h := newLiveHub()
	sub, _, _, _ := h.subscribe("")
	h.publish("n", 1)
	seen := (<-sub.ch).id
	h.unsubscribe(sub)
	if !h.want() {
		t.Fatal("no want just after the last client left: it may come back to resume")
	}
	h.left = h.left.Add(-liveGrace)
	if h.want() {
		t.Fatal("want with no client connected")
	}
	if _, replay, snap, _ := h.subscribe(seen); !snap || replay != nil {
		t.Fatalf("resume after events were skipped: snapshot %v, %d events; want a snapshot", snap, len(replay))
	}
	if !h.want() {
		t.Fatal("no want with a client connected")
	}
}
