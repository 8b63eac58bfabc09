package sql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Leadership: one active service per name (migration 0009). A service takes the lease when
// it has expired, renews it well inside its term, and writes only under its epoch (Fence).

// Lease is the state of a leadership lease.
type Lease struct {
	Name   string
	Holder string // who holds it: host, process id and a random tag
	HTTP   string // the holder's HTTP address, for a standby to name
	Epoch  int64
	// Expired: nobody holds it now. Vacant: the previous holder's last renewal was this long
	// before the lease was taken (how long the service had no leader, or up to a renewal
	// interval more).
	Expired bool
	Vacant  time.Duration
}

// ErrFenced is returned by a write refused because the lease has moved to a newer epoch.
var ErrFenced = errors.New("fenced: another process has taken the lease")

// IsFenced reports whether err is a write refused by the fence.
func IsFenced(err error) bool {
	var pe *pgconn.PgError
	return errors.Is(err, ErrFenced) || errors.As(err, &pe) && pe.Code == "EMS01"
}

// Acquire takes the lease for holder if nobody holds it (it never existed or has expired),
// raising its epoch; ok is false when another holder has it, whose Lease is returned.
func (s *Store) Acquire(ctx context.Context, name, holder, http string, ttl time.Duration) (l Lease, ok bool, err error) {
	// A look without a lock first: a standby polls, and a lock on the row would hold up the
	// active service's fenced writes.
	if cur, exists, err := s.CurrentLease(ctx, name); err != nil {
		return Lease{}, false, fmt.Errorf("lease %s: %w", name, err)
	} else if exists && !cur.Expired {
		return cur, false, nil
	}
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		l = Lease{Name: name}
		var vacant float64
		// Wait for the writes in flight under the old epoch (ems_fence), but never long: the
		// next poll tries again.
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '500ms'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(1162695474, ems_lease_key($1))`, name); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT holder, http, epoch, expires_at < now(), extract(epoch FROM now() - renewed_at)
			FROM leases WHERE name = $1 FOR UPDATE`, name).Scan(&l.Holder, &l.HTTP, &l.Epoch, &l.Expired, &vacant)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			l.Expired = true
		case err != nil:
			return err
		case !l.Expired:
			return nil
		default:
			l.Vacant = time.Duration(vacant * float64(time.Second))
		}
		l.Holder, l.HTTP, l.Epoch, ok = holder, http, l.Epoch+1, true
		_, err = tx.Exec(ctx, `INSERT INTO leases (name, holder, http, epoch, expires_at, renewed_at, taken_at)
			VALUES ($1, $2, $3, $4, now() + $5 * interval '1 microsecond', now(), now())
			ON CONFLICT (name) DO UPDATE SET holder = $2, http = $3, epoch = $4, expires_at = excluded.expires_at,
				renewed_at = now(), taken_at = now()`, name, holder, http, l.Epoch, ttl.Microseconds())
		return err
	})
	if err != nil {
		return Lease{}, false, fmt.Errorf("lease %s: %w", name, err)
	}
	return l, ok, nil
}

// Renew extends the lease held at epoch by ttl from now; ErrFenced when it is no longer held
// at that epoch.
func (s *Store) Renew(ctx context.Context, name string, epoch int64, ttl time.Duration) error {
	tag, err := s.Pool.Exec(ctx, `UPDATE leases SET expires_at = now() + $3 * interval '1 microsecond', renewed_at = now()
		WHERE name = $1 AND epoch = $2`, name, epoch, ttl.Microseconds())
	if err != nil {
		return fmt.Errorf("renew lease %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrFenced
	}
	return nil
}

// Release gives the lease up at once (a graceful stop), so that a standby need not wait for
// it to expire.
func (s *Store) Release(ctx context.Context, name string, epoch int64) error {
	_, err := s.Pool.Exec(ctx, `UPDATE leases SET expires_at = now(), renewed_at = now() WHERE name = $1 AND epoch = $2`, name, epoch)
	return err
}

// CurrentLease reads the lease as it is; ok is false if it was never taken.
func (s *Store) CurrentLease(ctx context.Context, name string) (l Lease, ok bool, err error) {
	l.Name = name
	err = s.Pool.QueryRow(ctx, `SELECT holder, http, epoch, expires_at < now() FROM leases WHERE name = $1`, name).
		Scan(&l.Holder, &l.HTTP, &l.Epoch, &l.Expired)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, false, nil
	}
	return l, err == nil, err
}

// fence is the lease a store writes under. 1162695474 ("EMS2") is the class of the lease's
// advisory lock in ems_fence and Acquire.
type fence struct {
	name  string
	epoch int64
}

// Fence makes every write of the store check, inside its transaction, that the lease name is
// still at epoch (ems_fence), and moves the outbox ids up to that epoch's range. Epoch 0 turns
// the check off.
func (s *Store) Fence(name string, epoch int64) {
	if epoch == 0 {
		s.fence.Store(nil)
	} else {
		s.fence.Store(&fence{name, epoch})
	}
	// Outbox ids jump to the epoch's range and never go back.
	for base := epoch << outboxEpochShift; ; {
		cur := s.outboxSeq.Load()
		if cur >= base || s.outboxSeq.CompareAndSwap(cur, base) {
			return
		}
	}
}

// Epoch is the epoch the store writes under; 0 when unfenced.
func (s *Store) Epoch() int64 {
	if f := s.fence.Load(); f != nil {
		return f.epoch
	}
	return 0
}

const fenceSQL = `SELECT ems_fence($1, $2)`

// execFenced runs one statement in a transaction of its own — after the fence, when the store
// has one — sent in one round trip (InTx). A leading pgx.QueryExecModeExec (plan for these
// arguments) becomes SET LOCAL plan_cache_mode = force_custom_plan, which a pipelined
// transaction can carry.
func (s *Store) execFenced(ctx context.Context, sql string, args ...any) error {
	custom := len(args) > 0 && args[0] == pgx.QueryExecModeExec
	if custom {
		args = args[1:]
	}
	return s.InTx(ctx, func(t *Tx) error {
		if custom {
			t.customPlan("statement", sql, args...)
		} else {
			t.queue("statement", sql, args...)
		}
		return nil
	})
}
