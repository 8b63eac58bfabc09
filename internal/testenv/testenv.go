// Package testenv gives tests the real parts they run against — a throwaway PostgreSQL with
// PostGIS and the shared data directory — and skips, saying why, when a part is missing.
// Under `make test` EMS_REQUIRE_PG=1 is set, so a missing PostgreSQL fails instead of skipping.
package testenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ems120/ems120/sql/pgtemp"
)

// Postgres starts a throwaway PostgreSQL for the test and returns the DSN of an empty
// database; the server is removed when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := pgtemp.Start(ctx)
	if errors.Is(err, pgtemp.ErrNoPostgres) && os.Getenv("EMS_REQUIRE_PG") == "" {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.DSN
}

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// SharedData returns ../shared/data/<sub> beside the repository, or skips the test with a
// message when it is absent.
func SharedData(t testing.TB, sub string) string {
	t.Helper()
	p := filepath.Join(Root(), "..", "shared", "data", sub)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("skipping: needs the shared data at %s, which is absent (%v)", p, err)
	}
	return p
}
