package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/sql"
)

// store opens the env's database for the test.
func (e *env) store() *sql.Store {
	e.t.Helper()
	st, err := sql.Open(context.Background(), e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(st.Close)
	return st
}

// getJSON fetches url into v and returns the status code.
func getJSON(t *testing.T, c *http.Client, url string, v any) int {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(url)
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
	st := e.store()
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
		code := getJSON(t, nil, "http://"+r.svc.HTTPAddr()+"/readyz", &why)
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
	if code := getJSON(t, nil, "http://"+r.svc.HTTPAddr()+"/readyz", &why); code != http.StatusOK {
		t.Errorf("/readyz after the table came back: %d %v", code, why)
	}
}

// A second service for the same city is a standby: it says so, names the active one when
// asked to decide, and takes over — deciding the calls that came meanwhile — once the
// active one stops.
func TestStandbyNamesTheActiveAndTakesOver(t *testing.T) {
	e := newEnv(t)
	assignments := e.read(contract.TopicAssignments)
	active := e.start(0)
	standby := e.startStandby(service.Config{AckTimeout: -1})
	var h map[string]any
	base := "http://" + standby.svc.HTTPAddr()
	for deadline := time.Now().Add(10 * time.Second); h["role"] != "standby"; time.Sleep(50 * time.Millisecond) {
		getJSON(t, nil, base+"/healthz", &h)
		if time.Now().After(deadline) {
			t.Fatalf("the second service never said it is the standby: %v", h)
		}
	}
	calls := e.calls(3, "STBY")
	e.produce(contract.TopicCalls, encode(t, calls[:1])...)
	assignments.waitFor(t, 1, 0)
	resp, err := e.as("operator").Post(base+"/v1/calls/"+calls[0].CallID+"/close", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var answer map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || answer["active"] != "http://"+active.svc.HTTPAddr() ||
		!strings.Contains(answer["error"], "not the active one") {
		t.Errorf("a command to the standby: %d %v; want 503 naming http://%s", resp.StatusCode, answer, active.svc.HTTPAddr())
	}
	active.stop()
	e.produce(contract.TopicCalls, encode(t, calls[1:])...)
	msgs := assignments.waitFor(t, 3, time.Second)
	checkExactlyOnce(t, calls, msgs)
	getJSON(t, nil, base+"/healthz", &h)
	if h["role"] != "active" {
		t.Errorf("after the active one stopped the standby is %v", h["role"])
	}
}
