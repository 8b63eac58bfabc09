package sql

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// What the console's analyst view reads: response compliance by hour and by district since a
// time, and the calls themselves for download. The same figures as the views
// v_response_by_hour and v_response_by_district, over a window.

// ResponseRow is one row of response compliance (an hour of the day, or a district).
type ResponseRow struct {
	Key               string   `json:"key"`            // the local hour (0–23) or the district code
	Name              string   `json:"name,omitempty"` // the district's name
	Calls             int      `json:"calls"`
	Assigned          int      `json:"assigned"`
	WithinStandardPct *float64 `json:"within_standard_pct"`
	ETASP50           *float64 `json:"eta_s_p50"`
	ETASP90           *float64 `json:"eta_s_p90"`
	Arrived           int      `json:"arrived"`
	ResponseSP50      *float64 `json:"response_s_p50"`
	ResponseSP90      *float64 `json:"response_s_p90"`
}

// responseQuery groups v_call_response since $1 by the given key expression.
const responseQuery = `
	SELECT %s, %s, count(*), count(r.eta_s),
	       round(100.0 * avg(r.within_standard::int), 1)::float8,
	       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.eta_s), percentile_cont(0.9) WITHIN GROUP (ORDER BY r.eta_s),
	       count(r.response_s),
	       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.response_s), percentile_cont(0.9) WITHIN GROUP (ORDER BY r.response_s)
	FROM v_call_response r LEFT JOIN districts d ON d.code = r.district
	WHERE r.received_at >= $1 GROUP BY 1 ORDER BY 1`

// ResponseByHour is response compliance by local hour of receipt, for calls since `since`.
func (s *Store) ResponseByHour(ctx context.Context, since time.Time) ([]ResponseRow, error) {
	return s.response(ctx, "lpad(r.local_hour::text, 2, '0')", "''", since)
}

// ResponseByDistrict is response compliance by district, for calls since `since`.
func (s *Store) ResponseByDistrict(ctx context.Context, since time.Time) ([]ResponseRow, error) {
	return s.response(ctx, "coalesce(r.district, '')", "coalesce(max(d.name), '')", since)
}

func (s *Store) response(ctx context.Context, key, name string, since time.Time) ([]ResponseRow, error) {
	rows, err := s.Pool.Query(ctx, fmt.Sprintf(responseQuery, key, name), since)
	if err != nil {
		return nil, fmt.Errorf("response figures: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ResponseRow, error) {
		var v ResponseRow
		err := r.Scan(&v.Key, &v.Name, &v.Calls, &v.Assigned, &v.WithinStandardPct, &v.ETASP50, &v.ETASP90, &v.Arrived,
			&v.ResponseSP50, &v.ResponseSP90)
		return v, err
	})
}

// CallExport is one call for download.
type CallExport struct {
	CallID         string
	ReceivedAt     time.Time
	Lat, Lng       float64
	Priority       int
	Category       string
	Infectious     bool
	Status         string
	District       string
	ETAS           *int
	DistanceM      *int
	WithinStandard *bool
	ResponseS      *float64
}

// ExportCalls calls fn for every call received since `since`, oldest first.
func (s *Store) ExportCalls(ctx context.Context, since time.Time, fn func(CallExport) error) error {
	rows, err := s.Pool.Query(ctx, `SELECT r.call_id, r.received_at, ST_Y(c.geom), ST_X(c.geom), r.priority, r.category,
		c.infectious, r.status, coalesce(r.district, ''), r.eta_s, r.distance_m, r.within_standard, r.response_s
		FROM v_call_response r JOIN calls c USING (call_id) WHERE r.received_at >= $1 ORDER BY r.received_at, r.call_id`, since)
	if err != nil {
		return fmt.Errorf("export calls: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c CallExport
		var prio int16
		if err := rows.Scan(&c.CallID, &c.ReceivedAt, &c.Lat, &c.Lng, &prio, &c.Category, &c.Infectious, &c.Status,
			&c.District, &c.ETAS, &c.DistanceM, &c.WithinStandard, &c.ResponseS); err != nil {
			return fmt.Errorf("export calls: %w", err)
		}
		c.Priority = int(prio)
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// LiveAssignments returns the standing assignment of every live call that has one.
func (s *Store) LiveAssignments(ctx context.Context) (map[string]AssignmentRow, error) {
	rows, err := s.Pool.Query(ctx, `SELECT DISTINCT ON (a.call_id) a.call_id, a.unit_id, a.decided_at, a.eta_s, a.distance_m,
		a.within_standard, coalesce(a.hospital_id, ''), a.reason, a.seq
		FROM assignments a JOIN calls c USING (call_id)
		WHERE c.status NOT IN ('closed', 'cancelled') ORDER BY a.call_id, a.seq DESC`)
	if err != nil {
		return nil, fmt.Errorf("live assignments: %w", err)
	}
	out := map[string]AssignmentRow{}
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		var a AssignmentRow
		var seq int32
		err := r.Scan(&a.CallID, &a.UnitID, &a.DecidedAt, &a.ETAS, &a.DistanceM, &a.WithinStandard, &a.HospitalID, &a.Reason, &seq)
		a.Seq = int(seq)
		out[a.CallID] = a
		return struct{}{}, err
	})
	return out, err
}

// Guidance is the share of calls received since a time with a unit en route within 3
// minutes of receipt, and of those assigned whose first unit was inside 5 km / 15 min.
type Guidance struct {
	Calls                int      `json:"calls"`
	EnRouteWithin3MinPct *float64 `json:"en_route_within_3min_pct"`
	Assigned             int      `json:"assigned"`
	WithinStandardPct    *float64 `json:"within_5km_15min_pct"`
}

// GuidanceSince computes Guidance over the calls received since `since` (v_guidance_by_day
// is the same by local day).
func (s *Store) GuidanceSince(ctx context.Context, since time.Time) (Guidance, error) {
	var g Guidance
	var within3, withinStd int
	err := s.Pool.QueryRow(ctx, `WITH c AS (SELECT call_id, received_at FROM calls WHERE received_at >= $1),
		er AS (SELECT e.call_id, min(e.at) AS at FROM incident_events e JOIN c USING (call_id)
			WHERE e.type = 'en_route' GROUP BY e.call_id),
		f AS (SELECT DISTINCT ON (a.call_id) a.call_id, a.within_standard FROM assignments a JOIN c USING (call_id)
			ORDER BY a.call_id, a.seq)
		SELECT count(*), count(*) FILTER (WHERE er.at - c.received_at <= interval '3 minutes'),
			count(f.call_id), count(*) FILTER (WHERE f.within_standard)
		FROM c LEFT JOIN er USING (call_id) LEFT JOIN f USING (call_id)`, since).Scan(&g.Calls, &within3, &g.Assigned, &withinStd)
	if err != nil {
		return g, fmt.Errorf("guidance figures: %w", err)
	}
	if g.Calls > 0 {
		v := math.Round(1000*float64(within3)/float64(g.Calls)) / 10
		g.EnRouteWithin3MinPct = &v
	}
	if g.Assigned > 0 {
		v := math.Round(1000*float64(withinStd)/float64(g.Assigned)) / 10
		g.WithinStandardPct = &v
	}
	return g, nil
}
