// Package chaos injects faults into a running ems120 on one machine, with real processes: a
// broker process (ems120 broker), a PostgreSQL, one active serve process and standbys beside
// it, a call generator and simulated crews. On a schedule it kills the active serve with
// SIGKILL (and starts it again), stops PostgreSQL in immediate mode for a few seconds, and
// pauses the active serve with SIGSTOP past its lease. At the end it drains and checks the
// record and the topics: every call written is recorded once and decided; no unit serves two
// live incidents; no call has two different assignments on ems.assignments.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/stack"
)

// Config is a chaos run.
type Config struct {
	Exe       string        // the ems120 binary the processes run; default this executable
	Standby   int           // serve processes beside the active one
	Rate      float64       // calls per second; default 100
	Kills     int           // SIGKILLs of the active serve
	DBOutages int           // PostgreSQL stopped in immediate mode for Outage
	Pauses    int           // SIGSTOPs of the active serve past its lease
	Outage    time.Duration // default 3 s
	Gap       time.Duration // calm between faults; default 1 s
	LeaseTTL  time.Duration // the serve processes' -lease-ttl; default 1.5 s
	CrewSpeed float64       // the simulated crews' clock against real time; default 60
	Seed      uint64
	Dir       string // the processes' logs and the broker's log; default a new temporary directory
	City      *city.City
	Logger    *slog.Logger
	Progress  io.Writer // a line per fault; nil for none
}

// Summary is what a chaos run found (docs/CONTRACT.md, "ems120 chaos").
type Summary struct {
	Calls                 int           `json:"calls"`
	Recorded              int           `json:"recorded"`
	Lost                  int           `json:"lost"`
	Undecided             int           `json:"undecided"`
	Assignments           int           `json:"assignments"`
	DuplicateAssignments  int           `json:"duplicate_assignments"`
	UnrecordedAssignments int           `json:"unrecorded_assignments"`
	RepeatedMessages      int           `json:"repeated_assignment_messages"`
	InvariantViolations   int           `json:"invariant_violations"`
	Findings              []sql.Finding `json:"findings"`
	StaleLeaders          int           `json:"stale_leaders"`
	Kills                 int           `json:"kills"`
	DBOutages             int           `json:"db_outages"`
	Pauses                int           `json:"pauses"`
	Takeovers             int           `json:"takeovers"`
	TakeoverP50           float64       `json:"takeover_s_p50"`
	TakeoverMax           float64       `json:"takeover_s_max"`
	TakeoverS             []float64     `json:"takeover_s"`
	DBRecoveryMax         float64       `json:"db_recovery_s_max"`
	DurationS             float64       `json:"duration_s"`
}

// Failed reports whether the run lost or doubled anything or broke an invariant.
func (s Summary) Failed() bool {
	return s.Lost > 0 || s.Undecided > 0 || s.DuplicateAssignments > 0 || s.UnrecordedAssignments > 0 ||
		s.InvariantViolations > 0 || s.StaleLeaders > 0
}

func (cfg *Config) defaults() error {
	if cfg.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cfg.Exe = exe
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 100
	}
	if cfg.Outage <= 0 {
		cfg.Outage = 3 * time.Second
	}
	if cfg.Gap <= 0 {
		cfg.Gap = time.Second
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 1500 * time.Millisecond
	}
	if cfg.CrewSpeed <= 0 {
		cfg.CrewSpeed = 60
	}
	if cfg.City == nil {
		cfg.City = city.Wuhan()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "ems120-chaos-")
		if err != nil {
			return err
		}
		cfg.Dir = dir
	}
	return os.MkdirAll(cfg.Dir, 0o755)
}

// Run starts the system as processes, injects the faults, drains and checks.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if err := cfg.defaults(); err != nil {
		return Summary{}, err
	}
	started := time.Now()
	broker, err := startBroker(ctx, cfg)
	if err != nil {
		return Summary{}, err
	}
	defer broker.stop()
	st, err := stack.Start(ctx, stack.Config{Brokers: []string{broker.addr}, Logger: cfg.Logger})
	if err != nil {
		return Summary{}, err
	}
	defer st.Close()
	h := &harness{cfg: cfg, st: st, brokers: []string{broker.addr}, rng: rand.New(rand.NewPCG(cfg.Seed, 120))}
	defer h.stopAll()
	if err := h.startServes(ctx); err != nil {
		return Summary{}, err
	}
	load := h.startLoad(ctx)
	sum := Summary{}
	faultErr := h.faults(ctx, &sum)
	written := load.stop()
	if faultErr != nil {
		return sum, faultErr
	}
	if err := h.verify(ctx, written, &sum); err != nil {
		return sum, err
	}
	sum.DurationS = time.Since(started).Seconds()
	return sum, nil
}

// errNoLeader is a fault after which no serve process became active in time.
var errNoLeader = errors.New("no serve process became active")

func (h *harness) progress(format string, a ...any) {
	fmt.Fprintf(h.cfg.Progress, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
}
