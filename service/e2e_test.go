package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/stack"
	"github.com/ems120/ems120/streams"
)

// env is one broker and one database (stack), shared by the services a test starts.
type env struct {
	t       testing.TB
	brokers []string
	dsn     string
	city    *city.City
	stack   *stack.Stack
	accts   accounts
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Config{DSN: testenv.Postgres(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &env{t: t, brokers: st.Brokers, dsn: st.DSN, city: city.Wuhan(), stack: st}
}

type running struct {
	svc  *service.Service
	stop func() // cancels and waits for Run to return
}

func (e *env) start(maxBatch int) *running {
	e.t.Helper()
	return e.startWith(service.Config{MaxBatch: maxBatch, AckTimeout: -1})
}

// startWith starts a service with cfg's dispatch settings on the env's broker and database,
// serving HTTP, and returns once it consumes.
func (e *env) startWith(cfg service.Config) *running {
	e.t.Helper()
	return e.launch(cfg, e.stack.Serve)
}

// startStandby starts a second service while one is active, and returns once it is the
// standby.
func (e *env) startStandby(cfg service.Config) *running {
	e.t.Helper()
	return e.launch(cfg, e.stack.ServeStandby)
}

func (e *env) launch(cfg service.Config, serve func(context.Context, service.Config) (*stack.Running, error)) *running {
	e.t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	cfg.City, cfg.HTTPAddr, cfg.Logger = e.city, "127.0.0.1:0", log
	r, err := serve(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := r.Stop(); err != nil {
				e.t.Errorf("Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return &running{svc: r.Service, stop: stop}
}

// calls makes n calls near the city's stations (so every one is inside the service area).
func (e *env) calls(n int, prefix string) []contract.Call {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(len(prefix))))
	out := make([]contract.Call, n)
	for i := range out {
		st := e.city.Stations[rng.IntN(len(e.city.Stations))]
		out[i] = contract.Call{
			CallID: fmt.Sprintf("%s-%04d", prefix, i), ReceivedAt: time.Now().UTC(),
			Lat: st.Lat + (rng.Float64()-0.5)*0.04, Lng: st.Lng + (rng.Float64()-0.5)*0.04,
			Priority: 1 + rng.IntN(4), Category: contract.Categories[rng.IntN(len(contract.Categories))],
		}
	}
	return out
}

func (e *env) produce(topic string, values ...[]byte) {
	e.t.Helper()
	e.produceKeyed(topic, "", values...)
}

// produceKeyed writes values in order; with a key they share a partition, so they stay in
// order (a unit's pings); without one, each gets its index as key.
func (e *env) produceKeyed(topic, key string, values ...[]byte) {
	e.t.Helper()
	w := streams.NewWriter(e.brokers, topic)
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		k := key
		if k == "" {
			k = fmt.Sprint(i)
		}
		msgs[i] = kafka.Message{Key: []byte(k), Value: v}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		e.t.Fatal(err)
	}
}

func encode(t testing.TB, calls []contract.Call) [][]byte {
	out := make([][]byte, len(calls))
	for i, c := range calls {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// topicReader reads a whole topic from the beginning, every partition, with no group.
type topicReader struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (e *env) read(topic string) *topicReader {
	e.t.Helper()
	tr := &topicReader{}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := streams.Watch(ctx, e.brokers, topic, false, func(m kafka.Message, _ time.Time) {
		tr.mu.Lock()
		tr.msgs = append(tr.msgs, m)
		tr.mu.Unlock()
	})
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cancel(); <-done })
	return tr
}

func (tr *topicReader) snapshot() []kafka.Message {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]kafka.Message(nil), tr.msgs...)
}

// waitFor polls until at least n messages arrived, then waits settle for more (duplicates).
func (tr *topicReader) waitFor(t *testing.T, n int, settle time.Duration) []kafka.Message {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for len(tr.snapshot()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d messages, want %d", len(tr.snapshot()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(settle)
	return tr.snapshot()
}

func assignmentsByCall(t *testing.T, msgs []kafka.Message) map[string][]contract.Assignment {
	t.Helper()
	out := map[string][]contract.Assignment{}
	for _, m := range msgs {
		var a contract.Assignment
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatalf("assignment %s: %v", m.Value, err)
		}
		if string(m.Key) != a.CallID {
			t.Errorf("assignment key %q is not its call id %q", m.Key, a.CallID)
		}
		out[a.CallID] = append(out[a.CallID], a)
	}
	return out
}

