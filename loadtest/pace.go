package loadtest

import (
	"context"
	"time"
)

// pacer says how many messages are due, in all, by el since the start (given how many were
// sent), and whether the feed is finished.
type pacer func(el time.Duration, sent int) (due int, finished bool)

// atRate is rate per second for d (rate 0: as fast as send returns, 2,000 at a time).
func atRate(rate float64, d time.Duration) pacer {
	return func(el time.Duration, sent int) (int, bool) {
		if el >= d {
			return sent, true
		}
		if rate <= 0 {
			return sent + 2000, false
		}
		return int(rate * el.Seconds()), false
	}
}

// pace calls send with how many messages are due, every 5 ms at most 5,000 at a time, until
// the pacer is finished or ctx ends.
func pace(ctx context.Context, p pacer, send func(n int) error) error {
	start := time.Now()
	sent := 0
	for ctx.Err() == nil {
		due, finished := p(time.Since(start), sent)
		n := min(due-sent, 5000)
		if n <= 0 {
			if finished {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err := send(n); err != nil {
			return err
		}
		sent += n
	}
	return nil
}

// waitProgress polls count every poll until it reaches want or stops moving for 15 s, and
// returns when it stopped waiting.
func waitProgress(want int, poll time.Duration, count func() int) time.Time {
	deadline, last := time.Now().Add(15*time.Second), -1
	for {
		got := count()
		if got >= want {
			return time.Now()
		}
		if got != last {
			last, deadline = got, time.Now().Add(15*time.Second)
		}
		if time.Now().After(deadline) {
			return time.Now()
		}
		time.Sleep(poll)
	}
}
