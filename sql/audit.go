package sql

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is one line of the audit trail: who did (or tried) what, and what was answered.
type AuditEntry struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Role       string    `json:"role,omitempty"`
	Action     string    `json:"action"`
	CallID     string    `json:"call_id,omitempty"`
	HospitalID string    `json:"hospital_id,omitempty"`
	Status     int       `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	Address    string    `json:"address,omitempty"`
}

// Audit appends an entry to the audit trail (at the database's clock when At is zero).
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO audit_log (at, actor, role, action, call_id, hospital_id, status, reason, address)
		VALUES (coalesce($1, now()), $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''), $7, $8, $9)`,
		timeOrNil(e.At), e.Actor, e.Role, e.Action, e.CallID, e.HospitalID, e.Status, e.Reason, e.Address)
	return err
}

// AuditFilter selects audit entries; zero fields select everything.
type AuditFilter struct {
	Actor  string
	CallID string
	Since  time.Time
	Until  time.Time
	Limit  int // default and maximum 1,000
}

// AuditLog returns the entries the filter selects, newest first.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, at, actor, role, action, coalesce(call_id, ''), coalesce(hospital_id, ''),
		status, reason, address FROM audit_log
		WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR call_id = $2)
		AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)
		ORDER BY id DESC LIMIT $5`, f.Actor, f.CallID, timeOrNil(f.Since), timeOrNil(f.Until), f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Role, &e.Action, &e.CallID, &e.HospitalID, &e.Status, &e.Reason, &e.Address)
		return e, err
	})
}
