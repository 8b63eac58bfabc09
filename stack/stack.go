// Package stack starts ems120 whole: a Kafka-protocol broker (the embedded one, or a cluster
// given by address), a PostgreSQL (a throwaway server, or one given by DSN) and the service
// on them. It is the one place that does: `ems120 serve` and `demo`, the load test, the live
// replay and the end-to-end tests all start the system through it.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
		s.DSN = pg.DSN
		s.log.Info("throwaway PostgreSQL started", "dsn", s.DSN)
	}
	return s, nil
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
	for !svc.Ready() {
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
// cfg leaves them out) until ctx is cancelled.
func Run(ctx context.Context, cfg Config, svc service.Config) error {
	st, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := st.NewService(ctx, svc)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
