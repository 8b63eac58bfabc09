package service

import (
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/sql"
)

// changes turns a decision's engine events into what is recorded and published: the
// record's rows (recordRows), the messages of one outbox row (outboxRow), and the units the
// decision changed, drained from the engine and noted for the coverage map (changedUnits).
// The caller holds the engine lock.
func (s *Service) changes(evs []dispatch.Event, born map[string]time.Time, positions bool) (sql.Changes, *outRow, error) {
	ch := recordRows(evs)
	out, err := outboxRow(s.store.NewOutboxID, evs, born)
	if err != nil {
		return sql.Changes{}, nil, err
	}
	if out != nil {
		ch.Outbox = &out.row
	}
	ch.Units = s.changedUnits(positions)
	return ch, out, nil
}

// recordRows are the events' rows: each event in the incident log, each call's final state,
// each assignment.
func recordRows(evs []dispatch.Event) sql.Changes {
	assigned := 0
	for _, e := range evs {
		if e.Assignment != nil {
			assigned++
		}
	}
	ch := sql.Changes{Events: make([]sql.EventRow, 0, len(evs)), Calls: make([]sql.CallState, 0, len(evs)),
		Assignments: make([]sql.AssignmentRow, 0, assigned)}
	final := make(map[string]int, len(evs)) // call id → index in ch.Calls
	for _, e := range evs {
		ch.Events = append(ch.Events, sql.EventRow{CallID: e.CallID, At: e.At, Type: string(e.Type), State: string(e.State),
			UnitID: e.UnitID, Reason: e.Reason, Actor: e.Actor})
		st := sql.CallState{CallID: e.CallID, State: string(e.State), UnitID: e.UnitID}
		switch e.Type {
		case dispatch.EventUnitLost, dispatch.EventUnitReleased, dispatch.EventAckTimeout, dispatch.EventPreempted:
			st.UnitID = "" // that unit no longer serves the call
		}
		if i, ok := final[e.CallID]; ok {
			ch.Calls[i] = st
		} else {
			final[e.CallID] = len(ch.Calls)
			ch.Calls = append(ch.Calls, st)
		}
		if e.Assignment != nil { // assigned, or destination_changed: the assignment as it stands now
			ch.Assignments = append(ch.Assignments, sql.AssignmentRow{Assignment: *e.Assignment, Seq: e.Seq})
		}
	}
	return ch
}

// outboxRow is the events' messages, all in one outbox row (nil for no events): for each
// event its message on ems.events, and for each assignment its message on ems.assignments,
// published before the event that announces it. born maps a call id to its record time on
// ems.calls, for the latency metric of its first assignment; newID gives the row its id.
func outboxRow(newID func() int64, evs []dispatch.Event, born map[string]time.Time) (*outRow, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	n := len(evs)
	for _, e := range evs {
		if e.Type == dispatch.EventAssigned {
			n++
		}
	}
	out := &outRow{row: sql.OutboxRow{ID: newID(), Msgs: make([]sql.OutboxMsg, 0, n)}, born: make([]time.Time, 0, n)}
	// The messages' values and keys share one buffer, enc; each keeps its own region of it (a
	// region already handed out stays valid when append moves the rest).
	enc := make([]byte, 0, 220*n)
	add := func(topic, key string, start int, b time.Time) { // the value is enc[start:]
		v := enc[start:len(enc):len(enc)]
		start = len(enc)
		enc = append(enc, key...)
		out.row.Msgs = append(out.row.Msgs, sql.OutboxMsg{Topic: topic, Key: enc[start:len(enc):len(enc)], Value: v})
		out.born = append(out.born, b)
	}
	var err error
	for _, e := range evs {
		if e.Type == dispatch.EventAssigned {
			start := len(enc)
			if enc, err = e.Assignment.AppendJSON(enc); err != nil {
				return nil, err
			}
			var b time.Time
			if e.Seq == 1 {
				b = born[e.CallID]
			}
			add(contract.TopicAssignments, e.CallID, start, b)
		}
		ie := contract.IncidentEvent{CallID: e.CallID, At: e.At.UTC(), Type: string(e.Type), State: string(e.State),
			UnitID: e.UnitID, Seq: e.Seq, Reason: e.Reason, Actor: e.Actor}
		start := len(enc)
		if enc, err = ie.AppendJSON(enc); err != nil {
			return nil, err
		}
		add(contract.TopicEvents, e.CallID, start, time.Time{})
	}
	return out, nil
}

// changedUnits drains the units whose state changed (and, with positions, those that only
// moved) from the engine, notes them for the coverage map, and returns their rows.
func (s *Service) changedUnits(positions bool) []sql.UnitRow {
	dirty := s.engine.DrainDirty(positions)
	s.cov.noteUnits(dirty)
	return unitRows(dirty)
}

// unitRows are the units' rows in the record.
func unitRows(units []dispatch.Unit) []sql.UnitRow {
	rows := make([]sql.UnitRow, len(units))
	for i, u := range units {
		rows[i] = sql.UnitRow{ID: u.ID, Kind: u.Kind, StationID: u.StationID, Status: u.Status, CallID: u.CallID, Pos: u.Pos,
			PingAt: u.PingAt, StatusAt: u.StatusAt, FlaggedAt: u.FlaggedAt, DeconUntil: u.DeconUntil}
	}
	return rows
}
