package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/sql"
)

// getJSON fetches url into v and returns the status code.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode
}

// A write fails and the engine cannot be rebuilt either (the assignments table is away for
// three seconds, so the transaction and the rebuild's bookings query both fail): nothing is
// decided, /readyz says why, and when the table is back every call is recorded and assigned
// once — none consumed without its record.
func TestFailedWriteAndFailedRebuildLoseNoCall(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st, err := sql.Open(ctx, e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	assignments := e.read(contract.TopicAssignments)
	r := e.start(0)
	if _, err := st.Pool.Exec(ctx, `ALTER TABLE assignments RENAME TO assignments_away`); err != nil {
		t.Fatal(err)
	}
	away := time.Now()
	calls := e.calls(20, "AWAY")
	e.produce(contract.TopicCalls, encode(t, calls)...)
	var why map[string]string
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code := getJSON(t, "http://"+r.svc.HTTPAddr()+"/readyz", &why)
		if code != http.StatusOK && strings.Contains(why["error"], "rebuilt") {
			t.Logf("/readyz while the table is away: %s", why["error"])
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("/readyz never said the engine awaits a rebuild; last: %d %v", code, why)
			break
		}
	}
	time.Sleep(time.Until(away.Add(3 * time.Second)))
	if _, err := st.Pool.Exec(ctx, `ALTER TABLE assignments_away RENAME TO assignments`); err != nil {
		t.Fatal(err)
	}
	msgs := assignments.waitFor(t, len(calls), time.Second)
	checkExactlyOnce(t, calls, msgs)
	e.checkRecord(calls)
	if code := getJSON(t, "http://"+r.svc.HTTPAddr()+"/readyz", &why); code != http.StatusOK {
		t.Errorf("/readyz after the table came back: %d %v", code, why)
	}
}
