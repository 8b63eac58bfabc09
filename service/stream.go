package service

import (
	"bufio"
	"errors"
	"net/http"
	"time"
)

// GET /v1/stream: the live feed as Server-Sent Events. Event names: "snapshot" (everything the
// console shows, on connect or when the client is too far behind to resume), "incident",
// "units", "positions", "hospitals", "stats". Every event has an id; a client that reconnects
// with Last-Event-ID (EventSource does so by itself) gets every event it missed, in order.

// liveSnapshot is the feed's "snapshot" event.
type liveSnapshot struct {
	At        time.Time      `json:"at"`
	Incidents []liveIncident `json:"incidents"`
	Units     []unitView     `json:"units"`
	Hospitals hospitalsView  `json:"hospitals"`
	Stats     liveStats      `json:"stats"`
	Resumed   string         `json:"resumed_from,omitempty"` // the Last-Event-ID the client sent, when it could not resume
}

// streamHeartbeat keeps idle connections (and proxies in between) open.
const streamHeartbeat = 10 * time.Second

func (s *Service) getStream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "", "streaming is not supported by this connection")
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id") // for clients that cannot set headers
	}
	sub, replay, needSnapshot, cur := s.live.subscribe(last)
	defer s.live.unsubscribe(sub)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 8<<10)
	_, _ = bw.WriteString("retry: 1000\n\n")
	if needSnapshot {
		snap := s.snapshot()
		if last != "" {
			snap.Resumed = last
		}
		writeSSE(bw, liveEvent{id: cur, name: "snapshot", data: mustJSON(snap)})
	}
	for _, ev := range replay {
		writeSSE(bw, ev)
	}
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	var expiry <-chan time.Time // the feed ends with the session it was opened in
	if exp := identityOf(r).Expires; !exp.IsZero() {
		t := time.NewTimer(time.Until(exp))
		defer t.Stop()
		expiry = t.C
	}
	for {
		if bw.Flush() != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-sub.gone:
			return
		case <-expiry:
			return
		case <-beat.C:
			if _, err := s.identify(r); errors.Is(err, errBadCredentials) {
				return // signed out, disabled or expired since: the client's reconnect gets its 401
			}
			_, _ = bw.WriteString(": heartbeat\n\n")
		case ev := <-sub.ch:
			writeSSE(bw, ev)
			for n := len(sub.ch); n > 0; n-- { // what else is queued goes in the same flush
				writeSSE(bw, <-sub.ch)
			}
		}
	}
}

// writeSSE writes one event; its data is one line of JSON.
func writeSSE(w *bufio.Writer, ev liveEvent) {
	_, _ = w.WriteString("id: ")
	_, _ = w.WriteString(ev.id)
	_, _ = w.WriteString("\nevent: ")
	_, _ = w.WriteString(ev.name)
	_, _ = w.WriteString("\ndata: ")
	_, _ = w.Write(ev.data)
	_, _ = w.WriteString("\n\n")
}

// snapshot is everything the console shows, now.
func (s *Service) snapshot() liveSnapshot {
	now := s.cfg.Now()
	hv := s.hospitalsView(now)
	s.mu.Lock()
	incs := s.engine.Incidents()
	snap := liveSnapshot{At: now, Incidents: make([]liveIncident, len(incs)), Hospitals: hv}
	for i, inc := range incs {
		snap.Incidents[i] = s.incidentView(inc)
	}
	units := s.engine.Units()
	s.mu.Unlock()
	snap.Units = make([]unitView, len(units)) // in id order, as Units returns them
	for i, u := range units {
		snap.Units[i] = unitViewOf(u)
	}
	snap.Stats = s.liveStats()
	return snap
}
