package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ems120/ems120/stack"
	"github.com/ems120/ems120/streams"
)

// proc is a child process of ems120 with its log in a file. It dies with this process.
type proc struct {
	name   string
	args   []string
	cmd    *exec.Cmd
	exited chan struct{}
}

func spawn(cfg Config, name string, args ...string) (*proc, error) {
	p := &proc{name: name, args: args}
	return p, p.start(cfg.Exe, cfg.Dir)
}

func (p *proc) start(exe, dir string) error {
	logf, err := os.OpenFile(filepath.Join(dir, p.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(p.exited) }()
	return nil
}

func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// kill is kill -9, waited for.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.exited
}

// stop asks the process to stop (SIGTERM) and kills it after 15 s.
func (p *proc) stop() {
	p.signal(syscall.SIGCONT)
	p.signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		p.kill()
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// brokerProc is the broker process.
type brokerProc struct {
	*proc
	addr string
}

func startBroker(ctx context.Context, cfg Config) (*brokerProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := spawn(cfg, "broker", "broker", "-listen", addr, "-dir", filepath.Join(cfg.Dir, "broker-log"), "-log-level", "warn")
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := streams.EnsureTopics(ctx, []string{addr}, streams.Topics); err == nil {
			return &brokerProc{proc: p, addr: addr}, nil
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("the broker process did not answer on %s within 30 s (log in %s)", addr, cfg.Dir)
		}
	}
}

// harness holds the run's processes.
type harness struct {
	cfg     Config
	st      *stack.Stack
	brokers []string
	rng     *rand.Rand
	serves  []*serve
}

// serve is one serve process and its HTTP address; paused while SIGSTOPped.
type serve struct {
	*proc
	http   string
	paused bool
}

func (h *harness) serveArgs(httpAddr string) []string {
	return []string{"serve", "-kafka", h.brokers[0], "-db", h.st.DSN, "-http", httpAddr,
		"-lease-ttl", h.cfg.LeaseTTL.String(), "-log-level", "warn"}
}

// startServes starts the first serve, waits until it is active, then the standbys.
func (h *harness) startServes(ctx context.Context) error {
	for i := 0; i <= h.cfg.Standby; i++ {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		p, err := spawn(h.cfg, "serve-"+strconv.Itoa(i), h.serveArgs(addr)...)
		if err != nil {
			return err
		}
		h.serves = append(h.serves, &serve{proc: p, http: addr})
		if i == 0 {
			if _, _, err := h.waitActive(ctx, 0, 60*time.Second); err != nil {
				return err
			}
		}
	}
	return nil
}

// health is a serve process's /healthz.
type health struct {
	Role   string `json:"role"`
	Epoch  int64  `json:"epoch"`
	Reason string `json:"reason"`
}

var client = &http.Client{Timeout: 300 * time.Millisecond}

func (s *serve) health() (health, bool) {
	resp, err := client.Get("http://" + s.http + "/healthz")
	if err != nil {
		return health{}, false
	}
	defer resp.Body.Close()
	var hl health
	return hl, json.NewDecoder(resp.Body).Decode(&hl) == nil
}

// waitActive waits until a serve process (not paused) is active and ready under an epoch
// above after, and returns it and its epoch.
func (h *harness) waitActive(ctx context.Context, after int64, within time.Duration) (*serve, int64, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, s := range h.serves {
			if s.paused {
				continue
			}
			if hl, ok := s.health(); ok && hl.Role == "active" && hl.Reason == "" && hl.Epoch > after {
				return s, hl.Epoch, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, 0, fmt.Errorf("%w within %s after epoch %d (logs in %s)", errNoLeader, within, after, h.cfg.Dir)
}

func (h *harness) stopAll() {
	var wg sync.WaitGroup
	for _, s := range h.serves {
		wg.Add(1)
		go func() { defer wg.Done(); s.stop() }()
	}
	wg.Wait()
	h.serves = nil
}
