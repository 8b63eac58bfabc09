package sql

import (
	"context"
	"fmt"

	"github.com/ems120/ems120/results"
)

// RunSummary fills the call counts and response figures of a live run from the record: every
// call received, what became of it, and the ETA and distance of its first assignment.
// A call is "lost" if it is in none of assigned, queued, cancelled — which must never happen.
// A duplicate is a call served by more than one unit at the end of the run (the unique index
// calls_one_live_incident_per_unit makes that impossible; the count proves it).
// Reassignments — a silent, lost, released or pre-empted unit, an operator's override —
// replace the live assignment and are not duplicates.
func (s *Store) RunSummary(ctx context.Context) (results.Summary, error) {
	var sum results.Summary
	var within15, within5, p50, p90 *float64
	err := s.Pool.QueryRow(ctx, `
		WITH first AS (SELECT DISTINCT ON (call_id) call_id, eta_s, distance_m FROM assignments ORDER BY call_id, seq)
		SELECT
			(SELECT count(*) FROM calls),
			(SELECT count(*) FROM calls c WHERE EXISTS (SELECT 1 FROM assignments a WHERE a.call_id = c.call_id)),
			(SELECT count(*) FROM calls WHERE status = 'queued'),
			(SELECT count(*) FROM calls WHERE status = 'cancelled'),
			(SELECT count(*) FROM calls c WHERE status NOT IN ('queued', 'cancelled')
				AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.call_id = c.call_id)),
			(SELECT count(*) FROM (SELECT call_id FROM units WHERE call_id IS NOT NULL GROUP BY call_id HAVING count(*) > 1) d),
			(SELECT 100.0 * avg((eta_s <= 900)::int) FROM first),
			(SELECT 100.0 * avg((distance_m <= 5000)::int) FROM first),
			(SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY eta_s) FROM first),
			(SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY eta_s) FROM first)`).
		Scan(&sum.Calls, &sum.Assigned, &sum.Queued, &sum.Cancelled, &sum.Lost, &sum.DuplicateAssignments, &within15, &within5, &p50, &p90)
	if err != nil {
		return sum, fmt.Errorf("summary: %w", err)
	}
	round := func(p *float64) *float64 {
		if p == nil {
			return nil
		}
		return results.F(*p)
	}
	sum.Within15MinPct, sum.Within5KmPct, sum.ResponseSP50, sum.ResponseSP90 = round(within15), round(within5), round(p50), round(p90)
	return sum, nil
}
