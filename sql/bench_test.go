package sql_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/sql"
)

// BenchmarkRecordDecisions is the group commit's write for one batch of calls, each received
// and assigned in the batch: the calls, their assignments, two incident events each, the
// units' new status and one outbox row — one pipelined transaction, as the committer sends it.
// ns/op is per call. fenced=true is the active service's way, which checks the leadership
// lease first (ems_fence); fenced=false, its peer without the check, runs on the same server.
func BenchmarkRecordDecisions(b *testing.B) {
	for _, batch := range []int{1, 100, 250} {
		st := seededStore(b) // one server for both variants: they differ only in the fence
		lease, ok, err := st.Acquire(context.Background(), "bench", "bench", "", time.Hour)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		n := 0
		for _, fenced := range []bool{false, true} {
			b.Run(fmt.Sprintf("batch=%d/fenced=%v", batch, fenced), func(b *testing.B) {
				if fenced {
					st.Fence(lease.Name, lease.Epoch)
					defer st.Fence("", 0)
				}
				recordDecisions(b, st, batch, &n)
			})
		}
	}
}

// recordDecisions writes b.N calls, batch to a transaction; n numbers the calls across runs.
func recordDecisions(b *testing.B, st *sql.Store, batch int, n *int) {
	ctx := context.Background()
	c := city.Wuhan()
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		var ch sql.Changes
		for i := 0; i < batch; i++ {
			id := fmt.Sprintf("B%09d", *n)
			u := c.Fleet[*n%len(c.Fleet)]
			*n++
			call := contract.Call{CallID: id, ReceivedAt: at, Lat: 30.59, Lng: 114.30, Priority: 2, Category: contract.CategoryTrauma}
			ch.New = append(ch.New, call)
			ch.Sources = append(ch.Sources, sql.Source{Topic: contract.TopicCalls, Partition: *n % 6, Offset: int64(*n)})
			// Each call is closed at once, so the unit is free for the next round.
			ch.Calls = append(ch.Calls, sql.CallState{CallID: id, State: "closed", UnitID: u.ID})
			ch.Assignments = append(ch.Assignments, sql.AssignmentRow{Assignment: contract.Assignment{CallID: id, UnitID: u.ID,
				DecidedAt: at, ETAS: 300, DistanceM: 2500, WithinStandard: true, Reason: "nearest"}, Seq: 1})
			ch.Events = append(ch.Events, sql.EventRow{CallID: id, At: at, Type: "received", State: "received"},
				sql.EventRow{CallID: id, At: at, Type: "assigned", State: "assigned", UnitID: u.ID})
			ch.Units = append(ch.Units, sql.UnitRow{ID: u.ID, Kind: u.Kind, StationID: u.Station, Status: contract.StatusDispatched,
				CallID: id, Pos: city.Point{Lat: 30.59, Lng: 114.30}, StatusAt: at})
		}
		ch.Outbox = &sql.OutboxRow{ID: st.NewOutboxID(), Msgs: []sql.OutboxMsg{{Topic: contract.TopicAssignments, Value: make([]byte, 300*batch)}}}
		if err := st.InTx(ctx, func(tx *sql.Tx) error { tx.Apply(ch); return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
