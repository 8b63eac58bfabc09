package service

import (
	"context"
	"sync"
	"time"

	"github.com/ems120/ems120/sql"
)

// offsetBook keeps the consumers' positions in PostgreSQL (streams.Offsets). A consumer
// saves a batch's next offsets once the batch is recorded; the book writes the latest ones
// every 200 ms, fenced like every write, so a replay after a crash or a takeover covers at
// most the last fraction of a second — batches the record already holds, which decide nothing
// again.
type offsetBook struct {
	store *sql.Store
	grp   string

	mu   sync.Mutex
	next map[string]map[int]int64 // not yet written
}

func newOffsetBook(store *sql.Store, grp string) *offsetBook {
	return &offsetBook{store: store, grp: grp, next: map[string]map[int]int64{}}
}

// Load implements streams.Offsets.
func (b *offsetBook) Load(ctx context.Context, topic string) (map[int]int64, error) {
	return b.store.Offsets(ctx, b.grp, topic)
}

// Save implements streams.Offsets.
func (b *offsetBook) Save(topic string, next map[int]int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.merge(map[string]map[int]int64{topic: next})
}

// merge keeps the highest offset per partition. Call with b.mu held.
func (b *offsetBook) merge(m map[string]map[int]int64) {
	for t, ps := range m {
		if b.next[t] == nil {
			b.next[t] = map[int]int64{}
		}
		for p, o := range ps {
			b.next[t][p] = max(b.next[t][p], o)
		}
	}
}

// flush writes the offsets saved since the last flush; on failure they stay for the next.
func (b *offsetBook) flush(ctx context.Context) error {
	b.mu.Lock()
	next := b.next
	b.next = map[string]map[int]int64{}
	b.mu.Unlock()
	if len(next) == 0 {
		return nil
	}
	if err := b.store.SaveOffsets(ctx, b.grp, next); err != nil {
		b.mu.Lock()
		b.merge(next)
		b.mu.Unlock()
		return err
	}
	return nil
}

// run flushes every 200 ms until ctx ends; a flush refused by the fence loses the term.
func (b *offsetBook) run(ctx context.Context, lose func(error)) error {
	every(ctx, 200*time.Millisecond, func() bool {
		err := b.flush(ctx)
		if sql.IsFenced(err) {
			lose(err)
			return false
		}
		return true
	})
	return nil
}

// every calls fn every d until ctx ends or fn returns false.
func every(ctx context.Context, d time.Duration, fn func() bool) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !fn() {
			return
		}
	}
}
