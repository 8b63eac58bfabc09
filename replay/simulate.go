package replay

import (
	"errors"
	"time"

	"github.com/ems120/ems120/results"
	"github.com/ems120/ems120/simulator"
)

// Simulate runs the simulator on the file's calls instead of its synthetic demand: the same
// warm-up, then the calls at their offsets ÷ speed from the start, with the city's fleet and
// hospitals (cfg.City). Without cfg.Hours it runs until the last call and two hours for it
// to be served. Rejected rows count as calls, rejected.
func Simulate(f File, speed float64, cfg simulator.Config) (results.Sim, error) {
	if speed <= 0 {
		return results.Sim{}, errors.New("replay: -speed must be positive")
	}
	cfg.Replay = make([]simulator.ReplayCall, len(f.Calls))
	for i, c := range f.Calls {
		cfg.Replay[i] = simulator.ReplayCall{Call: c, After: time.Duration(float64(f.Offsets[i]) / speed)}
	}
	if n := len(cfg.Replay); n > 0 && cfg.Hours <= 0 {
		cfg.Hours = (cfg.Replay[n-1].After + 2*time.Hour).Hours()
	}
	r, err := simulator.Run(cfg)
	if err != nil {
		return r, err
	}
	r.Summary.Rejected += f.RejectedTotal()
	r.Summary.Calls += f.RejectedTotal()
	return r, nil
}
