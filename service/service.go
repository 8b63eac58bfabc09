// Package service is the running ems120 daemon, and the one place its parts are wired: it
// consumes ems.calls, ems.units and ems.capacity, asks the dispatch engine and the hospital
// registry for decisions, records them in PostgreSQL and publishes them through a
// transactional outbox, keeps the live coverage map, and serves the HTTP API.
//
// The flow of one batch of calls: decode and validate (refusals go to ems.deadletter); drop
// the calls already recorded (replays); under the engine lock, decide, and queue the decision's
// record — new calls, assignments, incident events, changed units, one outbox row — for the
// committer (commit.go), which writes every decision queued since its last transaction in one
// transaction; once that commits, the batch's Kafka offsets are committed and the outbox row
// goes to the publisher (outbox.go). A crash replays at most the batches not yet durable, and
// a replay decides nothing. The engine is a cache of the record: when a transaction fails, it
// is rebuilt from the database and the batches are handled again.
package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/hospitals"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/streams"
	"github.com/ems120/ems120/surveillance"
	"github.com/ems120/ems120/web"
)

// Config configures a Service.
type Config struct {
	Brokers  []string
	DSN      string
	HTTPAddr string // "" for no HTTP server
	City     *city.City
	GroupID  string // consumer group; default "ems120"
	Logger   *slog.Logger
	Now      func() time.Time // default time.Now
	// Dispatch rules; zero values take the dispatch package's defaults (5 km, 15 min, 40 km,
	// 60 s to acknowledge, no pre-emption).
	StandardRadiusM float64
	StandardETA     time.Duration
	MaxRadiusM      float64
	AckTimeout      time.Duration // < 0 disables acknowledgement escalation
	Preempt         bool
	PreemptSaving   time.Duration
	Decontamination time.Duration       // after a fever or infectious patient; default 30 min, < 0 none
	Surveillance    surveillance.Config // the fever-call surveillance's rules
	Surge           dispatch.SurgeRules // surge mode's rules
	SurgeAuto       bool                // switch surge mode at its thresholds by itself
	MaxBatch        int                 // messages per batch; default 1000
	TickEvery       time.Duration       // how often acknowledgement deadlines are checked; default 1 s
	// Hospitals holds the destination rules (policy, staleness, maximum transport, slack);
	// its Travel is set by New.
	Hospitals hospitals.Config
	// CoverageTargetPct: below it, move-up advice is published; default 75.
	CoverageTargetPct float64
	// CoverageSnapshotEvery is how often the coverage map is stored; default 10 min.
	CoverageSnapshotEvery time.Duration
	// LeaseTTL is how long the active service's lease lasts unrenewed: a standby takes over at
	// most this long after the active one stops renewing it. Default 1.5 s.
	LeaseTTL time.Duration
	// Holder names this process in the lease; default host:pid:random.
	Holder string
	// MaxPendingMessages bounds the messages recorded but not yet published; at the bound,
	// decisions wait (back-pressure) instead of memory growing while Kafka is away. Default
	// 200,000.
	MaxPendingMessages int
	// SessionTTL is how long a console session lasts after sign-in; default 12 h (a shift).
	SessionTTL time.Duration
	// TLSCert and TLSKey, both or neither: PEM files; with them the API and the console are
	// served over HTTPS only, and the session cookie is Secure.
	TLSCert, TLSKey string
}

// Service is the daemon.
type Service struct {
	cfg        Config
	log        *slog.Logger
	store      *sql.Store
	travel     city.TravelModel
	metrics    *metrics
	intake     *kafka.Writer // ems.calls, for calls taken over HTTP
	capacityIn *kafka.Writer // ems.capacity, for reports taken over HTTP

	mu        sync.Mutex // guards engine, hospitals and everything they decide until it is durable
	engine    *dispatch.Engine
	hospitals *hospitals.Registry
	cur       *term           // the term as the active service; nil on a standby
	stale     error           // the engine could not be rebuilt after a failed write: nothing is decided
	cov       *covState       // its own lock; fed from the decisions, never blocks them
	guidance  guidanceCache   // the guidance KPIs of the last 24 h, for the metrics
	area      *dispatch.Reach // the city's stations and the widest search radius: the service area
	stats     atomic.Pointer[dispatch.Stats]

	// assignments is the standing assignment of each live call, for the console; guarded by mu.
	assignments map[string]*contract.Assignment
	live        *liveHub    // the console's feed (GET /v1/stream)
	auth        *auth       // sign-in throttle and checked credentials
	tls         *tls.Config // nil: plain HTTP
	hospDirty   atomic.Bool // the hospitals changed since the feed last sent them

	backlog  atomic.Int64 // messages recorded, not yet published (this term)
	roleMu   sync.Mutex
	rs       roleState // guarded by roleMu
	httpAddr atomic.Pointer[string]
}

