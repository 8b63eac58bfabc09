package service

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The live feed behind GET /v1/stream: every change the console shows, after it is
// committed, as a numbered event. A client that reconnects with the id of the last event it
// saw gets what it missed from a ring of recent events; one that is too far behind, or was
// connected to another process or before a rebuild of the engine, gets a fresh snapshot.

// liveEvent is one event of the feed, encoded once for every client.
type liveEvent struct {
	seq  uint64
	id   string // "<generation>-<seq>": the SSE id
	name string // the SSE event name
	data []byte
}

// liveSub is one connected client.
type liveSub struct {
	ch   chan liveEvent
	gone chan struct{} // closed when the hub drops the client (too slow, or a rebuild)
	once sync.Once
}

func (s *liveSub) drop() { s.once.Do(func() { close(s.gone) }) }

// liveHub fans the feed out to the clients.
type liveHub struct {
	mu   sync.Mutex
	gen  string // this process's feed, and changes when the engine is rebuilt
	seq  uint64
	ring []liveEvent // the last len(ring) events: ring[seq % len(ring)]
	subs map[*liveSub]struct{}
	n    int       // events in the ring
	left time.Time // when a client last left
}

const (
	liveRing      = 8192            // events kept for reconnecting clients
	liveClientBuf = 1024            // events queued for one client before it is dropped as too slow (it resumes from the ring)
	liveGrace     = 2 * time.Minute // after the last client leaves, events are still kept for it to resume
)

func newLiveHub() *liveHub {
	h := &liveHub{ring: make([]liveEvent, liveRing), subs: map[*liveSub]struct{}{}}
	h.gen = strconv.FormatInt(time.Now().UnixNano(), 36)
	return h
}

// clients is the number of connected clients.
func (h *liveHub) clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// publish encodes v once and sends it to every client; a client whose queue is full is
// dropped (it reconnects and resumes from the ring).
func (h *liveHub) publish(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return // the feed's own types always encode
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	ev := liveEvent{seq: h.seq, id: h.gen + "-" + strconv.FormatUint(h.seq, 10), name: name, data: data}
	h.ring[h.seq%liveRing] = ev
	h.n = min(h.n+1, liveRing)
	for sub := range h.subs {
		select {
		case sub.ch <- ev:
		default:
			delete(h.subs, sub)
			h.left = time.Now()
			sub.drop()
		}
	}
}

// want reports whether an event now could reach anyone: a client is connected, or one left
// less than liveGrace ago and may come back to resume. Otherwise it says no, and the ring is
// emptied and the count moved on, as if the event had been sent: a client that then resumes
// from an earlier id gets a snapshot, which holds what was not sent. (A client that
// subscribes after this call takes its snapshot after the decision that asked.)
func (h *liveHub) want() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) > 0 || !h.left.IsZero() && time.Since(h.left) < liveGrace {
		return true
	}
	h.seq++
	h.n = 0
	return false
}

// subscribe registers a client that last saw lastID ("" for none). It returns the events to
// replay, or snapshot true when the client needs a snapshot instead; cur is the id the
// snapshot stands at.
func (h *liveHub) subscribe(lastID string) (sub *liveSub, replay []liveEvent, snapshot bool, cur string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sub = &liveSub{ch: make(chan liveEvent, liveClientBuf), gone: make(chan struct{})}
	h.subs[sub] = struct{}{}
	cur = h.gen + "-" + strconv.FormatUint(h.seq, 10)
	last, ok := h.parse(lastID)
	oldest := h.seq - uint64(h.n) // the ring holds oldest+1 … seq
	if !ok || last > h.seq || last < oldest {
		return sub, nil, true, cur
	}
	for s := last + 1; s <= h.seq; s++ {
		replay = append(replay, h.ring[s%liveRing])
	}
	return sub, replay, false, cur
}

// parse reads an id of this generation.
func (h *liveHub) parse(id string) (uint64, bool) {
	gen, seq, ok := strings.Cut(id, "-")
	if !ok || gen != h.gen {
		return 0, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	return n, err == nil
}

func (h *liveHub) unsubscribe(sub *liveSub) {
	h.mu.Lock()
	delete(h.subs, sub)
	h.left = time.Now()
	h.mu.Unlock()
	sub.drop()
}

// restart starts a new generation and drops every client: after the engine is rebuilt from
// the record, what was sent may not have happened, so each client takes a fresh snapshot.
func (h *liveHub) restart() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen = fmt.Sprintf("%s%d", strconv.FormatInt(time.Now().UnixNano(), 36), h.seq)
	h.seq, h.n = 0, 0
	for sub := range h.subs {
		delete(h.subs, sub)
		sub.drop()
	}
}
