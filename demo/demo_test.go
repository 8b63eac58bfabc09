package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/access"
	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/sql"
)

// The whole demo, briefly and quickly: calls flow in, units are dispatched, the simulated
// crews drive, finish and free their units, and the summary accounts for every call.
func TestDemo(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	creds := filepath.Join(t.TempDir(), "credentials.json")
	var status bytes.Buffer
	sum, err := Run(ctx, Config{
		KafkaListen: "127.0.0.1:0", DSN: dsn, HTTPAddr: "127.0.0.1:0",
		RatePerMin: 600, Speed: 200, Duration: 12 * time.Second, Seed: 3,
		Logger: slog.New(slog.DiscardHandler), Credentials: creds, Status: &status,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Calls < 30 {
		t.Fatalf("only %d calls in 12 s at 10/s", sum.Calls)
	}
	if sum.Lost != 0 || sum.DuplicateAssignments != 0 {
		t.Fatalf("summary %+v: lost or duplicated calls", sum)
	}
	if sum.Assigned+sum.Queued+sum.Cancelled != sum.Calls {
		t.Fatalf("summary %+v does not account for every call", sum)
	}
	if sum.Within15MinPct == nil || sum.ResponseSP50 == nil || sum.LatencyMsP99 == nil {
		t.Fatalf("summary %+v lacks live figures", sum)
	}
	// Crews at 200× finish an incident in well under 12 s: incidents closed, units reused.
	st, err := sql.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var closed, progressed, silent int
	if err := st.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM calls WHERE status = 'closed'),
		(SELECT count(DISTINCT state) FROM incident_events WHERE state IN ('acknowledged', 'en_route', 'on_scene', 'transporting', 'at_hospital')),
		(SELECT count(*) FROM incident_events WHERE type = 'ack_timeout')`).
		Scan(&closed, &progressed, &silent); err != nil {
		t.Fatal(err)
	}
	if silent != 0 {
		t.Errorf("%d dispatches timed out: the simulated crews do not acknowledge", silent)
	}
	if closed == 0 {
		t.Errorf("no incident closed: the simulated fleet never freed a unit")
	}
	if progressed < 4 {
		t.Errorf("incidents went through %d of the acknowledged, en route, on scene, transporting, at hospital states; want at least 4", progressed)
	}
	checkCredentials(t, st, creds, status.String())
}

// checkCredentials: the demo wrote one account per role to the file it named, and each
// password and token is the account's.
func checkCredentials(t *testing.T, st *sql.Store, path, status string) {
	t.Helper()
	if !strings.Contains(status, path) {
		t.Errorf("the demo did not say where its credentials are:\n%s", status)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", fi.Mode().Perm())
	}
	var list []map[string]string
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("credentials file: %v\n%s", err, b)
	}
	roles := map[string]bool{}
	for _, c := range list {
		roles[c["role"]] = true
		a, err := st.AccountByName(context.Background(), c["name"])
		if err != nil {
			t.Fatalf("account %q: %v", c["name"], err)
		}
		if ok, _ := access.VerifyPassword(a.PasswordHash, c["password"]); !ok || a.Role != c["role"] || a.HospitalID != c["hospital_id"] {
			t.Errorf("account %+v does not match its credentials %v", a, c)
		}
		if h, err := st.AccountByToken(context.Background(), access.SecretHash(c["token"])); err != nil || h.Name != c["name"] {
			t.Errorf("token of %s: %+v %v", c["name"], h, err)
		}
		if c["role"] == "reporter" && !strings.HasPrefix(c["hospital_id"], "H-") {
			t.Errorf("the reporter reports for %q, want a real hospital", c["hospital_id"])
		}
	}
	if len(list) != 4 || len(roles) != 4 {
		t.Errorf("credentials for %v, want one account per role", roles)
	}
}
