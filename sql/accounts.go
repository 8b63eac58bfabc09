package sql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Account is a person or a machine client who may use ems120, with one role.
type Account struct {
	ID           int64
	Name         string
	Role         string
	HospitalID   string // a reporter's hospital; "" otherwise
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
	CreatedBy    string
}

// ErrAccountExists is an account added under a name already taken.
var ErrAccountExists = errors.New("an account with that name exists")

// AddAccount stores a new account with its first API token (stored as tokenHash) and returns
// its id. A taken name is ErrAccountExists — unless reseed, which gives the existing account
// this role, hospital and password, enables it and adds the token (the demo's accounts). An
// unknown hospital or a name the schema refuses is an error naming it.
func (s *Store) AddAccount(ctx context.Context, a Account, tokenHash []byte, reseed bool) (int64, error) {
	q := `INSERT INTO accounts (name, role, hospital_id, password_hash, created_by) VALUES ($1, $2, NULLIF($3, ''), $4, $5)`
	if reseed {
		q += ` ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, hospital_id = EXCLUDED.hospital_id,
			password_hash = EXCLUDED.password_hash, disabled = false`
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, q+` RETURNING id`, a.Name, a.Role, a.HospitalID, a.PasswordHash, a.CreatedBy).Scan(&id); err != nil {
			return accountError(err, a)
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_tokens (hash, account_id) VALUES ($1, $2)`, tokenHash, id)
		return err
	})
	return id, err
}

func accountError(err error, a Account) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == "23505":
		return fmt.Errorf("%w: %q", ErrAccountExists, a.Name)
	case pe.Code == "23503":
		return fmt.Errorf("no hospital %q", a.HospitalID)
	case pe.Code == "23514" && pe.ConstraintName == "accounts_name_check":
		return fmt.Errorf("name %q: 2 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", a.Name)
	case pe.Code == "23514":
		return fmt.Errorf("role %q with hospital %q: a reporter needs a hospital, and only a reporter has one", a.Role, a.HospitalID)
	}
	return err
}

// DisableAccount disables the named account and ends its sessions; its tokens stop working
// with it. ErrNotFound when there is no such account.
func (s *Store) DisableAccount(ctx context.Context, name string) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `UPDATE accounts SET disabled = true WHERE name = $1 RETURNING id`, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE account_id = $1`, id)
		return err
	})
}

// Accounts lists every account by name (without their password hashes).
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, name, role, coalesce(hospital_id, ''), disabled, created_at, created_by
		FROM accounts ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Account, error) {
		var a Account
		err := r.Scan(&a.ID, &a.Name, &a.Role, &a.HospitalID, &a.Disabled, &a.CreatedAt, &a.CreatedBy)
		return a, err
	})
}

// AccountByName returns the named account with its password hash, or ErrNotFound.
func (s *Store) AccountByName(ctx context.Context, name string) (Account, error) {
	var a Account
	err := s.Pool.QueryRow(ctx, `SELECT id, name, role, coalesce(hospital_id, ''), password_hash, disabled, created_at, created_by
		FROM accounts WHERE name = $1`, name).
		Scan(&a.ID, &a.Name, &a.Role, &a.HospitalID, &a.PasswordHash, &a.Disabled, &a.CreatedAt, &a.CreatedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

// Holder is an enabled account found by a token or a session.
type Holder struct {
	Account
	CSRF      string    // a session's CSRF token
	ExpiresAt time.Time // a session's expiry; zero for a token
}

// AccountByToken returns the enabled account holding the token whose hash is given, or
// ErrNotFound.
func (s *Store) AccountByToken(ctx context.Context, tokenHash []byte) (Holder, error) {
	var h Holder
	err := s.Pool.QueryRow(ctx, `SELECT a.id, a.name, a.role, coalesce(a.hospital_id, '')
		FROM api_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.hash = $1 AND NOT a.disabled`, tokenHash).
		Scan(&h.ID, &h.Name, &h.Role, &h.HospitalID)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, ErrNotFound
	}
	return h, err
}

// CreateSession stores a session for the account until expires, and drops expired sessions.
func (s *Store) CreateSession(ctx context.Context, hash []byte, accountID int64, csrf string, expires time.Time) error {
	_, err := s.Pool.Exec(ctx, `WITH gone AS (DELETE FROM sessions WHERE expires_at < now())
		INSERT INTO sessions (hash, account_id, csrf, expires_at) VALUES ($1, $2, $3, $4)`, hash, accountID, csrf, expires)
	return err
}

// SessionHolder returns the enabled account of the unexpired session whose hash is given, or
// ErrNotFound.
func (s *Store) SessionHolder(ctx context.Context, hash []byte) (Holder, error) {
	var h Holder
	err := s.Pool.QueryRow(ctx, `SELECT a.id, a.name, a.role, coalesce(a.hospital_id, ''), s.csrf, s.expires_at
		FROM sessions s JOIN accounts a ON a.id = s.account_id
		WHERE s.hash = $1 AND s.expires_at > now() AND NOT a.disabled`, hash).
		Scan(&h.ID, &h.Name, &h.Role, &h.HospitalID, &h.CSRF, &h.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, ErrNotFound
	}
	return h, err
}

// EndSession deletes a session (sign-out).
func (s *Store) EndSession(ctx context.Context, hash []byte) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}