// checkRecord verifies the database holds exactly the given calls, each with one assignment,
// and that no unit serves two live incidents.
func (e *env) checkRecord(calls []contract.Call) {
	e.t.Helper()
	ctx := context.Background()
	st, err := sql.Open(ctx, e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	var nCalls, nAssign, distinct, busy, busyDistinct int
	q := `SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM assignments), (SELECT count(DISTINCT call_id) FROM assignments),
		(SELECT count(*) FROM units WHERE call_id IS NOT NULL), (SELECT count(DISTINCT call_id) FROM units WHERE call_id IS NOT NULL)`
	if err := st.Pool.QueryRow(ctx, q).Scan(&nCalls, &nAssign, &distinct, &busy, &busyDistinct); err != nil {
		e.t.Fatal(err)
	}
	if nCalls != len(calls) || nAssign != len(calls) || distinct != len(calls) {
		e.t.Errorf("database: %d calls, %d assignments for %d calls; want %d of each", nCalls, nAssign, distinct, len(calls))
	}
	if busy != len(calls) || busyDistinct != len(calls) {
		e.t.Errorf("database: %d busy units serving %d distinct calls; want %d and %d", busy, busyDistinct, len(calls), len(calls))
	}
	var outbox int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&outbox); err != nil {
		e.t.Fatal(err)
	}
	if outbox != 0 {
		e.t.Errorf("%d outbox rows never published", outbox)
	}
}

func checkExactlyOnce(t *testing.T, calls []contract.Call, msgs []kafka.Message) {
	t.Helper()
	by := assignmentsByCall(t, msgs)
	if len(msgs) != len(calls) || len(by) != len(calls) {
		t.Errorf("%d assignment messages for %d calls; want exactly %d, one per call", len(msgs), len(by), len(calls))
	}
	units := map[string]string{}
	for _, c := range calls {
		as := by[c.CallID]
		if len(as) != 1 {
			t.Errorf("call %s has %d assignments", c.CallID, len(as))
			continue
		}
		if prev, dup := units[as[0].UnitID]; dup {
			t.Errorf("unit %s assigned to %s and %s", as[0].UnitID, prev, c.CallID)
		}
		units[as[0].UnitID] = c.CallID
		if as[0].HospitalID == "" || as[0].ETAS <= 0 {
			t.Errorf("assignment %+v lacks a hospital or an ETA", as[0])
		}
	}
}

func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	calls := e.calls(150, "E2E")
	e.produce(contract.TopicCalls, encode(t, calls)...)
	assignments := e.read(contract.TopicAssignments)
	e.start(0)
	msgs := assignments.waitFor(t, len(calls), time.Second)
	checkExactlyOnce(t, calls, msgs)
	e.checkRecord(calls)
}

