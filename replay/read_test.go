package replay

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/simulator"
)

// Every kind of unusable row is rejected with its own reason and counted; the usable rows
// become calls in time order with their offsets; non-EMS rows are skipped, not rejected.
func TestReadReplayRejectsBadRows(t *testing.T) {
	csv := `lat,lng,title,timeStamp
30.5928,114.3055,EMS: CARDIAC EMERGENCY,2015-12-10 17:40:00
30.60,114.27,EMS: FALL VICTIM,2015-12-10 17:30:00
30.60,114.27,Fire: GAS-ODOR/LEAK,2015-12-10 17:41:00
91,114.27,EMS: FEVER,2015-12-10 17:42:00
NaN,114.27,EMS: FEVER,2015-12-10 17:42:00
abc,114.27,EMS: FEVER,2015-12-10 17:42:00
30.60,200,EMS: FEVER,2015-12-10 17:42:00
30.60,114.27,EMS: FEVER,yesterday
30.60,114.27,EMS: FEVER
"30.60,114.27,EMS: FEVER,2015-12-10 17:42:00
`
	rp, err := Read(strings.NewReader(csv), DefaultSource, city.Wuhan())
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Calls) != 2 || rp.Skipped != 1 {
		t.Fatalf("%d calls, %d skipped; want 2 and 1 (rejected %v)", len(rp.Calls), rp.Skipped, rp.Rejected)
	}
	// In time order: the fall (17:30) first, the cardiac call ten minutes later.
	if rp.Calls[0].Category != contract.CategoryTrauma || rp.Calls[1].Category != contract.CategoryCardiac || rp.Calls[1].Priority != 1 ||
		rp.Offsets[0] != 0 || rp.Offsets[1] != 10*time.Minute {
		t.Fatalf("calls %+v offsets %v", rp.Calls, rp.Offsets)
	}
	if rp.Calls[0].CallID != "RP-3" || rp.Calls[1].CallID != "RP-2" {
		t.Errorf("call ids %q, %q: want RP-<line>", rp.Calls[0].CallID, rp.Calls[1].CallID)
	}
	for reason, n := range map[string]int{"lat: out of range": 1, "lat: not a number": 2, "lng: out of range": 1,
		"time: not in the format 2006-01-02 15:04:05": 1, "3 fields, the header has 4": 1} {
		if rp.Rejected[reason] != n {
			t.Errorf("rejected for %q: %d, want %d (all: %v)", reason, rp.Rejected[reason], n, rp.Rejected)
		}
	}
	if rp.RejectedTotal() != 7 || rp.Rows != 10 {
		t.Errorf("%d rejected of %d rows, want 7 of 10: %v", rp.RejectedTotal(), rp.Rows, rp.Rejected)
	}
	// -limit counts the rows selected (the Fire row is not): two calls and the lat-91 row.
	limited := DefaultSource
	limited.Limit = 3
	rp, err = Read(strings.NewReader(csv), limited, city.Wuhan())
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Calls) != 2 || rp.RejectedTotal() != 1 || rp.Rejected["lat: out of range"] != 1 {
		t.Errorf("with -limit 3: %d calls, rejected %v; want 2 and the lat-91 row", len(rp.Calls), rp.Rejected)
	}
	if _, err := Read(strings.NewReader("x,y\n1,2\n"), DefaultSource, city.Wuhan()); err == nil {
		t.Error("a file without the lat column was accepted")
	}
}

