package sql

import (
	"context"
	"fmt"
	"time"
)

// Refusal is a message refused by the service: where it came from, why, and its bytes.
type Refusal struct {
	Source
	At     time.Time
	Reason string
	Key    []byte
	Value  []byte
}

// RecordRefusals records refusals in the transaction and returns the indexes of those not
// recorded before: a message refused again (a replay) is known by where it came from, and
// its dead letter is not published twice. It costs a round trip.
func (t *Tx) RecordRefusals(ctx context.Context, rs []Refusal) ([]int, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	topics, parts, offs := make([]string, len(rs)), make([]int32, len(rs)), make([]int64, len(rs))
	ats, reasons, keys, vals := make([]time.Time, len(rs)), make([]string, len(rs)), make([][]byte, len(rs)), make([][]byte, len(rs))
	for i, r := range rs {
		topics[i], parts[i], offs[i] = r.Topic, int32(r.Partition), r.Offset
		ats[i], reasons[i], keys[i], vals[i] = r.At, r.Reason, r.Key, r.Value
	}
	br, _, err := t.send(ctx, `INSERT INTO dead_letters (src_topic, src_partition, src_offset, at, reason, key, value)
		SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::timestamptz[], $5::text[], $6::bytea[], $7::bytea[])
		ON CONFLICT DO NOTHING RETURNING src_topic, src_partition, src_offset`, topics, parts, offs, ats, reasons, keys, vals)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	defer rows.Close()
	fresh := map[Source]bool{}
	for rows.Next() {
		var src Source
		if err := rows.Scan(&src.Topic, &src.Partition, &src.Offset); err != nil {
			return nil, err
		}
		fresh[src] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	var idx []int
	for i, r := range rs {
		if fresh[r.Source] {
			idx = append(idx, i)
			delete(fresh, r.Source) // the same message twice in one call: the first
		}
	}
	return idx, nil
}