// New prepares a service: creates missing topics, applies migrations, seeds the city, loads
// the fleet and the live incidents from the database. Run starts it.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := streams.EnsureTopics(ctx, cfg.Brokers, streams.Topics); err != nil {
		return nil, err
	}
	if _, err := sql.Migrate(ctx, cfg.DSN); err != nil {
		return nil, err
	}
	store, err := sql.Open(ctx, cfg.DSN)
	if err != nil {
		return nil, err
	}
	if err := store.SeedCity(ctx, cfg.City); err != nil {
		store.Close()
		return nil, fmt.Errorf("seed city: %w", err)
	}
	s := newService(cfg, store)
	if s.tls, err = cfg.tlsConfig(); err != nil {
		s.close()
		return nil, err
	}
	if err := s.newCoverage(ctx); err != nil {
		s.close()
		return nil, fmt.Errorf("coverage: %w", err)
	}
	s.metrics.gauges(s.Stats, func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.hospitals.Overdue(s.cfg.Now()))
	}, func() (float64, float64) { one, two, _ := s.cov.summary(); return one, two })
	s.metrics.guidanceGauges(func() guidanceView { return s.guidanceNow(s.guidance24h()) })
	if err := s.reload(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// defaults checks what a service cannot run without and fills in the rest.
func (cfg *Config) defaults() error {
	switch {
	case len(cfg.Brokers) == 0:
		return errors.New("service: no Kafka brokers")
	case cfg.DSN == "":
		return errors.New("service: no database")
	case cfg.City == nil:
		return errors.New("service: no city")
	}
	if cfg.GroupID == "" {
		cfg.GroupID = "ems120"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxRadiusM == 0 {
		cfg.MaxRadiusM = dispatch.DefaultMaxRadiusM
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = time.Second
	}
	if cfg.CoverageTargetPct == 0 {
		cfg.CoverageTargetPct = 75
	}
	if cfg.CoverageSnapshotEvery <= 0 {
		cfg.CoverageSnapshotEvery = 10 * time.Minute
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 1500 * time.Millisecond
	}
	if cfg.Holder == "" {
		cfg.Holder = defaultHolder()
	}
	if cfg.MaxPendingMessages <= 0 {
		cfg.MaxPendingMessages = 200_000
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return errors.New("service: TLS needs both a certificate (-tls-cert) and its key (-tls-key)")
	}
	return nil
}

// tlsConfig loads the TLS certificate, if one is configured.
func (cfg *Config) tlsConfig() (*tls.Config, error) {
	if cfg.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s with key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// newService makes the service's parts on the store: its writers and consumers, the travel
// model and the service area.
func newService(cfg Config, store *sql.Store) *Service {
	s := &Service{
		cfg:        cfg,
		log:        cfg.Logger,
		store:      store,
		travel:     city.DefaultTravelModel(cfg.City.Location()),
		metrics:    newMetrics(),
		intake:     streams.NewWriter(cfg.Brokers, contract.TopicCalls),
		capacityIn: streams.NewWriter(cfg.Brokers, contract.TopicCapacity),
		live:       newLiveHub(),
		auth:       newAuth(),
	}
	s.rs.role = roleStarting
	s.cfg.Hospitals.Travel = s.travel
	stations := make([]city.Point, len(cfg.City.Stations))
	for i, st := range cfg.City.Stations {
		stations[i] = st.Point
	}
	s.area = dispatch.NewReach(stations, s.cfg.MaxRadiusM)
	return s
}

func (s *Service) newEngine(reg *hospitals.Registry) *dispatch.Engine {
	return dispatch.New(dispatch.Config{
		Travel:          s.travel,
		StandardRadiusM: s.cfg.StandardRadiusM,
		StandardETA:     s.cfg.StandardETA,
		MaxRadiusM:      s.cfg.MaxRadiusM,
		AckTimeout:      s.cfg.AckTimeout,
		Preempt:         s.cfg.Preempt,
		PreemptSaving:   s.cfg.PreemptSaving,
		Decontamination: s.cfg.Decontamination,
		Surge:           s.cfg.Surge,
		Hospitals:       reg,
	})
}

// loadHospitals rebuilds the hospital registry from the record: each hospital's last
// accepted report, then the beds held by calls (on the way, or handed over since the report).
func (s *Service) loadHospitals(ctx context.Context) (*hospitals.Registry, error) {
	reg := hospitals.NewRegistry(s.cfg.City, s.cfg.Hospitals)
	states, err := s.store.HospitalStates(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		h, ok := reg.Hospital(st.ID)
		if !ok {
			continue // in the database from another city file; not ours
		}
		h.Accepting, h.ReportedAt = st.Accepting, st.ReportedAt
		for bed, b := range st.Beds {
			h.Reported[bed] = b
		}
	}
	bookings, err := s.store.Bookings(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range bookings {
		if err := reg.Restore(b.Call.CallID, b.HospitalID, b.Call, b.HandedOver, b.At); err != nil {
			s.log.Warn("a booked bed at an unknown hospital", "call_id", b.Call.CallID, "err", err)
		}
	}
	return reg, nil
}

// reload rebuilds the engine from the database, the source of truth. It runs at start-up and
// after a failed transaction, when the engine may hold decisions that were never recorded.
func (s *Service) reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked(ctx)
}

func (s *Service) reloadLocked(ctx context.Context) error {
	reg, err := s.loadHospitals(ctx)
	if err != nil {
		return err
	}
	e := s.newEngine(reg)
	if sw, ok, err := s.store.LastSurge(ctx); err != nil {
		return err
	} else if ok {
		e.RestoreSurge(dispatch.Surge{On: sw.On, At: sw.At, Reason: sw.Reason, Actor: sw.Actor, Auto: sw.Auto})
	}
	units, err := s.store.Units(ctx)
	if err != nil {
		return err
	}
	for _, u := range units {
		if err := e.AddUnit(dispatch.Unit{ID: u.ID, Kind: u.Kind, StationID: u.StationID, Pos: u.Pos, Status: u.Status,
			CallID: u.CallID, PingAt: u.PingAt, StatusAt: u.StatusAt, FlaggedAt: u.FlaggedAt, DeconUntil: u.DeconUntil}); err != nil {
			return fmt.Errorf("load fleet: %w", err)
		}
	}
	// The fleet is as recorded: nothing to write back. (Left dirty, a 100,000-unit fleet
	// would be rewritten by the first decision, which would wait for it.)
	e.DrainDirty(true)
	calls, err := s.store.LiveCalls(ctx)
	if err != nil {
		return err
	}
	for _, c := range calls {
		inc := dispatch.Incident{Call: c.Call, State: dispatch.State(c.Status), UnitID: c.UnitID, Seq: c.Seq, AssignedAt: c.AssignedAt}
		if err := e.Restore(inc); err != nil {
			// The record disagrees with itself (a unit that does not name the call). The call
			// must not be lost: it waits in the queue and is dispatched again.
			s.log.Warn("restoring a live call as queued", "call_id", c.CallID, "err", err)
			inc.State, inc.UnitID = dispatch.StateQueued, ""
			if err := e.Restore(inc); err != nil {
				return fmt.Errorf("restore %s: %w", c.CallID, err)
			}
		}
	}
	e.Settle()
	booked, err := s.store.LiveAssignments(ctx)
	if err != nil {
		return err
	}
	s.assignments = make(map[string]*contract.Assignment, len(booked))
	for id, a := range booked {
		s.assignments[id] = &a.Assignment
	}
	s.engine, s.hospitals = e, reg
	s.live.restart() // what the console was shown may not have been recorded
	if s.stale != nil {
		s.stale = nil
		s.setStale("")
	}
	s.cov.reset(e.Units(), s.cfg.Now())
	s.publishStats()
	return nil
}

// Run serves until ctx is cancelled. The HTTP address is taken first: a service that cannot
// serve its API does not start. Then it leads (leader.go): active while it holds the lease,
// a standby otherwise. When ctx ends an active service stops in order — the consumers finish
// the batch in hand, the committer records it, the outbox publishes what is pending (what it
// cannot stays in the database for the next term) — and gives the lease up; then the HTTP
// server drains.
func (s *Service) Run(ctx context.Context) error {
	defer s.close()
	var ln net.Listener
	if s.cfg.HTTPAddr != "" {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
			return fmt.Errorf("http: %w", err)
		}
		defer ln.Close() // a no-op once the server has it
	}
	g, gctx := errgroup.WithContext(ctx)
	leadCtx, stopLead := context.WithCancel(gctx)
	defer stopLead()
	if ln != nil {
		s.serveHTTP(ctx, leadCtx, g, ln)
	}
	s.log.Info("ems120 running", "brokers", strings.Join(s.cfg.Brokers, ","), "http", s.HTTPAddr(), "holder", s.cfg.Holder)
	if s.cfg.HTTPAddr != "" && !web.Built() {
		s.log.Warn("the operator console is not in this binary (built without `make web`): / answers 503; the API works")
	}
	g.Go(func() error {
		defer stopLead()
		err := s.lead(leadCtx)
		s.setRole(roleStopping)
		return err
	})
	return g.Wait()
}

// serveHTTP serves the API on ln in g until stop ends, then drains it for up to 5 s.
func (s *Service) serveHTTP(ctx, stop context.Context, g *errgroup.Group, ln net.Listener) {
	addr := ln.Addr().String()
	s.httpAddr.Store(&addr)
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, TLSConfig: s.tls}
	g.Go(func() error {
		serve := srv.Serve
		if s.tls != nil {
			serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-stop.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
}

// tick escalates unacknowledged dispatches every TickEvery. A failed transaction is retried
// at the next tick (the engine was rebuilt from the record, so the deadlines are intact).
func (s *Service) tick(ctx context.Context) error {
	every(ctx, s.cfg.TickEvery, func() bool {
		err := s.decide(context.WithoutCancel(ctx), nil, true, func(now time.Time, r *record) ([]dispatch.Event, error) {
			evs := s.engine.Tick(now)
			for _, h := range s.hospitals.OpenStandby(now) {
				s.log.Warn("standby beds open", "hospital", h.ID, "beds", h.StandbyBeds)
				s.hospDirty.Store(true)
			}
			if s.cfg.SurgeAuto {
				if sw, more := s.engine.AutoSurge(now, s.hospitals.IsolationOccupancyPct()); sw != nil {
					r.changes.Surge = append(r.changes.Surge, surgeRow(*sw))
					s.log.Warn("surge mode switched automatically", "on", sw.On, "reason", sw.Reason)
					evs = append(evs, more...)
				}
			}
			return evs, nil
		})
		if err != nil {
			s.log.Error("acknowledgement check", "err", err)
		}
		return true
	})
	return nil
}

// Role is what the service is doing: starting, active, standby or stopping.
func (s *Service) Role() string { return string(s.roleState().role) }

// Ready reports whether the service is the active one and deciding.
func (s *Service) Ready() bool {
	st := s.roleState()
	return st.role == roleActive && st.problem() == ""
}

// Store is the service's durable record (for reports read after a run).
func (s *Service) Store() *sql.Store { return s.store }

// PingsApplied counts the unit pings applied so far, stale ones included.
func (s *Service) PingsApplied() int64 {
	return int64(counterValue(s.metrics.pings) + counterValue(s.metrics.stalePings))
}

// CoverageSnapshots counts the coverage snapshots stored since Run started: the first comes a
// second after the start, then one every CoverageSnapshotEvery.
func (s *Service) CoverageSnapshots() int64 { return int64(counterValue(s.metrics.snapshots)) }

// HTTPAddr is the address the HTTP server listens on, once Run has started it.
func (s *Service) HTTPAddr() string {
	if p := s.httpAddr.Load(); p != nil {
		return *p
	}
	return ""
}

func (s *Service) close() {
	s.intake.Close()
	s.capacityIn.Close()
	s.store.Close()
}

// lags are the call and ping consumers' lags in this term (0 on a standby).
func (s *Service) lags() (calls, units int64) {
	s.mu.Lock()
	t := s.cur
	s.mu.Unlock()
	if t == nil {
		return 0, 0
	}
	return t.calls.Lag(), t.units.Lag()
}

// Stats returns the engine's counts as of the last batch.
func (s *Service) Stats() dispatch.Stats {
	if p := s.stats.Load(); p != nil {
		return *p
	}
	return dispatch.Stats{}
}

// Hospital returns a hospital of the service's city.
func (s *Service) Hospital(id string) (city.Hospital, bool) {
	for _, h := range s.cfg.City.Hospitals {
		if h.ID == id {
			return h, true
		}
	}
	return city.Hospital{}, false
}

// Status returns the counters for a status line.
func (s *Service) Status() Status {
	st := s.metrics.status(s.Stats())
	st.CoveragePct = s.CoveragePct()
	return st
}

// publishStats copies the engine's counts for readers that must not take the engine lock.
// Call with s.mu held.
func (s *Service) publishStats() {
	st := s.engine.Stats()
	s.stats.Store(&st)
}
