package sql

import (
	"context"
	"fmt"
	"strings"
)

// Finding is one invariant of the record that does not hold, with a few examples.
type Finding struct {
	Invariant string   `json:"invariant"`
	Count     int      `json:"count"`
	Examples  []string `json:"examples"`
}

// invariants are the record's rules, each a query that returns what breaks it (one text per
// row: the call or unit concerned and how).
var invariants = []struct{ name, query string }{
	{"every assignment's call exists", `SELECT a.call_id || ' seq ' || a.seq FROM assignments a
		WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = a.call_id)`},
	{"one live incident per unit", `SELECT unit_id || ' serves ' || string_agg(call_id, ', ') FROM calls
		WHERE unit_id IS NOT NULL AND status NOT IN ('received', 'queued', 'closed', 'cancelled')
		GROUP BY unit_id HAVING count(*) > 1`},
	{"a busy unit's call names it", `SELECT u.id || ' serves ' || u.call_id || ', which is ' || coalesce(c.status || ' with ' || coalesce(c.unit_id, 'no unit'), 'not recorded')
		FROM units u LEFT JOIN calls c ON c.call_id = u.call_id
		WHERE u.call_id IS NOT NULL AND (c.call_id IS NULL OR c.unit_id IS DISTINCT FROM u.id)`},
	{"every call decided or queued", `SELECT call_id || ' is ' || status FROM calls WHERE status = 'received'`},
	{"a live call's unit is on it", `SELECT c.call_id || ' (' || c.status || ') names ' || c.unit_id || ', which serves ' || coalesce(u.call_id, 'nothing')
		FROM calls c LEFT JOIN units u ON u.id = c.unit_id
		WHERE c.unit_id IS NOT NULL AND c.status NOT IN ('received', 'queued', 'closed', 'cancelled')
		AND u.call_id IS DISTINCT FROM c.call_id`},
	{"the event log begins with the call's receipt", `SELECT c.call_id FROM calls c
		WHERE NOT EXISTS (SELECT 1 FROM incident_events e WHERE e.call_id = c.call_id AND e.type = 'received')`},
	{"the event log ends in the call's state", `SELECT l.call_id || ': log ends ' || l.state || ', call is ' || c.status
		FROM (SELECT DISTINCT ON (call_id) call_id, state FROM incident_events ORDER BY call_id, id DESC) l
		JOIN calls c USING (call_id) WHERE l.state <> c.status`},
	{"every assignment is in the event log", `SELECT a.call_id || ': ' || count(DISTINCT a.seq) || ' assignments, ' ||
		(SELECT count(*) FROM incident_events e WHERE e.call_id = a.call_id AND e.type IN ('assigned', 'destination_changed')) || ' assigned or destination_changed events'
		FROM assignments a GROUP BY a.call_id
		HAVING count(DISTINCT a.seq) <> (SELECT count(*) FROM incident_events e WHERE e.call_id = a.call_id AND e.type IN ('assigned', 'destination_changed'))`},
	{"every event's call is recorded", `SELECT DISTINCT e.call_id FROM incident_events e
		WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = e.call_id)`},
}

// Check runs every invariant over the record in one snapshot and returns those that do not
// hold; none means the record is whole.
func (s *Store) Check(ctx context.Context) ([]Finding, error) {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`); err != nil {
		return nil, err
	}
	var out []Finding
	for _, inv := range invariants {
		rows, err := tx.Query(ctx, inv.query)
		if err != nil {
			return nil, fmt.Errorf("check %q: %w", inv.name, err)
		}
		f := Finding{Invariant: inv.name, Examples: []string{}}
		for rows.Next() {
			var ex string
			if err := rows.Scan(&ex); err != nil {
				rows.Close()
				return nil, err
			}
			if f.Count++; len(f.Examples) < 10 {
				f.Examples = append(f.Examples, ex)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("check %q: %w", inv.name, err)
		}
		if f.Count > 0 {
			out = append(out, f)
		}
	}
	return out, nil
}

// Invariants names what Check verifies.
func Invariants() []string {
	names := make([]string, len(invariants))
	for i, inv := range invariants {
		names[i] = inv.name
	}
	return names
}

// String is a finding as a line for people.
func (f Finding) String() string {
	return fmt.Sprintf("%s: %d broken, e.g. %s", f.Invariant, f.Count, strings.Join(f.Examples, "; "))
}
