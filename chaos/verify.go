package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/streams"
)

// verify drains the service, stops it, and checks the record and ems.assignments.
func (h *harness) verify(ctx context.Context, written []string, sum *Summary) error {
	st, err := sql.Open(ctx, h.st.DSN)
	if err != nil {
		return err
	}
	defer st.Close()
	sum.Calls = len(written)
	h.drain(ctx, st, written)
	h.stopAll() // the record at rest
	if err := st.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'received')
		FROM calls WHERE call_id = ANY($1)`, written).Scan(&sum.Recorded, &sum.Undecided); err != nil {
		return err
	}
	sum.Lost = sum.Calls - sum.Recorded
	if sum.Findings, err = st.Check(ctx); err != nil {
		return err
	}
	for _, f := range sum.Findings {
		sum.InvariantViolations += f.Count
	}
	return h.checkAssignments(ctx, st, sum)
}

// drain waits (up to a minute) until every call written is recorded and decided and the
// outbox is empty.
func (h *harness) drain(ctx context.Context, st *sql.Store, written []string) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var recorded, undecided, outbox int
		err := st.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM calls WHERE call_id = ANY($1)),
			(SELECT count(*) FROM calls WHERE call_id = ANY($1) AND status = 'received'), (SELECT count(*) FROM outbox)`,
			written).Scan(&recorded, &undecided, &outbox)
		if err == nil && recorded == len(written) && undecided == 0 && outbox == 0 {
			return
		}
	}
	h.progress("not drained after a minute; checking what there is")
}

// decision is an assignment as the record and the topic both name it.
type decision struct {
	call, unit string
	at         int64 // decided_at in microseconds (the record's precision)
}

// checkAssignments compares ems.assignments with the record: a message the record does not
// hold, or more distinct assignments of a call on the topic than in the record, is a doubled
// decision; a recorded assignment never published is a lost one.
func (h *harness) checkAssignments(ctx context.Context, st *sql.Store, sum *Summary) error {
	recorded := map[decision]bool{}
	perCall := map[string]int{}
	rows, err := st.Pool.Query(ctx, `SELECT call_id, unit_id, decided_at FROM assignments`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var d decision
		var at time.Time
		if err := rows.Scan(&d.call, &d.unit, &at); err != nil {
			rows.Close()
			return err
		}
		d.at = at.UnixMicro()
		recorded[d] = true
		perCall[d.call]++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	sum.Assignments = len(recorded)
	seen, total, err := readAssignments(ctx, h.brokers, len(recorded))
	if err != nil {
		return err
	}
	sum.RepeatedMessages = total - len(seen)
	onTopic := map[string]int{}
	for d := range seen {
		onTopic[d.call]++
		if !recorded[d] {
			sum.UnrecordedAssignments++
		}
	}
	for call, n := range onTopic {
		sum.DuplicateAssignments += max(0, n-perCall[call])
	}
	for d := range recorded {
		if !seen[d] {
			sum.Findings = append(sum.Findings, sql.Finding{Invariant: "every recorded assignment is on ems.assignments",
				Count: 1, Examples: []string{fmt.Sprintf("%s → %s", d.call, d.unit)}})
			sum.InvariantViolations++
		}
	}
	return nil
}

// readAssignments reads ems.assignments from the start until it has at least want distinct
// decisions and nothing new came for a second (or 30 s passed).
func readAssignments(ctx context.Context, brokers []string, want int) (map[decision]bool, int, error) {
	var mu sync.Mutex
	seen, total := map[decision]bool{}, 0
	last := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done, err := streams.Watch(rctx, brokers, contract.TopicAssignments, false, func(m kafka.Message, _ time.Time) {
		var a contract.Assignment
		if json.Unmarshal(m.Value, &a) != nil {
			return
		}
		mu.Lock()
		seen[decision{a.CallID, a.UnitID, a.DecidedAt.UnixMicro()}] = true
		total++
		last = time.Now()
		mu.Unlock()
	})
	if err != nil {
		return nil, 0, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		enough := len(seen) >= want && time.Since(last) > time.Second
		mu.Unlock()
		if enough {
			break
		}
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return seen, total, nil
}