// The service is stopped while calls are still arriving and started again: every call is
// assigned exactly once, on the topic and in the database.
func TestEndToEndRestartMidStream(t *testing.T) {
	e := newEnv(t)
	calls := e.calls(200, "RST")
	values := encode(t, calls)
	assignments := e.read(contract.TopicAssignments)
	first := e.start(10)
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		w := streams.NewWriter(e.brokers, contract.TopicCalls)
		defer w.Close()
		for i, v := range values {
			if err := w.WriteMessages(context.Background(), kafka.Message{Key: []byte(calls[i].CallID), Value: v}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	assignments.waitFor(t, 50, 0)
	first.stop()
	stoppedAt := len(assignments.snapshot())
	e.start(10)
	<-produced
	msgs := assignments.waitFor(t, len(calls), 2*time.Second)
	if stoppedAt >= len(calls) {
		t.Fatalf("the first service finished everything (%d) before it was stopped: the test proves nothing", stoppedAt)
	}
	t.Logf("first service assigned %d of %d before it was stopped", stoppedAt, len(calls))
	checkExactlyOnce(t, calls, msgs)
	e.checkRecord(calls)
}

func TestBadInputGoesToDeadLetter(t *testing.T) {
	e := newEnv(t)
	dead := e.read(contract.TopicDeadLetter)
	assignments := e.read(contract.TopicAssignments)
	first := e.start(0)
	bad := []struct {
		topic, value, reason string
	}{
		{contract.TopicCalls, `{"call_id":"X1","lat":30.6,`, "invalid JSON"},
		{contract.TopicCalls, `{"call_id":"X2","lat":91,"lng":114.3,"priority":1}`, "lat: 91 is out of range"},
		{contract.TopicCalls, `{"call_id":"X3","lat":NaN,"lng":114.3,"priority":1}`, "invalid JSON"},
		{contract.TopicCalls, `{"call_id":"","lat":30.6,"lng":114.3,"priority":1}`, "call_id: empty"},
		{contract.TopicCalls, `{"call_id":"X5","lat":0,"lng":0,"priority":1}`, "outside the service area"},
		{contract.TopicUnits, `{"unit_id":"A-001","lat":30.6,"lng":114.3,"status":"napping"}`, "unknown unit status"},
		{contract.TopicUnits, `{"unit_id":"Z-999","lat":30.6,"lng":114.3,"status":"available"}`, "unknown unit"},
	}
	for _, b := range bad {
		e.produce(b.topic, []byte(b.value))
	}
	good := e.calls(1, "GOOD")
	e.produce(contract.TopicCalls, encode(t, good)...)
	msgs := dead.waitFor(t, len(bad), time.Second)
	// A dead letter is published once per refused message, which its source topic,
	// partition and offset identify (CONTRACT.md).
	if len(msgs) != len(bad) {
		t.Errorf("%d dead letters for %d refused messages; want one each", len(msgs), len(bad))
	}
	got := map[string]contract.DeadLetter{}
	refused := map[string]string{} // topic/partition/offset → reason
	for _, m := range msgs {
		var dl contract.DeadLetter
		if err := json.Unmarshal(m.Value, &dl); err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("%s/%d/%d", dl.Topic, dl.Partition, dl.Offset)
		if prev, ok := refused[id]; ok && prev != dl.Error {
			t.Errorf("%s refused twice for different reasons: %q, then %q", id, prev, dl.Error)
		}
		refused[id] = dl.Error
		got[string(dl.ValueBase64)] = dl
	}
	if len(refused) != len(bad) {
		t.Fatalf("%d messages refused (%d dead letters), want %d: %v", len(refused), len(msgs), len(bad), refused)
	}
	for _, b := range bad {
		dl, ok := got[b.value]
		if !ok {
			t.Errorf("no dead letter carries the original bytes of %s", b.value)
			continue
		}
		if dl.Topic != b.topic || !strings.Contains(dl.Error, b.reason) || dl.Value != b.value {
			t.Errorf("dead letter for %s = %+v, want topic %s and a reason saying %q", b.value, dl, b.topic, b.reason)
		}
	}
	// The pipeline went on: the good call after the bad ones is assigned.
	as := assignmentsByCall(t, assignments.waitFor(t, 1, 0))
	if len(as[good[0].CallID]) != 1 {
		t.Fatalf("the good call was not assigned: %v", as)
	}
	// Everything is read again from the start (the stored offsets lost): the refusals are
	// known, and no dead letter goes out twice.
	first.stop()
	if _, err := e.store().Pool.Exec(context.Background(), `DELETE FROM consumer_offsets`); err != nil {
		t.Fatal(err)
	}
	e.start(0)
	later := e.calls(1, "LATER")
	e.produce(contract.TopicCalls, encode(t, later)...)
	assignments.waitFor(t, 2, 0)
	if n := len(dead.waitFor(t, len(bad), time.Second)); n != len(bad) {
		t.Errorf("after a replay from the start: %d dead letters for %d refused messages", n, len(bad))
	}
}

// A call that finds no unit waits in the queue, survives a restart, and gets the first unit
// that becomes free.
func TestQueueSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	e.city.Fleet = e.city.Fleet[:1] // one ambulance for the whole city
	unit := e.city.Fleet[0]
	st, _ := e.city.Station(unit.Station)
	assignments := e.read(contract.TopicAssignments)
	first := e.start(0)
	calls := e.calls(2, "Q")
	e.produce(contract.TopicCalls, encode(t, calls[:1])...)
	assignments.waitFor(t, 1, 0)
	e.produce(contract.TopicCalls, encode(t, calls[1:])...)
	deadline := time.Now().Add(30 * time.Second)
	for first.svc.Stats().Queued != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("second call not queued: %+v", first.svc.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.stop()
	second := e.start(0)
	if q := second.svc.Stats().Queued; q != 1 {
		t.Fatalf("after restart the queue holds %d calls, want 1", q)
	}
	// The unit reaches the first call, finishes it and is free again.
	onScene, _ := json.Marshal(contract.UnitPing{UnitID: unit.ID, At: time.Now().UTC(), Lat: calls[0].Lat, Lng: calls[0].Lng, Status: contract.StatusOnScene})
	free, _ := json.Marshal(contract.UnitPing{UnitID: unit.ID, At: time.Now().UTC().Add(time.Millisecond), Lat: st.Lat, Lng: st.Lng, Status: contract.StatusAvailable})
	e.produceKeyed(contract.TopicUnits, unit.ID, onScene, free)
	msgs := assignments.waitFor(t, 2, 500*time.Millisecond)
	by := assignmentsByCall(t, msgs)
	if a := by[calls[1].CallID]; len(a) != 1 || a[0].UnitID != unit.ID || !strings.HasPrefix(a[0].Reason, "from_queue") {
		t.Fatalf("queued call's assignment = %+v, want %s from the queue", a, unit.ID)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d assignment messages, want 2", len(msgs))
	}
}

func TestHTTP(t *testing.T) {
	e := newEnv(t)
	r := e.start(0)
	base := "http://" + r.svc.HTTPAddr()
	get := func(path string) (int, map[string]any) {
		t.Helper()
		resp, err := e.as("supervisor").Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		b, _ := io.ReadAll(resp.Body)
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("GET %s: %v in %s", path, err, b)
			}
		} else {
			v = map[string]any{"text": string(b)}
		}
		return resp.StatusCode, v
	}
	post := func(body string) (int, map[string]any) {
		t.Helper()
		resp, err := e.as("operator").Post(base+"/v1/calls", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, v
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz = %d", code)
	}
	if code, v := get("/readyz"); code != 200 {
		t.Errorf("readyz = %d %v", code, v)
	}
	// Bad input: 400 with the field and the reason.
	code, v := post(`{"call_id":"H1","lat":91,"lng":114.3,"priority":1}`)
	if code != 400 || v["field"] != "lat" || !strings.Contains(fmt.Sprint(v["error"]), "out of range") {
		t.Errorf("bad call = %d %v, want 400 on lat", code, v)
	}
	code, v = post(`not json`)
	if code != 400 || !strings.Contains(fmt.Sprint(v["error"]), "invalid JSON") {
		t.Errorf("not json = %d %v", code, v)
	}
	// A good call goes onto ems.calls and comes back assigned.
	code, v = post(`{"call_id":"H-OK","lat":30.5928,"lng":114.3055,"priority":1,"category":"cardiac"}`)
	if code != 202 || v["call_id"] != "H-OK" {
		t.Fatalf("good call = %d %v, want 202", code, v)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, v = get("/v1/calls/H-OK")
		if code == 200 && v["status"] == "assigned" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("call never assigned: %d %v", code, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a, _ := v["assignment"].(map[string]any)
	if a == nil || a["unit_id"] == "" || !strings.HasPrefix(fmt.Sprint(a["reason"]), "nearest") || a["hospital_id"] == "" {
		t.Errorf("live assignment = %v", v["assignment"])
	}
	if evs, _ := v["events"].([]any); len(evs) != 2 {
		t.Errorf("events = %v, want received and assigned", v["events"])
	}
	if code, v := get("/v1/calls/NOPE"); code != 404 || v["error"] == nil {
		t.Errorf("unknown call = %d %v", code, v)
	}
	if code, v := get("/v1/units"); code != 200 || int(v["count"].(float64)) != len(e.city.Fleet) {
		t.Errorf("units = %d count %v", code, v["count"])
	}
	if code, v := get("/v1/queue"); code != 200 || v["count"].(float64) != 0 {
		t.Errorf("queue = %d %v", code, v)
	}
	code, v = get("/metrics")
	text := fmt.Sprint(v["text"])
	np := 0
	for _, u := range e.city.Fleet {
		if u.Kind == contract.KindNegativePressure {
			np++
		}
	}
	per30k := float64(len(e.city.Fleet)) / (float64(e.city.Population()) / 30000)
	for _, want := range []string{"ems_calls_total 1", "ems_assignments_total 1", "ems_decision_latency_seconds_bucket",
		`ems_consumer_lag{topic="ems.calls"} 0`, "ems_queue_length 0", "ems_en_route_within_3min_pct ", "ems_within_5km_15min_pct ",
		fmt.Sprintf("ems_negative_pressure_pct %g\n", math.Round(1000*float64(np)/float64(len(e.city.Fleet)))/10),
		fmt.Sprintf("ems_ambulances_per_30k %g\n", math.Round(100*per30k)/100)} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if code, v := get("/nowhere"); code != 404 || v["error"] == nil {
		t.Errorf("unknown route = %d %v", code, v)
	}
}

// kcat, a third-party Kafka client (librdkafka), writes calls and reads the assignments.
func TestKcatInterop(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("EMS_REQUIRE_PG") != "" {
			t.Fatal("kcat is not installed (make test installs it)")
		}
		t.Skip("skipping: kcat is not installed (apt-get install kcat, or run make test as root)")
	}
	e := newEnv(t)
	e.start(0)
	calls := e.calls(40, "KCAT")
	var in bytes.Buffer
	for _, c := range calls {
		b, _ := json.Marshal(c)
		fmt.Fprintf(&in, "%s\t%s\n", c.CallID, b)
	}
	prod := exec.Command(kcat, "-P", "-b", e.brokers[0], "-t", contract.TopicCalls, "-K", "\t")
	prod.Stdin = &in
	if out, err := prod.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cons := exec.CommandContext(ctx, kcat, "-C", "-b", e.brokers[0], "-t", contract.TopicAssignments, "-o", "beginning",
		"-c", fmt.Sprint(len(calls)), "-f", "%k\t%s\n", "-q")
	out, err := cons.Output()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "\t")
		var a contract.Assignment
		if err := json.Unmarshal([]byte(v), &a); err != nil || a.CallID != k || a.UnitID == "" {
			t.Errorf("kcat read %q: %v", l, err)
		}
		seen[k] = true
	}
	if len(seen) != len(calls) {
		t.Fatalf("kcat read assignments for %d calls, want %d", len(seen), len(calls))
	}
	// And no more than one per call: nothing else arrives.
	extra := exec.Command(kcat, "-C", "-b", e.brokers[0], "-t", contract.TopicAssignments, "-o", "beginning", "-e", "-q")
	all, err := extra.Output()
	if err != nil {
		t.Fatalf("kcat -C -e: %v", err)
	}
	if n := strings.Count(string(all), "\n"); n != len(calls) {
		t.Fatalf("the topic holds %d assignments, want %d", n, len(calls))
	}
}