// Relocation keeps the distances between calls, and what lands outside the city is rejected.
func TestReadReplayRelocateKeepsDistances(t *testing.T) {
	csv := "lat,lng,title,timeStamp\n" +
		"40.20,-75.40,EMS: A,2015-12-10 10:00:00\n" +
		"40.21,-75.40,EMS: B,2015-12-10 10:01:00\n" +
		"40.20,-75.38,EMS: C,2015-12-10 10:02:00\n" +
		"40.22,-75.39,EMS: D,2015-12-10 10:03:00\n" +
		"40.95,-75.40,EMS: FAR,2015-12-10 10:04:00\n"
	src := DefaultSource
	src.Relocate = true
	rp, err := Read(strings.NewReader(csv), src, city.Wuhan())
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Calls) != 4 || rp.RejectedTotal() != 1 {
		t.Fatalf("%d calls, rejected %v; want 4 and the far row", len(rp.Calls), rp.Rejected)
	}
	orig := []city.Point{{Lat: 40.20, Lng: -75.40}, {Lat: 40.21, Lng: -75.40}, {Lat: 40.20, Lng: -75.38}, {Lat: 40.22, Lng: -75.39}}
	for i := range orig {
		for j := i + 1; j < len(orig); j++ {
			a, b := city.Point{Lat: rp.Calls[i].Lat, Lng: rp.Calls[i].Lng}, city.Point{Lat: rp.Calls[j].Lat, Lng: rp.Calls[j].Lng}
			want, got := city.DistanceM(orig[i], orig[j]), city.DistanceM(a, b)
			if math.Abs(got-want) > 0.02*want {
				t.Errorf("calls %d–%d: %.0f m apart after the move, %.0f m before", i, j, got, want)
			}
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add("lat,lng,title,timeStamp\n30.59,114.30,EMS: X,2015-12-10 10:00:00\n")
	f.Add("lat,lng,title,timeStamp\n\"30.59,1\n")
	f.Add("\ufefflat,lng,timeStamp\n1e400,-0,2015-12-10 10:00:00\n")
	c := city.Wuhan()
	f.Fuzz(func(t *testing.T, s string) {
		rp, err := Read(strings.NewReader(s), DefaultSource, c)
		if err != nil {
			return
		}
		if len(rp.Calls) != len(rp.Offsets) || len(rp.Calls)+rp.Skipped+rp.RejectedTotal() > rp.Rows {
			t.Fatalf("%d calls, %d offsets, %d skipped, %d rejected of %d rows", len(rp.Calls), len(rp.Offsets), rp.Skipped, rp.RejectedTotal(), rp.Rows)
		}
		for _, c := range rp.Calls {
			if math.IsNaN(c.Lat) || c.Lat < -90 || c.Lat > 90 {
				t.Fatalf("call %+v", c)
			}
		}
	})
}

func montco(t testing.TB) File {
	t.Helper()
	path := filepath.Join(testenv.SharedData(t, "montco"), "calls.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := DefaultSource
	src.Relocate = true
	rp, err := Read(f, src, city.Wuhan())
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// The real 911 stream: 9,226 rows, of which the EMS ones are used; the rows with
// coordinates outside the county are among the rejected; every row is accounted for; and the
// simulator serves every usable call.
func TestReplayMontcoSimulated(t *testing.T) {
	rp := montco(t)
	if rp.Rows != 9226 {
		t.Fatalf("%d rows, the file has 9,226", rp.Rows)
	}
	if len(rp.Calls)+rp.Skipped+rp.RejectedTotal() != rp.Rows {
		t.Fatalf("%d calls + %d skipped + %d rejected != %d rows", len(rp.Calls), rp.Skipped, rp.RejectedTotal(), rp.Rows)
	}
	if ems := len(rp.Calls) + rp.RejectedTotal(); ems != 4607 {
		t.Fatalf("%d EMS rows, the file has 4,607", ems)
	}
	if rp.RejectedTotal() < 3 || len(rp.Calls) < 4000 {
		t.Fatalf("%d calls, %d rejected (%v): the three out-of-county rows must be rejected, most rows used", len(rp.Calls), rp.RejectedTotal(), rp.Rejected)
	}
	r, err := Simulate(rp, 10, simulator.Config{City: city.Wuhan(), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Summary
	if s.Calls != 4607 || s.Rejected != rp.RejectedTotal() || s.Lost != 0 || s.DuplicateAssignments != 0 ||
		s.Assigned+s.Queued+s.Cancelled != len(rp.Calls) {
		t.Fatalf("summary %+v for %d usable calls", s, len(rp.Calls))
	}
}
