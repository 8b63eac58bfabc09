package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ems120/ems120/contract"
)

// HospitalState is a hospital's last accepted report as stored (the city's estimate until
// the first report).
type HospitalState struct {
	ID         string
	Accepting  bool
	Beds       map[string]contract.Beds
	ReportedAt time.Time // zero until the first report
}

// HospitalStates returns every hospital's stored state.
func (s *Store) HospitalStates(ctx context.Context) ([]HospitalState, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, accepting, beds, coalesce(reported_at, 'epoch') FROM hospitals ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("hospital states: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (HospitalState, error) {
		var h HospitalState
		var beds []byte
		if err := r.Scan(&h.ID, &h.Accepting, &beds, &h.ReportedAt); err != nil {
			return h, err
		}
		if h.ReportedAt.Equal(time.Unix(0, 0)) {
			h.ReportedAt = time.Time{}
		}
		return h, json.Unmarshal(beds, &h.Beds)
	})
}

// InsertCapacityReport records an accepted report in the history, with where it came from and
// who sent it ("" when it came straight from the topic), and makes it the hospital's state:
// its bed kinds replace the stored ones, others stay.
func (t *Tx) InsertCapacityReport(r contract.CapacityReport, source, actor string) error {
	beds, err := json.Marshal(r.Beds)
	if err != nil {
		return err
	}
	t.queue("capacity report "+r.HospitalID, `INSERT INTO capacity_reports (hospital_id, reported_at, accepting, beds, source, actor)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')) ON CONFLICT (hospital_id, reported_at) DO NOTHING`,
		r.HospitalID, r.ReportedAt, r.Accepting, beds, source, actor)
	t.queue("hospital "+r.HospitalID, `UPDATE hospitals SET beds = beds || $2::jsonb, accepting = $3, reported_at = $4 WHERE id = $1`,
		r.HospitalID, beds, r.Accepting, r.ReportedAt)
	return nil
}

// Booking is a bed a call holds: on the way, or handed over since the hospital's last report.
type Booking struct {
	Call       contract.Call // id, priority, category, infectious: what decides the bed kind
	HospitalID string
	HandedOver bool
	At         time.Time // when handed over
}

// Bookings returns the beds held by calls: live calls whose latest assignment names a
// hospital and whose patient is not there yet, and patients handed over after their
// hospital's last report (whether or not their call is still live).
func (s *Store) Bookings(ctx context.Context) ([]Booking, error) {
	rows, err := s.Pool.Query(ctx, `
		WITH latest AS (
			SELECT DISTINCT ON (call_id) call_id, hospital_id FROM assignments ORDER BY call_id, seq DESC)
		SELECT c.call_id, c.priority, c.category, c.infectious, l.hospital_id, false, 'epoch'::timestamptz
		FROM calls c JOIN latest l USING (call_id)
		WHERE l.hospital_id IS NOT NULL
		  AND c.status IN ('queued', 'assigned', 'acknowledged', 'en_route', 'on_scene', 'transporting')
		UNION ALL
		SELECT c.call_id, c.priority, c.category, c.infectious, l.hospital_id, true, e.at
		FROM incident_events e JOIN calls c USING (call_id) JOIN latest l USING (call_id)
		JOIN hospitals h ON h.id = l.hospital_id
		WHERE e.type = 'at_hospital' AND e.at > coalesce(h.reported_at, '-infinity')`)
	if err != nil {
		return nil, fmt.Errorf("bookings: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Booking, error) {
		var b Booking
		var prio int16
		var cat string
		err := r.Scan(&b.Call.CallID, &prio, &cat, &b.Call.Infectious, &b.HospitalID, &b.HandedOver, &b.At)
		b.Call.Priority, b.Call.Category = int(prio), contract.Category(cat)
		return b, err
	})
}
