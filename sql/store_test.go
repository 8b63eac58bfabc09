package sql_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/sql"
)

// seededStore is openStore with the built-in Wuhan seeded.
func seededStore(t testing.TB) *sql.Store {
	t.Helper()
	st := openStore(t)
	if err := st.SeedCity(context.Background(), city.Wuhan()); err != nil {
		t.Fatal(err)
	}
	return st
}

func openStore(t testing.TB) *sql.Store {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	applied, err := sql.Migrate(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := sql.Migrations()
	if len(applied) != len(ms) {
		t.Fatalf("applied %v, want all %d migrations", applied, len(ms))
	}
	again, err := sql.Migrate(ctx, dsn)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate applied %v, %v; want nothing", again, err)
	}
	st, err := sql.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func TestSeedAndLoad(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := city.Wuhan()
	if err := st.SeedCity(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := st.SeedCity(ctx, c); err != nil {
		t.Fatalf("seeding twice: %v", err)
	}
	units, err := st.Units(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != len(c.Fleet) {
		t.Fatalf("units = %d, want %d", len(units), len(c.Fleet))
	}
	s, _ := c.Station(c.Fleet[0].Station)
	if got := units[0]; got.ID != c.Fleet[0].ID || city.DistanceM(got.Pos, s.Point) > 0.01 || got.Status != contract.StatusAvailable {
		t.Fatalf("first unit = %+v, want %s available at %v", got, c.Fleet[0].ID, s.Point)
	}
	// PostGIS agrees on geometry: every station lies in the district it names.
	var wrong int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM stations s JOIN districts d ON d.code = s.district
		WHERE NOT ST_Contains(d.boundary, s.geom)`).Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong != 0 {
		t.Fatalf("%d stations lie outside their district in PostGIS", wrong)
	}
}

func TestCallsAndChanges(t *testing.T) {
	ctx := context.Background()
	st := seededStore(t)
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	calls := []contract.Call{
		{CallID: "C1", ReceivedAt: at, Lat: 30.59, Lng: 114.30, Priority: 1, Category: contract.CategoryCardiac, Address: "江汉区"},
		{CallID: "C2", ReceivedAt: at, Lat: 30.60, Lng: 114.31, Priority: 2, Category: contract.CategoryFever, Infectious: true},
	}
	if known, err := st.KnownCalls(ctx, []string{"C1", "C2"}); err != nil || len(known) != 0 {
		t.Fatalf("known before recording = %v, %v", known, err)
	}
	err := st.InTx(ctx, func(tx *sql.Tx) error {
		tx.InsertCalls(calls, []sql.Source{{Topic: "ems.calls", Partition: 0, Offset: 7}})
		tx.Apply(sql.Changes{
			Calls:       []sql.CallState{{CallID: "C1", State: "assigned", UnitID: "A-001"}, {CallID: "C2", State: "queued"}},
			Assignments: []sql.AssignmentRow{{Assignment: contract.Assignment{CallID: "C1", UnitID: "A-001", DecidedAt: at, ETAS: 300, DistanceM: 2000, WithinStandard: true, Reason: "nearest"}, Seq: 1}},
			Events: []sql.EventRow{{CallID: "C1", At: at, Type: "received", State: "received"}, {CallID: "C1", At: at, Type: "assigned", State: "assigned", UnitID: "A-001"},
				{CallID: "C2", At: at, Type: "queued", State: "queued"}},
			Units: []sql.UnitRow{{ID: "A-001", Kind: contract.KindALS, Status: contract.StatusDispatched, CallID: "C1", Pos: city.Point{Lat: 30.5, Lng: 114.2}, StatusAt: at}},
			Outbox: &sql.OutboxRow{ID: st.NewOutboxID(), Msgs: []sql.OutboxMsg{{Topic: "t", Key: []byte("C1"), Value: []byte("v1")},
				{Topic: "u", Key: nil, Value: []byte("v2 \x00\xff")}}},
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if known, err := st.KnownCalls(ctx, []string{"C1", "C2", "C3"}); err != nil || !known["C1"] || !known["C2"] || known["C3"] {
		t.Fatalf("known after recording = %v, %v", known, err)
	}
	// A replayed insert changes nothing (the address stays).
	err = st.InTx(ctx, func(tx *sql.Tx) error {
		replay := append([]contract.Call(nil), calls...)
		replay[0].Address = "changed"
		tx.InsertCalls(replay, nil)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	live, err := st.LiveCalls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 2 || live[0].CallID != "C1" || live[0].Status != "assigned" || live[0].UnitID != "A-001" || live[0].Seq != 1 ||
		live[0].Address != "江汉区" || live[0].Lat != 30.59 || live[1].Status != "queued" || !live[1].Infectious {
		t.Fatalf("live calls = %+v", live)
	}
	// The database refuses a second live incident for the same unit.
	err = st.InTx(ctx, func(tx *sql.Tx) error {
		tx.Apply(sql.Changes{Calls: []sql.CallState{{CallID: "C2", State: "assigned", UnitID: "A-001"}}})
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "calls_one_live_incident_per_unit") {
		t.Fatalf("second live incident for A-001: err = %v, want the unique index to refuse", err)
	}
	// Handing a unit from a closing call to a queued one in one batch is fine.
	err = st.InTx(ctx, func(tx *sql.Tx) error {
		tx.Apply(sql.Changes{Calls: []sql.CallState{
			{CallID: "C2", State: "assigned", UnitID: "A-001"}, {CallID: "C1", State: "closed", UnitID: "A-001"}}})
		return nil
	})
	if err != nil {
		t.Fatalf("hand-over in one batch: %v", err)
	}
	// The event log is append-only.
	if _, err := st.Pool.Exec(ctx, `DELETE FROM incident_events`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("delete from incident_events: err = %v, want append-only", err)
	}
	// A row in migration 1's one-message form is read too.
	if _, err := st.Pool.Exec(ctx, `INSERT INTO outbox (id, topic, key, value) VALUES ($1, 'old', 'k', 'v3')`, st.NewOutboxID()); err != nil {
		t.Fatal(err)
	}
	rows, err := st.PendingOutbox(ctx, 0, 10)
	if err != nil || len(rows) != 2 || len(rows[0].Msgs) != 2 || rows[0].Msgs[0].Topic != "t" || string(rows[0].Msgs[1].Value) != "v2 \x00\xff" ||
		rows[0].Msgs[1].Key != nil && len(rows[0].Msgs[1].Key) != 0 || rows[1].Msgs[0].Topic != "old" || string(rows[1].Msgs[0].Value) != "v3" {
		t.Fatalf("pending outbox = %+v, %v", rows, err)
	}
	if err := st.DeleteOutbox(ctx, []int64{rows[0].ID}); err != nil {
		t.Fatal(err)
	}
	if rows, _ := st.PendingOutbox(ctx, 0, 10); len(rows) != 1 {
		t.Fatalf("after delete, pending = %d, want 1", len(rows))
	}
}

// A call first seen in a batch is written once, in the state the batch left it in, and may
// take a unit another call releases in the same batch.
func TestNewCallsInsertedInFinalState(t *testing.T) {
	ctx := context.Background()
	st := seededStore(t)
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	call := func(id string) contract.Call {
		return contract.Call{CallID: id, ReceivedAt: at, Lat: 30.59, Lng: 114.30, Priority: 2, Category: contract.CategoryTrauma}
	}
	err := st.InTx(ctx, func(tx *sql.Tx) error {
		tx.Apply(sql.Changes{New: []contract.Call{call("C1")}, Sources: []sql.Source{{Topic: "ems.calls", Partition: 2, Offset: 9}},
			Calls: []sql.CallState{{CallID: "C1", State: "assigned", UnitID: "A-001"}}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Next batch: C1 closes and hands A-001 to the new C2; C3 arrives and waits; C4 arrives,
	// is assigned and cancelled within the batch.
	err = st.InTx(ctx, func(tx *sql.Tx) error {
		tx.Apply(sql.Changes{New: []contract.Call{call("C2"), call("C3"), call("C4")},
			Calls: []sql.CallState{{CallID: "C2", State: "assigned", UnitID: "A-001"}, {CallID: "C1", State: "closed", UnitID: "A-001"},
				{CallID: "C3", State: "queued"}, {CallID: "C4", State: "assigned", UnitID: "A-002"}, {CallID: "C4", State: "cancelled", UnitID: "A-002"}}})
		return nil
	})
	if err != nil {
		t.Fatalf("hand-over to a new call in one batch: %v", err)
	}
	got := map[string]string{}
	rows, err := st.Pool.Query(ctx, `SELECT call_id, status || '/' || coalesce(unit_id, '') || '/' || coalesce(src_offset::text, '')
		FROM calls ORDER BY call_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		got[id] = v
	}
	want := map[string]string{"C1": "closed/A-001/9", "C2": "assigned/A-001/", "C3": "queued//", "C4": "cancelled/A-002/"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	var updated int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM calls WHERE call_id IN ('C2', 'C3', 'C4') AND updated_at <> created_at`).Scan(&updated); err != nil {
		t.Fatal(err)
	}
	if updated != 0 {
		t.Fatalf("%d new calls were inserted and then updated, want each written once", updated)
	}
}

func TestCapacityAndBookings(t *testing.T) {
	ctx := context.Background()
	st := seededStore(t)
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	rep := contract.CapacityReport{HospitalID: "H-xiehe", ReportedAt: at, Accepting: false,
		Beds: map[string]contract.Beds{contract.BedEmergency: {Total: 100, Occupied: 77}}}
	err := st.InTx(ctx, func(tx *sql.Tx) error {
		if err := tx.InsertCapacityReport(rep, "test", ""); err != nil {
			return err
		}
		// The enroute call C1 holds a bed at 协和; C2 was handed over there after the report.
		calls := []contract.Call{
			{CallID: "C1", ReceivedAt: at, Lat: 30.59, Lng: 114.27, Priority: 2, Category: contract.CategoryTrauma},
			{CallID: "C2", ReceivedAt: at, Lat: 30.59, Lng: 114.27, Priority: 3, Category: contract.CategoryOther},
		}
		tx.InsertCalls(calls, nil)
		tx.Apply(sql.Changes{
			Calls: []sql.CallState{{CallID: "C1", State: "en_route", UnitID: "A-001"}, {CallID: "C2", State: "closed", UnitID: "A-002"}},
			Assignments: []sql.AssignmentRow{
				{Assignment: contract.Assignment{CallID: "C1", UnitID: "A-001", DecidedAt: at, HospitalID: "H-xiehe", Reason: "nearest"}, Seq: 1},
				{Assignment: contract.Assignment{CallID: "C2", UnitID: "A-002", DecidedAt: at, HospitalID: "H-xiehe", Reason: "nearest"}, Seq: 1}},
			Events: []sql.EventRow{{CallID: "C2", At: at.Add(30 * time.Minute), Type: "at_hospital", State: "at_hospital", UnitID: "A-002"}},
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	states, err := st.HospitalStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range states {
		if h.ID == "H-xiehe" {
			if !h.ReportedAt.Equal(at) || h.Accepting || h.Beds[contract.BedEmergency].Occupied != 77 || h.Beds[contract.BedFeverObservation].Total == 0 {
				t.Fatalf("协和 after the report: %+v (the report's kinds replace, the others stay)", h)
			}
		} else if !h.ReportedAt.IsZero() {
			t.Fatalf("%s has a report time without a report", h.ID)
		}
	}
	bookings, err := st.Bookings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bookings) != 2 {
		t.Fatalf("bookings = %+v, want C1 on the way and C2 handed over", bookings)
	}
	for _, b := range bookings {
		if b.HospitalID != "H-xiehe" || (b.Call.CallID == "C1") == b.HandedOver || b.Call.Priority == 0 {
			t.Fatalf("booking %+v", b)
		}
	}
}

// The replay check runs for every batch of calls with a plan cached per connection. That plan
// is made while the calls table may still be empty, so it must not depend on the table's
// size: a generic plan, made on the empty table, probes the primary key.
func TestKnownCallsPlanIsAnIndexProbe(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	conn, err := st.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, q := range []string{"SET plan_cache_mode = force_generic_plan", "PREPARE known_plan(text[]) AS " + sql.KnownCallsSQL} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	defer conn.Exec(ctx, "DEALLOCATE known_plan; RESET plan_cache_mode")
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE known_plan('{C1,C2}')`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if !strings.Contains(plan, "calls_pkey") || strings.Contains(plan, "Seq Scan on calls") {
		t.Fatalf("the replay check's generic plan does not probe the primary key:\n%s", plan)
	}
}

// A unit's row changes at every status change and every position flush, thousands of times a
// second in a surge. Each of those updates stays on the row's page (HOT) and touches no
// index, moving or not; and an outbox row, a group commit's messages, is stored compressed.
func TestUnitUpdatesStayOnTheirPageAndTheOutboxIsCompressed(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	unit := sql.UnitRow{ID: "A-HOT", Kind: contract.KindALS, Status: contract.StatusAvailable, Pos: city.Point{Lat: 30.5, Lng: 114.2}, PingAt: at, StatusAt: at}
	write := func(u sql.UnitRow, out *sql.OutboxRow) {
		t.Helper()
		if err := st.InTx(ctx, func(tx *sql.Tx) error { tx.Apply(sql.Changes{Units: []sql.UnitRow{u}, Outbox: out}); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	write(unit, nil)
	const updates = 20
	for i := 1; i <= updates/2; i++ {
		// A status change that came with a new position (the crew's "on scene" at the
		// scene), then a position flush.
		unit.Pos = city.Point{Lat: 30.5 + float64(i)/1000, Lng: 114.2}
		unit.PingAt, unit.StatusAt = at.Add(time.Duration(i)*time.Minute), at.Add(time.Duration(i)*time.Minute)
		unit.Status = []contract.UnitStatus{contract.StatusOnScene, contract.StatusAvailable}[i%2]
		write(unit, nil)
		unit.Pos.Lng += 0.001
		unit.PingAt = unit.PingAt.Add(time.Second)
		if err := st.UpdatePositions(ctx, []sql.UnitRow{unit}); err != nil {
			t.Fatal(err)
		}
	}
	// The statistics reach the view when the writing backends report them, within seconds;
	// each query outside a transaction reads them afresh.
	var upd, hot int64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := st.Pool.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'units'`).
			Scan(&upd, &hot); err != nil {
			t.Fatal(err)
		}
		if upd >= updates {
			break
		}
	}
	if upd != updates || hot != updates {
		t.Fatalf("units: %d updates, %d of them HOT; want all %d HOT", upd, hot, updates)
	}
	units, err := st.Units(ctx)
	if err != nil || len(units) != 1 {
		t.Fatalf("units = %+v, %v", units, err)
	}
	if got := units[0]; got.Pos != unit.Pos || got.Status != unit.Status || !got.PingAt.Equal(unit.PingAt) {
		t.Fatalf("unit read back as %+v, want %+v", got, unit)
	}

	msgs := make([]sql.OutboxMsg, 40)
	for i := range msgs {
		msgs[i] = sql.OutboxMsg{Topic: contract.TopicAssignments, Key: []byte(fmt.Sprintf("C%d", i)),
			Value: []byte(fmt.Sprintf(`{"call_id":"C%d","unit_id":"A-%03d","eta_s":%d,"reason":"nearest available unit"}`, i, i, 60+i))}
	}
	out := &sql.OutboxRow{ID: st.NewOutboxID(), Msgs: msgs}
	write(unit, out)
	var method *string
	if err := st.Pool.QueryRow(ctx, `SELECT pg_column_compression(value) FROM outbox WHERE id = $1`, out.ID).Scan(&method); err != nil {
		t.Fatal(err)
	}
	if method == nil || *method != "lz4" && *method != "pglz" {
		t.Fatalf("outbox value stored with compression %v, want lz4 (or pglz on a server without it)", method)
	}
	rows, err := st.PendingOutbox(ctx, 0, 10)
	if err != nil || len(rows) != 1 || len(rows[0].Msgs) != len(msgs) || string(rows[0].Msgs[39].Value) != string(msgs[39].Value) {
		t.Fatalf("outbox read back = %d rows, %v", len(rows), err)
	}
}
