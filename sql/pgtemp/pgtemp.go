// Package pgtemp starts a throwaway PostgreSQL server from the machine's binaries, for the demo
// and for tests. The server listens on 127.0.0.1 on a free port, keeps its data in a fresh
// directory under the system's temp dir, trusts local connections, and is removed by Close.
//
// PostgreSQL refuses to run as root; when the process is root the server runs as the
// "postgres" user in a directory that user owns.
package pgtemp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ems120/ems120/internal/tmpdir"
)

// ErrNoPostgres is returned when no PostgreSQL server binaries are installed.
var ErrNoPostgres = errors.New("PostgreSQL server binaries not found (install postgresql and postgresql-15-postgis-3, or run `make setup` as root)")

// Server is a running throwaway PostgreSQL.
type Server struct {
	DSN  string // of the database "ems120"
	Port int

	dir     string
	bin     string   // the postgres binary
	args    []string // its arguments
	cred    *syscall.Credential
	exited  chan struct{} // closed when the postgres process has exited
	exitErr error         // its exit status, once exited is closed
	proc    *os.Process
}

// BinDir finds the PostgreSQL server binaries: $EMS_PG_BIN, the newest
// /usr/lib/postgresql/*/bin, or `pg_config --bindir`.
func BinDir() (string, error) {
	if d := os.Getenv("EMS_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

// Start initialises and starts a server and creates the database "ems120".
func Start(ctx context.Context) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	// A server killed with its owner leaves its directory; the next start removes it.
	dir, err := tmpdir.Make("ems120-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtemp: %w", err)
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{dir: dir}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtemp: initdb: %w\n%s", err, out)
	}
	if s.Port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A throwaway database trades durability against a crash of the machine for speed: it is
	// removed on exit anyway (without fsync, what the kernel holds survives a crash of the
	// server, not of the machine). ems120's own sessions turn synchronous_commit back on
	// (sql.Open): a commit they act on must survive the server's crash, which ems120 chaos
	// causes. And
	// checkpoints come by time (checkpoint_timeout, 5 minutes), not by WAL volume, as
	// PostgreSQL's guide to WAL configuration advises: a load test writes WAL fast enough for
	// the default max_wal_size (1 GB) to start a checkpoint within a minute. A committing
	// backend that must create a new 16 MB WAL file by default first writes it full of zeros;
	// wal_init_zero=off skips that (BENCHMARKS.md has the runs with and without each).
	args := []string{"-D", data, "-p", strconv.Itoa(s.Port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "max_connections=200", "-c", "shared_buffers=256MB", "-c", "max_wal_size=8GB",
		"-c", "wal_init_zero=off"}
	s.bin, s.args, s.cred = filepath.Join(bin, "postgres"), args, cred
	if err := s.spawn(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	admin := s.adminDSN()
	if err := s.waitReady(ctx, admin); err != nil {
		s.Close()
		return nil, err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("pgtemp: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE ems120"); err != nil {
		s.Close()
		return nil, fmt.Errorf("pgtemp: create database: %w", err)
	}
	s.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/ems120?sslmode=disable", s.Port)
	return s, nil
}

// credential returns who the server runs as: nil (ourselves) unless we are root, in which
// case the postgres user, who is given dir.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtemp: running as root needs a 'postgres' user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("pgtemp: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// spawn starts postgres from a goroutine that holds its OS thread until the server exits, so
// that Pdeathsig (sent when the thread that started the child dies) fires only when this
// process dies: a killed demo does not leave a server behind.
func (s *Server) spawn() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtemp: %w", err)
	}
	started := make(chan error, 1)
	s.exited = make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer logf.Close()
		cmd := exec.Command(s.bin, s.args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		// Own process group: a Ctrl-C at the terminal reaches us, not the server, so the
		// service can finish its in-flight work before the database goes away.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("pgtemp: start postgres: %w", err)
			close(s.exited)
			return
		}
		s.proc = cmd.Process
		started <- nil
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	return <-started
}

func (s *Server) waitReady(ctx context.Context, dsn string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := pgx.Connect(ctx, dsn)
		if err == nil {
			c.Close(ctx)
			return nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			return fmt.Errorf("pgtemp: postgres exited: %v\n%s", s.exitErr, log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtemp: postgres not ready after 30 s: %w", err)
		}
	}
}

func (s *Server) adminDSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
}

// Stop stops the server and waits for it to exit: in immediate mode (SIGQUIT: no checkpoint,
// connections cut, recovery at the next start — what a crash looks like to clients), or fast.
// Restart starts it again on the same data and port.
func (s *Server) Stop(immediate bool) {
	if s.proc == nil {
		return
	}
	sig := syscall.SIGINT
	if immediate {
		sig = syscall.SIGQUIT
	}
	_ = s.proc.Signal(sig)
	<-s.exited
	s.proc = nil
}

// Restart starts a stopped server again and waits until it accepts connections.
func (s *Server) Restart(ctx context.Context) error {
	if s.proc != nil {
		return errors.New("pgtemp: restart: the server is running")
	}
	if err := s.spawn(); err != nil {
		return err
	}
	return s.waitReady(ctx, s.adminDSN())
}

// Close stops the server (fast shutdown, then kill after 10 s) and removes its directory.
func (s *Server) Close() error {
	if s.proc != nil {
		_ = s.proc.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.proc.Kill()
			<-s.exited
		}
		s.proc = nil
	}
	return os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtemp: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
