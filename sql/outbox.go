package sql

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The transactional outbox. Each recorded decision writes one row holding all the messages
// that announce it (an assignment and its incident events, say), in the same transaction as
// the decision; the publisher sends them after the commit and deletes the row once the
// broker has them. One row per decision rather than per message keeps the outbox's share of
// the write load small. A row's messages are encoded in `value` (topic ''); a row with a
// topic is a single message (the format of migration 1).

// OutboxMsg is a message to publish.
type OutboxMsg struct {
	Topic string
	Key   []byte
	Value []byte
}

// OutboxRow is the messages of one decision, under one id.
type OutboxRow struct {
	ID   int64
	Msgs []OutboxMsg
}

// outboxEpochShift places the lease's epoch above a counter in an outbox id.
const outboxEpochShift = 40

// NewOutboxID gives an outbox row its id: the epoch the store writes under, then a counter
// (2^40 rows a term). Ids grow in the order they are given and go on growing across
// takeovers and restarts, whatever the processes' clocks say (recovery publishes rows in id
// order).
func (s *Store) NewOutboxID() int64 { return s.outboxSeq.Add(1) }

// encodeOutbox writes messages as (topic, key, value) triples, each part length-prefixed.
func encodeOutbox(msgs []OutboxMsg) []byte {
	n := 0
	for _, m := range msgs {
		n += 3*binary.MaxVarintLen32 + len(m.Topic) + len(m.Key) + len(m.Value)
	}
	b := make([]byte, 0, n) // one allocation: growing by appends allocated twice the row's size
	for _, m := range msgs {
		for _, part := range [][]byte{[]byte(m.Topic), m.Key, m.Value} {
			b = binary.AppendUvarint(b, uint64(len(part)))
			b = append(b, part...)
		}
	}
	return b
}

var errOutboxCorrupt = errors.New("outbox row is not a message batch")

func decodeOutbox(b []byte) ([]OutboxMsg, error) {
	var out []OutboxMsg
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errOutboxCorrupt
		}
		part := b[k : k+int(n)]
		b = b[k+int(n):]
		return part, nil
	}
	for len(b) > 0 {
		var parts [3][]byte
		for i := range parts {
			p, err := next()
			if err != nil {
				return nil, err
			}
			parts[i] = p
		}
		out = append(out, OutboxMsg{Topic: string(parts[0]), Key: parts[1], Value: parts[2]})
	}
	return out, nil
}

// PendingOutbox returns up to limit unpublished rows with id > after, oldest first.
func (s *Store) PendingOutbox(ctx context.Context, after int64, limit int) ([]OutboxRow, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, topic, key, value FROM outbox WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("pending outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxRow, error) {
		var row OutboxRow
		var topic string
		var key, value []byte
		if err := r.Scan(&row.ID, &topic, &key, &value); err != nil {
			return row, err
		}
		if topic != "" { // one message per row, as migration 1 wrote them
			row.Msgs = []OutboxMsg{{Topic: topic, Key: key, Value: value}}
			return row, nil
		}
		msgs, err := decodeOutbox(value)
		row.Msgs = msgs
		return row, err
	})
	if err != nil {
		return nil, fmt.Errorf("pending outbox: %w", err)
	}
	return out, nil
}

// DeleteOutbox removes published rows.
func (s *Store) DeleteOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.execFenced(ctx, `DELETE FROM outbox WHERE id = ANY($1)`, pgx.QueryExecModeExec, ids); err != nil {
		return fmt.Errorf("delete outbox: %w", err)
	}
	return nil
}
