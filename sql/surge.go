package sql

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SurgeRow is a switch of surge mode as recorded: on or off, when, why, by whom (empty for
// an automatic switch).
type SurgeRow struct {
	At     time.Time `json:"at"`
	On     bool      `json:"on"`
	Reason string    `json:"reason"`
	Actor  string    `json:"actor,omitempty"`
	Auto   bool      `json:"auto"`
}

// SurgeSwitches returns the last n switches, newest first.
func (s *Store) SurgeSwitches(ctx context.Context, n int) ([]SurgeRow, error) {
	rows, err := s.Pool.Query(ctx, `SELECT at, surge_on, reason, coalesce(actor, ''), auto FROM surge_switches
		ORDER BY id DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("surge switches: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SurgeRow, error) {
		var v SurgeRow
		err := r.Scan(&v.At, &v.On, &v.Reason, &v.Actor, &v.Auto)
		return v, err
	})
}

// LastSurge returns the last switch; ok is false when there has been none.
func (s *Store) LastSurge(ctx context.Context) (SurgeRow, bool, error) {
	rows, err := s.SurgeSwitches(ctx, 1)
	if err != nil || len(rows) == 0 {
		return SurgeRow{}, false, err
	}
	return rows[0], true, nil
}
