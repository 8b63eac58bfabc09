package sql_test

import (
	"context"
	"testing"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/sql"
)

// Two processes, one database: the first takes the lease; the second cannot while it is live,
// takes it once it has expired (a paused holder), at a higher epoch; from then on every write
// of the first — a transaction, a single statement, its renewal — is refused, and its
// transaction changed nothing.
func TestLeaseFencesTheOldHolder(t *testing.T) {
	ctx := context.Background()
	a := openStore(t)
	b, err := sql.Open(ctx, a.Pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const ttl = 300 * time.Millisecond
	la, ok, err := a.Acquire(ctx, "city", "A", "a:1", ttl)
	if err != nil || !ok || la.Epoch != 1 {
		t.Fatalf("first acquire: %+v %v %v", la, ok, err)
	}
	a.Fence(la.Name, la.Epoch)
	if cur, ok, err := b.Acquire(ctx, "city", "B", "b:1", ttl); err != nil || ok || cur.Holder != "A" || cur.HTTP != "a:1" {
		t.Fatalf("B took a live lease: %+v %v %v", cur, ok, err)
	}
	write := func(st *sql.Store, id string) error {
		return st.InTx(ctx, func(tx *sql.Tx) error {
			tx.InsertCalls([]contract.Call{{CallID: id, ReceivedAt: time.Now(), Lat: 30.6, Lng: 114.3, Priority: 1, Category: "cardiac"}},
				[]sql.Source{{Topic: contract.TopicCalls}})
			return nil
		})
	}
	if err := write(a, "FENCE-1"); err != nil {
		t.Fatalf("the holder's write: %v", err)
	}
	time.Sleep(ttl + 100*time.Millisecond) // A is paused past its lease
	lb, ok, err := b.Acquire(ctx, "city", "B", "b:1", ttl)
	if err != nil || !ok || lb.Epoch != 2 || lb.Vacant < ttl {
		t.Fatalf("B after expiry: %+v %v %v", lb, ok, err)
	}
	b.Fence(lb.Name, lb.Epoch)
	if err := write(a, "FENCE-2"); !sql.IsFenced(err) {
		t.Errorf("the old holder's transaction: %v, want fenced", err)
	}
	if err := a.UpdatePositions(ctx, []sql.UnitRow{{ID: "U1"}}); !sql.IsFenced(err) {
		t.Errorf("the old holder's statement: %v, want fenced", err)
	}
	if err := a.Renew(ctx, la.Name, la.Epoch, ttl); !sql.IsFenced(err) {
		t.Errorf("the old holder's renewal: %v, want fenced", err)
	}
	if err := write(b, "FENCE-3"); err != nil {
		t.Errorf("the new holder's write: %v", err)
	}
	known, err := b.KnownCalls(ctx, []string{"FENCE-1", "FENCE-2", "FENCE-3"})
	if err != nil {
		t.Fatal(err)
	}
	if !known["FENCE-1"] || known["FENCE-2"] || !known["FENCE-3"] {
		t.Errorf("recorded %v; want FENCE-1 and FENCE-3 only", known)
	}
	if b.NewOutboxID() <= a.NewOutboxID() {
		t.Errorf("outbox ids of epoch 2 do not follow those of epoch 1")
	}
}
