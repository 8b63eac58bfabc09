package sql

import (
	"context"
	"fmt"
)

// Offsets returns the next offset to read on each partition of topic for the consumer group
// grp (migration 0009).
func (s *Store) Offsets(ctx context.Context, grp, topic string) (map[int]int64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT partition, next_offset FROM consumer_offsets WHERE grp = $1 AND topic = $2`, grp, topic)
	if err != nil {
		return nil, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	defer rows.Close()
	next := map[int]int64{}
	for rows.Next() {
		var p int
		var o int64
		if err := rows.Scan(&p, &o); err != nil {
			return nil, err
		}
		next[p] = o
	}
	return next, rows.Err()
}

// SaveOffsets records next offsets by topic and partition, fenced; an offset never moves back.
func (s *Store) SaveOffsets(ctx context.Context, grp string, next map[string]map[int]int64) error {
	var topics []string
	var parts []int32
	var offs []int64
	for t, ps := range next {
		for p, o := range ps {
			topics, parts, offs = append(topics, t), append(parts, int32(p)), append(offs, o)
		}
	}
	if len(topics) == 0 {
		return nil
	}
	err := s.execFenced(ctx, `INSERT INTO consumer_offsets (grp, topic, partition, next_offset)
		SELECT $1, t, p, o FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, o)
		ON CONFLICT (grp, topic, partition) DO UPDATE
		SET next_offset = greatest(consumer_offsets.next_offset, excluded.next_offset), updated_at = now()`,
		grp, topics, parts, offs)
	if err != nil {
		return fmt.Errorf("save offsets: %w", err)
	}
	return nil
}
