package loadtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/replay"
)

// montco reads the real 911 stream, moved onto Wuhan (the test skips when the shared data is
// absent).
func montco(t *testing.T) replay.File {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.SharedData(t, "montco"), "calls.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := replay.DefaultSource
	src.Relocate = true
	rp, err := replay.Read(f, src, city.Wuhan())
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// The first EMS calls of the real stream onto the calls topic, end to end, at 20,000× their
// pace: each assigned exactly once, none lost; replaying them again changes nothing.
func TestReplayMontcoLive(t *testing.T) {
	rp := montco(t)
	rp.Calls, rp.Offsets = rp.Calls[:150], rp.Offsets[:150]
	rp.Rejected = map[string]int{}
	dsn := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := ReplayConfig{Speed: 20000, City: city.Wuhan(), DSN: dsn}
	res, err := Replay(ctx, cfg, rp)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	if s.Calls != 150 || s.Assigned+s.Queued != 150 || s.Lost != 0 || s.DuplicateAssignments != 0 || s.Within15MinPct == nil {
		t.Fatalf("summary %+v: want 150 calls, each assigned or queued once", s)
	}
}
