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
	"sync"
	"testing"
	"time"

	"github.com/ems120/ems120/sql/pgtemp"
)

// NeedPostgres skips the test when no PostgreSQL server binaries are installed (fails under
// EMS_REQUIRE_PG), for tests that start their own server.
func NeedPostgres(t testing.TB) {
	t.Helper()
	if _, err := pgtemp.BinDir(); err != nil {
		if os.Getenv("EMS_REQUIRE_PG") == "" {
			t.Skipf("skipping: %v", err)
		}
		t.Fatalf("PostgreSQL: %v", err)
	}
}

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

var shared struct {
	once sync.Once
	srv  *pgtemp.Server
	err  error
}

// SharedPostgres is Postgres for a whole test binary: one server, started on first use and
// stopped by Main. Tests that share it must use tables of their own.
func SharedPostgres(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared.srv, shared.err = pgtemp.Start(ctx)
	})
	if errors.Is(shared.err, pgtemp.ErrNoPostgres) && os.Getenv("EMS_REQUIRE_PG") == "" {
		t.Skipf("skipping: %v", shared.err)
	}
	if shared.err != nil {
		t.Fatalf("start PostgreSQL: %v", shared.err)
	}
	return shared.srv.DSN
}

// Main runs the tests and stops the shared server; use it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Close()
	}
	os.Exit(code)
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
