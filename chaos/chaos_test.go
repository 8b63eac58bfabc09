package chaos_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ems120/ems120/chaos"
	"github.com/ems120/ems120/internal/testenv"
)

// A short chaos run with real processes — ten kill -9s of the active serve, one immediate
// PostgreSQL stop, one SIGSTOP past the lease — loses nothing, doubles nothing, and a standby
// takes over after every kill and pause.
func TestChaosLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ems120 and runs it as processes for about a minute")
	}
	testenv.NeedPostgres(t)
	exe := filepath.Join(t.TempDir(), "ems120")
	build := exec.Command("go", "build", "-o", exe, "github.com/ems120/ems120/cmd/ems120")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	sum, err := chaos.Run(ctx, chaos.Config{Exe: exe, Standby: 1, Rate: 100, Kills: 10, DBOutages: 1, Pauses: 1,
		Seed: 7, Dir: t.TempDir(), Progress: &progress})
	t.Logf("faults:\n%s", progress.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", sum)
	if sum.Failed() {
		t.Errorf("lost or doubled: %+v", sum)
	}
	if sum.Calls < 1000 || sum.Kills != 10 || sum.DBOutages != 1 || sum.Pauses != 1 || sum.Takeovers != 11 {
		t.Errorf("the run did not do what it was asked: %+v", sum)
	}
}
