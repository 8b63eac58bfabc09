// Package stack starts ems120 whole: a Kafka-protocol broker (the embedded one, or a cluster
// given by address), a PostgreSQL (a throwaway server, or one given by DSN) and the service
// on them. It is the one place that does: `ems120 serve` and `demo`, the load test, the live
// replay and the end-to-end tests all start the system through it.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/sql/pgtemp"
	"github.com/ems120/ems120/streams"
)

// Config says what to start and what is already there.
type Config struct {
	Brokers     []string // a Kafka cluster; nil starts the embedded broker on KafkaListen
	KafkaListen string   // the embedded broker's address; default 127.0.0.1:0 (a free port)
	DSN         string   // a PostgreSQL; "" starts a throwaway server, removed by Close
	Logger      *slog.Logger
}

// Stack is a broker and a database, either started here or given, for services to run on.
type Stack struct {
	Brokers []string
	DSN     string
	pg      *pgtemp.Server // the throwaway PostgreSQL, if Start started one
	log     *slog.Logger
	closers []func() // what Start started, in order
}

// Start starts what cfg does not give: the embedded broker, with ems120's topics, and a
// throwaway PostgreSQL. Close stops them and removes their files.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.KafkaListen == "" {
		cfg.KafkaListen = "127.0.0.1:0"
	}
	s := &Stack{Brokers: cfg.Brokers, DSN: cfg.DSN, log: cfg.Logger}
	if len(s.Brokers) == 0 {
		b, err := streams.StartBroker(ctx, cfg.KafkaListen)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, b.Close)
		s.Brokers = b.Addrs()
		s.log.Info("embedded Kafka broker (kfake) listening", "addr", s.Brokers[0])
	}
	if s.DSN == "" {
		pg, err := pgtemp.Start(ctx)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.closers = append(s.closers, func() {
			pg.Close()
			s.log.Info("throwaway PostgreSQL stopped and removed")
		})
		s.DSN, s.pg = pg.DSN, pg
		s.log.Info("throwaway PostgreSQL started", "dsn", s.DSN)
	}
	return s, nil
}

// StopDatabase stops the throwaway PostgreSQL, in immediate mode (a crash, to its clients) or
// fast; StartDatabase starts it again on the same data. For fault injection (ems120 chaos).
func (s *Stack) StopDatabase(immediate bool) error {
	if s.pg == nil {
		return errors.New("stack: the database was given, not started here")
	}
	s.pg.Stop(immediate)
	return nil
}

// StartDatabase starts the database StopDatabase stopped and waits until it takes connections.
func (s *Stack) StartDatabase(ctx context.Context) error {
	if s.pg == nil {
		return errors.New("stack: the database was given, not started here")
	}
	return s.pg.Restart(ctx)
}

// Close stops what Start started, the database first; what was given stays as it was.
func (s *Stack) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// NewService prepares a service on the stack (service.New with the stack's broker and
// database; cfg's logger, or the stack's). Its Run starts it.
func (s *Stack) NewService(ctx context.Context, cfg service.Config) (*service.Service, error) {
	cfg.Brokers, cfg.DSN = s.Brokers, s.DSN
	if cfg.Logger == nil {
		cfg.Logger = s.log
	}
	return service.New(ctx, cfg)
}

// Running is a service running in the background.
type Running struct {
	*service.Service
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	once   sync.Once
}

// Serve starts a service on the stack in the background and returns once it consumes (and
// serves HTTP, when cfg asks for it). Its context is detached from ctx's cancellation: Stop
// stops it.
func (s *Stack) Serve(ctx context.Context, cfg service.Config) (*Running, error) {
	return s.launch(ctx, cfg, (*service.Service).Ready)
}

// ServeStandby starts a service that finds another one active: it returns once the service
// knows it is the standby.
func (s *Stack) ServeStandby(ctx context.Context, cfg service.Config) (*Running, error) {
	return s.launch(ctx, cfg, func(svc *service.Service) bool { return svc.Role() == "standby" })
}

// launch starts a service and waits up to a minute for until(svc).
func (s *Stack) launch(ctx context.Context, cfg service.Config, until func(*service.Service) bool) (*Running, error) {
	svc, err := s.NewService(ctx, cfg)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Running{Service: svc, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = svc.Run(runCtx)
		close(r.done)
	}()
	deadline := time.After(time.Minute)
	for !until(svc) {
		select {
		case <-r.done:
			cancel()
			return nil, fmt.Errorf("service stopped at start: %w", r.err)
		case <-deadline:
			return nil, errors.Join(errors.New("service not ready after a minute"), r.Stop())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return r, nil
}

// Stop stops the service (consumers, then the committer, the publisher and HTTP, in order)
// and returns Run's error. A second Stop returns the same.
func (r *Running) Stop() error {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
	return r.err
}

// Run is `ems120 serve`: a service on the given broker and database (or embedded ones, where
// cfg leaves them out) until ctx is cancelled. A service that cannot start because the
// database or the broker is unreachable (a standby started during an outage) tries again
// with backoff instead of exiting; other errors end it.
func Run(ctx context.Context, cfg Config, svc service.Config) error {
	st, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	backoff := time.Second
	for {
		s, err := st.NewService(ctx, svc)
		if err == nil {
			return s.Run(ctx)
		}
		if !unreachable(err) || ctx.Err() != nil {
			return err
		}
		st.log.Error("cannot start yet; trying again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// unreachable reports whether err says a server could not be reached or went away mid-way,
// rather than that something is wrong with what was asked of it.
func unreachable(err error) bool {
	var netErr net.Error
	var connErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 08: connection exception; 57: the server is shutting down or starting up.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57")
	}
	return errors.As(err, &netErr) || errors.As(err, &connErr) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || pgconn.SafeToRetry(err)
}
