package service_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/sql"
)

// The fever patient's closed loop end to end: a fever call goes to a fever clinic; screening
// before the patient is there is refused; confirmed, a linked transfer of priority 2 is placed
// and dispatched to a designated hospital; handed over there, the loop is closed and its
// times are in v_fever_loop. A second screening and a cardiac call's screening are refused.
func TestFeverPatientClosedLoop(t *testing.T) {
	e := newEnv(t)
	assignments := e.read(contract.TopicAssignments)
	r := e.startWith(service.Config{AckTimeout: -1})
	base := "http://" + r.svc.HTTPAddr()
	screen := func(id, outcome string) (int, string) {
		t.Helper()
		resp, err := e.as("operator").Post(base+"/v1/calls/"+id+"/screening", "application/json",
			strings.NewReader(`{"outcome":"`+outcome+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		b, _ := json.Marshal(v)
		return resp.StatusCode, string(b)
	}
	now := time.Now().UTC()
	calls := []contract.Call{
		{CallID: "LOOP-1", ReceivedAt: now, Lat: 30.5928, Lng: 114.3055, Priority: 3, Category: contract.CategoryFever},
		{CallID: "LOOP-C", ReceivedAt: now, Lat: 30.5828, Lng: 114.2955, Priority: 3, Category: contract.CategoryCardiac},
	}
	e.produce(contract.TopicCalls, encode(t, calls)...)
	first := assignmentsByCall(t, assignments.waitFor(t, 2, 0))["LOOP-1"][0]
	if code, body := screen("LOOP-1", "confirmed"); code != http.StatusConflict || !strings.Contains(body, "to_clinic → confirmed") {
		t.Fatalf("screening before the clinic: %d %s", code, body)
	}
	if code, _ := screen("LOOP-C", "confirmed"); code != http.StatusBadRequest {
		t.Fatalf("screening a cardiac call: %d", code)
	}
	if code, _ := screen("NOPE", "confirmed"); code != http.StatusNotFound {
		t.Fatalf("screening an unknown call: %d", code)
	}
	drive(t, e, first, calls[0], now)
	waitLoop(t, e, base, "LOOP-1", "at_clinic")
	code, body := screen("LOOP-1", "confirmed")
	if code != http.StatusCreated || !strings.Contains(body, `"transfer_call_id":"LOOP-1-T"`) {
		t.Fatalf("confirmed at the clinic: %d %s", code, body)
	}
	if code, _ := screen("LOOP-1", "mild"); code != http.StatusConflict {
		t.Fatalf("a second screening: %d", code)
	}
	transfer := assignmentsByCall(t, assignments.waitFor(t, 3, 0))["LOOP-1-T"]
	if len(transfer) != 1 || !strings.HasPrefix(transfer[0].HospitalID, "H-") {
		t.Fatalf("the transfer's assignment: %+v", transfer)
	}
	var call struct {
		LinkedTo string `json:"linked_to"`
		Priority int    `json:"priority"`
	}
	getJSON(t, e.as("operator"), base+"/v1/calls/LOOP-1-T", &call)
	if call.LinkedTo != "LOOP-1" || call.Priority != 2 {
		t.Fatalf("the transfer carries on LOOP-1 as priority 2: %+v", call)
	}
	drive(t, e, transfer[0], contract.Call{CallID: "LOOP-1-T", Lat: 30.6, Lng: 114.3}, now.Add(time.Hour))
	loop := waitLoop(t, e, base, "LOOP-1", "admitted")
	if loop.Loop.DestinationID != transfer[0].HospitalID || loop.Loop.AdmittedAt == nil {
		t.Fatalf("the loop: %+v", loop)
	}
	st, err := sql.Open(t.Context(), e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var outcome, dest string
	var loopS float64
	if err := st.Pool.QueryRow(t.Context(), `SELECT outcome, destination_id, loop_s FROM v_fever_loop WHERE call_id = 'LOOP-1'`).
		Scan(&outcome, &dest, &loopS); err != nil || outcome != "confirmed" || dest != transfer[0].HospitalID || loopS <= 0 {
		t.Fatalf("v_fever_loop: %s %s %v %v", outcome, dest, loopS, err)
	}
}

// drive plays a crew through a call: en route, on scene, transporting, at the hospital.
func drive(t *testing.T, e *env, a contract.Assignment, c contract.Call, from time.Time) {
	t.Helper()
	h := e.city.Hospitals[0]
	for _, x := range e.city.Hospitals {
		if x.ID == a.HospitalID {
			h = x
		}
	}
	var pings [][]byte
	for i, st := range []contract.UnitStatus{contract.StatusEnRoute, contract.StatusOnScene, contract.StatusTransporting, contract.StatusAtHospital} {
		p := contract.UnitPing{UnitID: a.UnitID, At: from.Add(time.Duration(i+1) * time.Second), Lat: c.Lat, Lng: c.Lng, Status: st}
		if st == contract.StatusAtHospital {
			p.Lat, p.Lng = h.Lat, h.Lng
		}
		b, _ := json.Marshal(p)
		pings = append(pings, b)
	}
	e.produceKeyed(contract.TopicUnits, a.UnitID, pings...)
}

type loopAnswer struct {
	State string         `json:"state"`
	Loop  sql.LoopRecord `json:"loop"`
}

func waitLoop(t *testing.T, e *env, base, id, state string) loopAnswer {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var l loopAnswer
		getJSON(t, e.as("analyst"), base+"/v1/calls/"+id+"/loop", &l)
		if l.State == state {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("loop of %s: %+v, want %s", id, l, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
