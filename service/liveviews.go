package service

import (
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/sql"
)

// What the live feed carries: whole views (an incident as it stands, a unit as it stands), not
// deltas, so a client applies an event by replacing what it has, and applying one twice (a
// snapshot that already held it) changes nothing.

// liveIncident is a live call as the call board shows it.
type liveIncident struct {
	contract.Call
	State       string               `json:"state"`
	UnitID      string               `json:"unit_id,omitempty"`
	AssignedAt  *time.Time           `json:"assigned_at,omitempty"`
	AckDeadline *time.Time           `json:"ack_deadline,omitempty"` // while the crew has not acknowledged
	Assignment  *contract.Assignment `json:"assignment,omitempty"`   // the recommendation standing now
}

// liveChange is the feed's "incident" event: one step of an incident, and the incident after it.
type liveChange struct {
	Event       eventView    `json:"event"`
	Incident    liveIncident `json:"incident"`
	CommittedAt time.Time    `json:"committed_at"` // when its record committed: the feed's latency starts here
}

// liveRecord is what a decision shows once it is committed. Built under the engine lock.
type liveRecord struct {
	changes []liveChange
	units   []unitView
}

// liveOf keeps the standing assignment of each call and, when some client is connected,
// describes a decision's events and changed units for the feed (nil otherwise: with no one
// to send them to, the views are not built). Call with s.mu held.
func (s *Service) liveOf(evs []dispatch.Event, units []sql.UnitRow) *liveRecord {
	for _, e := range evs {
		if e.Assignment != nil {
			s.assignments[e.CallID] = e.Assignment
		}
	}
	if len(evs) == 0 && len(units) == 0 || !s.live.want() {
		s.forgetEnded(evs)
		return nil
	}
	lr := &liveRecord{changes: make([]liveChange, 0, len(evs)), units: make([]unitView, len(units))}
	for _, e := range evs {
		inc, ok := s.engine.Incident(e.CallID)
		if !ok { // it ended in this decision: the board only needs to drop it
			inc = dispatch.Incident{Call: contract.Call{CallID: e.CallID}, State: e.State}
		}
		lr.changes = append(lr.changes, liveChange{
			Event:    eventView{At: e.At, Type: string(e.Type), State: string(e.State), UnitID: e.UnitID, Reason: e.Reason, Actor: e.Actor},
			Incident: s.incidentView(inc)})
	}
	s.forgetEnded(evs)
	for i, u := range units {
		lr.units[i] = unitViewOf(dispatch.Unit{ID: u.ID, Kind: u.Kind, StationID: u.StationID, Status: u.Status,
			CallID: u.CallID, Pos: u.Pos, PingAt: u.PingAt, StatusAt: u.StatusAt, FlaggedAt: u.FlaggedAt, DeconUntil: u.DeconUntil})
	}
	return lr
}

// forgetEnded drops the standing assignments of the calls that ended.
func (s *Service) forgetEnded(evs []dispatch.Event) {
	for _, e := range evs {
		if !e.State.Live() {
			delete(s.assignments, e.CallID)
		}
	}
}

// incidentView is an incident as the board shows it. Call with s.mu held.
func (s *Service) incidentView(inc dispatch.Incident) liveIncident {
	v := liveIncident{Call: inc.Call, State: string(inc.State), UnitID: inc.UnitID}
	if inc.UnitID != "" && !inc.AssignedAt.IsZero() {
		t := inc.AssignedAt
		v.AssignedAt = &t
		if inc.State == dispatch.StateAssigned && s.cfg.AckTimeout >= 0 {
			d := t.Add(s.ackTimeout())
			v.AckDeadline = &d
		}
	}
	if a := s.assignments[inc.Call.CallID]; a != nil && inc.UnitID != "" {
		v.Assignment = a
	}
	return v
}

// ackTimeout is the time a crew has to acknowledge.
func (s *Service) ackTimeout() time.Duration {
	if s.cfg.AckTimeout > 0 {
		return s.cfg.AckTimeout
	}
	return dispatch.DefaultAckTimeout
}

// publishLive sends a committed decision to the feed.
func (s *Service) publishLive(lr *liveRecord, committed time.Time) {
	if lr == nil {
		return
	}
	for i := range lr.changes {
		lr.changes[i].CommittedAt = committed
		s.live.publish("incident", &lr.changes[i])
	}
	if len(lr.units) > 0 {
		s.live.publish("units", lr.units)
	}
}

// livePosition is a unit's position in the feed's "positions" event.
type livePosition struct {
	ID     string  `json:"unit_id"`
	Lat    float64 `json:"lat"`
	Lng    float64 `json:"lng"`
	Status string  `json:"status"`
}

// publishPositions sends the units that moved since the last flush.
func (s *Service) publishPositions(moved []dispatch.Unit) {
	if len(moved) == 0 || !s.live.want() {
		return
	}
	out := make([]livePosition, len(moved))
	for i, u := range moved {
		out[i] = livePosition{ID: u.ID, Lat: u.Pos.Lat, Lng: u.Pos.Lng, Status: string(u.Status)}
	}
	s.live.publish("positions", out)
}

// publishLiveState sends, once a second with the positions, the hospitals when they changed
// and the KPIs of now.
func (s *Service) publishLiveState() {
	if !s.live.want() {
		return // the snapshot of the next client holds both
	}
	if s.hospDirty.Swap(false) {
		s.live.publish("hospitals", s.hospitalsView(s.cfg.Now()))
	}
	s.live.publish("stats", s.liveStats())
}
