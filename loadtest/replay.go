package loadtest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/replay"
	"github.com/ems120/ems120/results"
	"github.com/ems120/ems120/service"
)

// ReplayConfig configures `ems120 replay -into live`.
type ReplayConfig struct {
	Speed   float64 // the file's clock against ours: 60 = an hour of calls a minute
	City    *city.City
	Brokers []string // external Kafka; nil = embedded
	DSN     string   // external PostgreSQL; "" = throwaway
	// Progress gets a line every few seconds (stderr); nil for none.
	Progress io.Writer
	Logger   *slog.Logger
}

// Replay writes the file's calls onto ems.calls of a running ems120 (embedded broker and
// database unless given), each at its offset ÷ speed after the first, received when it is
// written, with the city's own fleet whose crews free their unit as soon as they read the
// assignment. The summary comes from the durable record plus the latency measured on the
// topics, as in `loadtest -mode calls`. Rejected rows count as calls, rejected.
func Replay(ctx context.Context, cfg ReplayConfig, f replay.File) (results.Load, error) {
	if cfg.Speed <= 0 {
		return results.Load{}, errors.New("replay: -speed must be positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	progress := progressTo(cfg.Progress, "replay")
	lv, err := startLive(ctx, cfg.Brokers, cfg.DSN, cfg.City, service.Config{}, cfg.Logger, progress)
	if err != nil {
		return results.Load{}, err
	}
	span := time.Duration(0)
	if n := len(f.Offsets); n > 0 {
		span = time.Duration(float64(f.Offsets[n-1]) / cfg.Speed)
	}
	progress("%d calls over %s at %g× (%s)", len(f.Calls), span.Round(time.Second), cfg.Speed, lv.brokers)
	due := func(el time.Duration, sent int) (int, bool) {
		fileEl := time.Duration(float64(el) * cfg.Speed)
		n := sort.Search(len(f.Offsets), func(i int) bool { return f.Offsets[i] > fileEl })
		return n, n == len(f.Offsets)
	}
	i := 0
	next := func(now time.Time) contract.Call {
		c := f.Calls[i]
		i++
		c.ReceivedAt = now.UTC()
		return c
	}
	res, runErr := driveCalls(ctx, lv, true, due, len(f.Calls), next, cfg.Logger, progress)
	if runErr == nil {
		// The record's figures: every call, what became of it, ETA and distance.
		rec, err := lv.svc.Store().RunSummary(context.WithoutCancel(ctx))
		if err != nil {
			runErr = err
		} else {
			res.Summary.Within15MinPct, res.Summary.Within5KmPct = rec.Within15MinPct, rec.Within5KmPct
			res.Summary.ResponseSP50, res.Summary.ResponseSP90 = rec.ResponseSP50, rec.ResponseSP90
			res.Summary.Cancelled = rec.Cancelled
		}
	}
	res.Summary.Rejected += f.RejectedTotal()
	res.Summary.Calls += f.RejectedTotal()
	if err := lv.stop(); err != nil && runErr == nil {
		runErr = err
	}
	return res, runErr
}
