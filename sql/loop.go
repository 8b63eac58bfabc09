package sql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNoCall is a call the record does not hold.
var ErrNoCall = errors.New("no such call in the record")

// ErrScreened is a second screening of one call.
var ErrScreened = errors.New("the call's patient was screened already")

// LoopRecord is a fever patient's closed loop as recorded: the call, where its unit took
// them, the screening, the linked transfer.
type LoopRecord struct {
	CallID             string     `json:"call_id"`
	Isolation          bool       `json:"-"`
	District           string     `json:"district,omitempty"`
	ReceivedAt         time.Time  `json:"received_at"`
	HospitalID         string     `json:"clinic_id,omitempty"` // the call's destination
	AtClinicAt         *time.Time `json:"at_clinic_at"`
	Outcome            string     `json:"outcome,omitempty"`
	ScreenedAt         *time.Time `json:"screened_at"`
	ScreenedBy         string     `json:"screened_by,omitempty"`
	TransferID         string     `json:"transfer_call_id,omitempty"`
	TransferReceivedAt *time.Time `json:"transfer_received_at"`
	DestinationID      string     `json:"destination_id,omitempty"`
	AdmittedAt         *time.Time `json:"admitted_at"`
}

// Loop reads a call's loop; ErrNoCall when the call is not in the record.
func (s *Store) Loop(ctx context.Context, callID string) (LoopRecord, error) {
	var l LoopRecord
	err := s.Pool.QueryRow(ctx, `SELECT c.call_id, c.category = 'fever' OR c.infectious, c.received_at,
			coalesce((SELECT d.code FROM districts d WHERE ST_Contains(d.boundary, c.geom) ORDER BY d.code LIMIT 1), ''),
			coalesce((SELECT hospital_id FROM assignments WHERE call_id = c.call_id ORDER BY seq DESC LIMIT 1), ''),
			(SELECT min(at) FROM incident_events WHERE call_id = c.call_id AND type = 'at_hospital'),
			coalesce(s.outcome, ''), s.at, coalesce(s.actor, ''), coalesce(s.transfer_call_id, ''), t.received_at,
			coalesce((SELECT hospital_id FROM assignments WHERE call_id = s.transfer_call_id ORDER BY seq DESC LIMIT 1), ''),
			(SELECT min(at) FROM incident_events WHERE call_id = s.transfer_call_id AND type = 'at_hospital')
		FROM calls c LEFT JOIN screenings s USING (call_id) LEFT JOIN calls t ON t.call_id = s.transfer_call_id
		WHERE c.call_id = $1`, callID).Scan(&l.CallID, &l.Isolation, &l.ReceivedAt, &l.District, &l.HospitalID, &l.AtClinicAt,
		&l.Outcome, &l.ScreenedAt, &l.ScreenedBy, &l.TransferID, &l.TransferReceivedAt, &l.DestinationID, &l.AdmittedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, fmt.Errorf("%w: %s", ErrNoCall, callID)
	}
	if err != nil {
		return l, fmt.Errorf("loop of %s: %w", callID, err)
	}
	return l, nil
}

// InsertScreening records the screening of a call's patient at a fever clinic, and the
// transfer it set off (empty for none); a second one is ErrScreened.
func (s *Store) InsertScreening(ctx context.Context, callID, outcome, actor, clinicID, transferID string, at time.Time) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO screenings (call_id, outcome, at, actor, clinic_id, transfer_call_id)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''))`, callID, outcome, at, actor, clinicID, transferID)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrScreened, callID)
	}
	return err
}
