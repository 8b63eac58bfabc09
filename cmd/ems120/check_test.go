package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/sql"
)

// ems120 check passes a whole record, and names what is broken in one that is not, with exit
// status 1 (errCheckFailed).
func TestCheckCommand(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	if _, err := sql.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	env := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"check", "-db", dsn}, env, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "ok:") {
		t.Fatalf("an empty record: %v, %q", err, out.String())
	}
	st, err := sql.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Pool.Exec(ctx, `INSERT INTO assignments (call_id, seq, unit_id, decided_at, eta_s, distance_m, within_standard, reason)
		VALUES ('GHOST-1', 1, 'A-001', now(), 60, 500, true, 'nearest')`); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = run(ctx, []string{"check", "-db", dsn}, env, &out, &errOut)
	if !errors.Is(err, errCheckFailed) || !strings.Contains(out.String(), "BROKEN every assignment's call exists: 1 broken, e.g. GHOST-1 seq 1") {
		t.Errorf("an assignment without its call: %v, %q", err, out.String())
	}
}