func eventsOf(t *testing.T, msgs []kafka.Message, callID string) []contract.IncidentEvent {
	t.Helper()
	var out []contract.IncidentEvent
	for _, m := range msgs {
		var ev contract.IncidentEvent
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			t.Fatalf("event %s: %v", m.Value, err)
		}
		if ev.CallID == callID {
			out = append(out, ev)
		}
	}
	return out
}

func eventTypes(evs []contract.IncidentEvent) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return strings.Join(s, ",")
}

// A dispatched unit that stays silent is flagged and the call goes to the next unit, over
// the real broker and database; every step is an event on ems.events; an acknowledgement
// stops the clock.
func TestAckTimeoutEscalatesEndToEnd(t *testing.T) {
	e := newEnv(t)
	assignments := e.read(contract.TopicAssignments)
	events := e.read(contract.TopicEvents)
	r := e.startWith(service.Config{AckTimeout: 2 * time.Second, TickEvery: 100 * time.Millisecond})
	c := e.calls(1, "ACK")
	e.produce(contract.TopicCalls, encode(t, c)...)
	msgs := assignments.waitFor(t, 2, 0)
	by := assignmentsByCall(t, msgs)[c[0].CallID]
	if len(by) != 2 || by[0].UnitID == by[1].UnitID || !strings.HasPrefix(by[1].Reason, "escalated_no_ack") {
		t.Fatalf("assignments = %+v, want a second unit after the silence", by)
	}
	second := by[1].UnitID
	// The second unit acknowledges: no third assignment.
	ack, _ := json.Marshal(contract.UnitPing{UnitID: second, At: time.Now().UTC(), Lat: c[0].Lat, Lng: c[0].Lng, Status: contract.StatusDispatched})
	e.produceKeyed(contract.TopicUnits, second, ack)
	deadline := time.Now().Add(20 * time.Second)
	for {
		evs := eventsOf(t, events.snapshot(), c[0].CallID)
		if got := eventTypes(evs); got == "received,assigned,ack_timeout,assigned,acknowledged" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("events on %s: %s", contract.TopicEvents, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // longer than the timeout: an acknowledged call stays put
	if n := len(assignments.snapshot()); n != 2 {
		t.Fatalf("%d assignments after the acknowledgement, want 2", n)
	}
	var units struct {
		Units []struct {
			ID        string     `json:"unit_id"`
			FlaggedAt *time.Time `json:"flagged_at"`
		} `json:"units"`
	}
	resp, err := e.as("operator").Get("http://" + r.svc.HTTPAddr() + "/v1/units")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&units); err != nil {
		t.Fatal(err)
	}
	flagged := 0
	for _, u := range units.Units {
		if u.FlaggedAt != nil {
			flagged++
			if u.ID != by[0].UnitID {
				t.Errorf("unit %s flagged, want %s", u.ID, by[0].UnitID)
			}
		}
	}
	if flagged != 1 {
		t.Errorf("%d units flagged, want 1", flagged)
	}
}

// Operators act on calls over HTTP: override the unit, acknowledge, cancel; refusals are 4xx
// with a reason; every step is recorded and published.
func TestOperatorCommands(t *testing.T) {
	e := newEnv(t)
	events := e.read(contract.TopicEvents)
	r := e.start(0)
	base := "http://" + r.svc.HTTPAddr()
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := e.as("operator").Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, v
	}
	if code, v := post("/v1/calls", `{"call_id":"OP-1","lat":30.5928,"lng":114.3055,"priority":2,"category":"trauma"}`); code != 202 {
		t.Fatalf("post call: %d %v", code, v)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(eventsOf(t, events.snapshot(), "OP-1")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("call not assigned")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, v := post("/v1/calls/OP-1/assign", `{}`); code != 400 || v["field"] != "unit_id" {
		t.Errorf("assign without a unit: %d %v", code, v)
	}
	if code, v := post("/v1/calls/OP-1/assign", `{"unit_id":"A-200"}`); code != 200 {
		t.Fatalf("override: %d %v", code, v)
	}
	if code, v := post("/v1/calls/OP-1/close", ``); code != 409 || !strings.Contains(fmt.Sprint(v["error"]), "illegal transition") {
		t.Errorf("close before arriving: %d %v, want 409", code, v)
	}
	if code, v := post("/v1/calls/OP-1/ack", `{"unit_id":"A-200"}`); code != 200 {
		t.Errorf("ack: %d %v", code, v)
	}
	if code, v := post("/v1/calls/OP-1/cancel", `{"reason":"caller called back: no longer needed"}`); code != 200 {
		t.Errorf("cancel: %d %v", code, v)
	}
	if code, v := post("/v1/calls/OP-1/cancel", ``); code != 404 {
		t.Errorf("cancel twice: %d %v, want 404", code, v)
	}
	if code, _ := post("/v1/calls/OP-1/ack", `not json`); code != 400 {
		t.Errorf("bad body: %d, want 400", code)
	}
	for {
		got := eventTypes(eventsOf(t, events.snapshot(), "OP-1"))
		if got == "received,assigned,unit_released,assigned,acknowledged,cancelled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events: %s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := e.as("operator").Get(base + "/v1/calls/OP-1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	json.NewDecoder(resp.Body).Decode(&v)
	if v["status"] != "cancelled" || len(v["assignments"].([]any)) != 2 || len(v["events"].([]any)) != 6 {
		t.Fatalf("recorded call: %v", v)
	}
}

// Hospital capacity over Kafka and HTTP: good reports are applied and kept as history, bad
// ones refused with their reason, stale ones shown; a full hospital is not chosen while
// another has a bed.
func TestCapacityReports(t *testing.T) {
	e := newEnv(t)
	dead := e.read(contract.TopicDeadLetter)
	assignments := e.read(contract.TopicAssignments)
	r := e.start(0)
	base := "http://" + r.svc.HTTPAddr()
	now := time.Now().UTC().Truncate(time.Second)
	rep := func(id string, at time.Time, total, occ int) []byte {
		b, _ := json.Marshal(contract.CapacityReport{HospitalID: id, ReportedAt: at, Accepting: true,
			Beds: map[string]contract.Beds{contract.BedFeverObservation: {Total: total, Occupied: occ}}})
		return b
	}
	// Over Kafka: a good one, then an older one, one for an unknown hospital, occupied > total.
	e.produceKeyed(contract.TopicCapacity, "H-zhongnan", rep("H-zhongnan", now, 40, 12), rep("H-zhongnan", now.Add(-time.Hour), 40, 1))
	e.produce(contract.TopicCapacity, rep("H-nowhere", now, 1, 0), []byte(`{"hospital_id":"H-xiehe","reported_at":"2026-11-28T09:00:00Z","beds":{"icu":{"total":2,"occupied":3}}}`))
	msgs := dead.waitFor(t, 3, 500*time.Millisecond)
	reasons := ""
	for _, m := range msgs {
		var dl contract.DeadLetter
		json.Unmarshal(m.Value, &dl)
		reasons += dl.Error + "\n"
	}
	for _, want := range []string{"older than the last accepted report", "unknown hospital", "occupied 3 is more than total 2"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("dead letters lack %q:\n%s", want, reasons)
		}
	}
	// Over HTTP: refusals are 4xx with reasons; a good one is 202 and applied.
	post := func(id, body string) (int, map[string]any) { // as 同济医院's reporter
		resp, err := e.as("reporter", "H-tongji").Post(base+"/v1/hospitals/"+id+"/capacity", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	future := now.Add(time.Hour).Format(time.RFC3339)
	if code, v := post("H-tongji", `{"reported_at":"`+future+`","beds":{"fever_observation":{"total":40,"occupied":1}}}`); code != 400 || v["field"] != "reported_at" {
		t.Errorf("future report: %d %v", code, v)
	}
	if code, v := post("H-nowhere", `{"reported_at":"`+now.Format(time.RFC3339)+`","beds":{"icu":{"total":1,"occupied":0}}}`); code != 403 {
		t.Errorf("another (unknown) hospital: %d %v, want 403", code, v)
	}
	if code, v := post("H-tongji", `{"hospital_id":"H-xiehe","reported_at":"`+now.Format(time.RFC3339)+`","beds":{"icu":{"total":1,"occupied":0}}}`); code != 400 {
		t.Errorf("body and path disagree: %d %v", code, v)
	}
	if code, v := post("H-tongji", `{"reported_at":"`+now.Format(time.RFC3339)+`","beds":{"fever_observation":{"total":40,"occupied":40}}}`); code != 202 {
		t.Fatalf("good report: %d %v", code, v)
	}
	var hv struct {
		Hospitals []struct {
			ID    string `json:"hospital_id"`
			Stale bool   `json:"stale"`
			Beds  map[string]struct {
				Occupied int `json:"occupied"`
				Free     int `json:"free"`
			} `json:"beds"`
		} `json:"hospitals"`
		Overdue []string `json:"overdue"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := e.as("analyst").Get(base + "/v1/hospitals")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&hv)
		resp.Body.Close()
		fresh := 0
		for _, h := range hv.Hospitals {
			if !h.Stale {
				fresh++
			}
		}
		if fresh == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reports not applied: %d fresh hospitals", fresh)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(hv.Overdue) != len(e.city.Hospitals)-2 {
		t.Errorf("%d overdue, want every hospital but the two that reported", len(hv.Overdue))
	}
	// History in PostgreSQL.
	st, err := sql.Open(context.Background(), e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var history int
	st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM capacity_reports`).Scan(&history)
	if history != 2 {
		t.Errorf("%d reports in the history, want 2", history)
	}
	// Who sent each: the HTTP one names its reporter; the topic's has no account.
	var actor, source, topicActor string
	st.Pool.QueryRow(context.Background(), `SELECT coalesce(actor, ''), source FROM capacity_reports WHERE hospital_id = 'H-tongji'`).Scan(&actor, &source)
	st.Pool.QueryRow(context.Background(), `SELECT coalesce(actor, '') FROM capacity_reports WHERE hospital_id = 'H-zhongnan'`).Scan(&topicActor)
	if actor != e.account("reporter", "H-tongji").Name || source != "http" || topicActor != "" {
		t.Errorf("capacity history: HTTP report by %q from %q, topic report by %q", actor, source, topicActor)
	}
	// A suspected-fever call next to 同济医院, which just reported full: another hospital.
	tongji, _ := r.svc.Hospital("H-tongji")
	call := contract.Call{CallID: "FEVER-1", ReceivedAt: now, Lat: tongji.Lat + 0.001, Lng: tongji.Lng, Priority: 2, Category: contract.CategoryFever}
	e.produce(contract.TopicCalls, encode(t, []contract.Call{call})...)
	a := assignmentsByCall(t, assignments.waitFor(t, 1, 0))["FEVER-1"]
	if len(a) != 1 || a[0].HospitalID == "H-tongji" || a[0].HospitalID == "" {
		t.Fatalf("fever call next to a full hospital went to %+v", a)
	}
}

// The live coverage map: GeoJSON over HTTP, units going busy lower it, snapshots and views in
// PostgreSQL for analysts, move-up advice over HTTP and on ems.coverage.
func TestCoverage(t *testing.T) {
	e := newEnv(t)
	advice := e.read(contract.TopicCoverage)
	r := e.startWith(service.Config{AckTimeout: -1, CoverageTargetPct: 99.5, CoverageSnapshotEvery: time.Second})
	base := "http://" + r.svc.HTTPAddr()
	getMap := func(q string) map[string]any {
		t.Helper()
		resp, err := e.as("analyst").Get(base + "/v1/coverage" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/geo+json" {
			t.Fatalf("content type %q", ct)
		}
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	full := getMap("")
	feats := full["features"].([]any)
	if full["type"] != "FeatureCollection" || len(feats) < 12_000 {
		t.Fatalf("map: type %v with %d features", full["type"], len(feats))
	}
	f0 := feats[0].(map[string]any)
	if f0["geometry"].(map[string]any)["type"] != "Polygon" || f0["properties"].(map[string]any)["h3"] == nil {
		t.Fatalf("a feature: %v", f0)
	}
	before := full["coverage_pct"].(float64)
	if before < 50 {
		t.Fatalf("the whole fleet at its stations covers %.1f%%", before)
	}
	if d := getMap("?district=420102")["features"].([]any); len(d) == 0 || len(d) > 1000 {
		t.Fatalf("one district: %d cells", len(d))
	}
	// Fifty calls in the centre take fifty units away: coverage drops.
	calls := e.calls(50, "COV")
	for i := range calls {
		calls[i].Lat, calls[i].Lng = 30.58+float64(i%5)*0.004, 114.28+float64(i/5)*0.004
	}
	e.produce(contract.TopicCalls, encode(t, calls)...)
	deadline := time.Now().Add(30 * time.Second)
	var after float64
	for {
		after = getMap("?min_reach=1")["coverage_pct"].(float64)
		if after < before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("coverage stayed at %.1f%% with fifty units busy", after)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Below the (deliberately high) target: advice, over HTTP and on the topic.
	resp, err := e.as("analyst").Get(base + "/v1/coverage/moves")
	if err != nil {
		t.Fatal(err)
	}
	var adv contract.MoveUpAdvice
	json.NewDecoder(resp.Body).Decode(&adv)
	resp.Body.Close()
	if len(adv.Moves) == 0 || adv.Moves[0].GainPct <= 0 || adv.TargetPct != 99.5 {
		t.Fatalf("advice %+v", adv)
	}
	msgs := advice.waitFor(t, 1, 0)
	var published contract.MoveUpAdvice
	if err := json.Unmarshal(msgs[0].Value, &published); err != nil || published.Type != "move_up_advice" || len(published.Moves) == 0 {
		t.Fatalf("published advice %s: %v", msgs[0].Value, err)
	}
	// Analysts' tables and views.
	st, err := sql.Open(context.Background(), e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var snaps, latest, districts, hours int
	var covered float64
	deadline = time.Now().Add(20 * time.Second)
	for snaps < 2 && time.Now().Before(deadline) {
		st.Pool.QueryRow(ctx, `SELECT count(*) FROM coverage_snapshots`).Scan(&snaps)
		time.Sleep(200 * time.Millisecond)
	}
	if err := st.Pool.QueryRow(ctx, `SELECT count(*), 100 * sum(demand) FILTER (WHERE reach > 0) FROM v_coverage_latest`).Scan(&latest, &covered); err != nil {
		t.Fatal(err)
	}
	if snaps < 2 || latest != len(feats) || covered < 50 {
		t.Fatalf("snapshots %d, latest map %d cells covering %.1f%%", snaps, latest, covered)
	}
	// The service counts the snapshots it stored (the load test waits for the first).
	deadline = time.Now().Add(5 * time.Second)
	for r.svc.CoverageSnapshots() < int64(snaps) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := r.svc.CoverageSnapshots(); got < int64(snaps) {
		t.Fatalf("the service counts %d coverage snapshots; the record holds %d", got, snaps)
	}
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM v_response_by_district WHERE calls > 0`).Scan(&districts); err != nil {
		t.Fatal(err)
	}
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM v_response_by_hour`).Scan(&hours); err != nil {
		t.Fatal(err)
	}
	if districts == 0 || hours == 0 {
		t.Fatalf("response views: %d districts, %d hours", districts, hours)
	}
	var within float64
	if err := st.Pool.QueryRow(ctx, `SELECT within_standard_pct FROM v_response_by_district ORDER BY calls DESC LIMIT 1`).Scan(&within); err != nil {
		t.Fatal(err)
	}
	if within <= 0 {
		t.Fatalf("the busiest district has %.1f%% within the standard", within)
	}
}
