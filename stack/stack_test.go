package stack

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/service"
)

// A stack starts what it is not given and stops only that: a second stack on the first's
// broker and database starts nothing, and closing it leaves the first's broker up. A service
// served on a stack is ready when Serve returns and stops cleanly.
func TestStartServeStopClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first, err := Start(ctx, Config{DSN: testenv.Postgres(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if len(first.Brokers) != 1 || len(first.closers) != 1 {
		t.Fatalf("the first stack has brokers %v and %d things to close; want the embedded broker alone", first.Brokers, len(first.closers))
	}
	second, err := Start(ctx, Config{Brokers: first.Brokers, DSN: first.DSN})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.closers) != 0 {
		t.Fatalf("a stack given its broker and database started %d things", len(second.closers))
	}
	r, err := second.Serve(ctx, service.Config{City: city.Wuhan(), HTTPAddr: "127.0.0.1:0", AckTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Ready() || r.HTTPAddr() == "" {
		t.Fatalf("Serve returned a service that is not ready (ready %v, http %q)", r.Ready(), r.HTTPAddr())
	}
	if err := r.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if r.Ready() {
		t.Fatal("a stopped service says it is ready")
	}
	second.Close()
	conn, err := net.DialTimeout("tcp", first.Brokers[0], 5*time.Second)
	if err != nil {
		t.Fatalf("closing the second stack stopped the first's broker: %v", err)
	}
	conn.Close()
}

// Serve fails, rather than hangs, when the service cannot start: a taken HTTP address is an
// error at once (the service binds it before it consumes anything).
func TestServeReportsAServiceThatCannotStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := Start(ctx, Config{DSN: testenv.Postgres(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r, err := st.Serve(ctx, service.Config{City: city.Wuhan(), HTTPAddr: ln.Addr().String()})
	if err == nil {
		r.Stop()
		t.Fatalf("a service whose HTTP address %s is taken started", ln.Addr())
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Serve: %v; want the taken address as the reason", err)
	}
}
