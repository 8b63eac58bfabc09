// Command ems120 is the 120 dispatch centre: `ems120 demo` runs everything embedded with the
// built-in Wuhan city; `ems120 serve` runs the daemon against a Kafka cluster and PostgreSQL;
// the other subcommands simulate, measure and report. Each defines its flags and calls the
// package that does the work. See README.md and docs/CONTRACT.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A dispatch server has memory to spare and latency to keep: collect garbage a quarter as
	// often as Go's default, unless GOGC says otherwise.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// EMS_CPUPROFILE=FILE writes a CPU profile of the whole run (go tool pprof).
	if path := os.Getenv("EMS_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	// EMS_MEMPROFILE=FILE writes a heap profile when the command returns.
	if path := os.Getenv("EMS_MEMPROFILE"); path != "" {
		defer func() { _ = writeFile(path, pprof.WriteHeapProfile) }()
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ems120:", err)
		}
		if errors.Is(err, errCheckFailed) {
			os.Exit(1) // it ran, and found the record (or the run) wrong
		}
		os.Exit(2)
	}
}

// A command defines its flags on f and returns what it does once they are parsed.
type command struct {
	name, about string
	define      func(f *flags) func(ctx context.Context) error
}

var commands = []command{
	{"demo", "everything embedded: Kafka-protocol broker, throwaway PostgreSQL, the Wuhan city,\n" +
		"            a simulated fleet and call stream, the HTTP API and a status line", demoCmd},
	{"serve", "the daemon, against a Kafka cluster (-kafka) and PostgreSQL (-db)", serveCmd},
	{"simulate", "a discrete-event simulation in virtual time (no broker, no database)", simulateCmd},
	{"coverage", "the 5 km / 15-minute coverage of the city with its fleet at the stations", coverageCmd},
	{"loadtest", "end to end over Kafka and PostgreSQL: -mode calls or -mode pings", loadtestCmd},
	{"replay", "real calls from a CSV, onto the calls topic (-into live) or into the simulator", replayCmd},
	{"migrate", "apply the SQL migrations to -db", migrateCmd},
	{"broker", "the embedded Kafka-protocol broker as a process of its own (-listen, -dir)", brokerCmd},
	{"chaos", "fault injection with real processes: kill -9, PostgreSQL outages, SIGSTOP; then checks", chaosCmd},
	{"check", "verify the record's invariants in -db; exits 1 when something is wrong", checkCmd},
	{"user add", "add an account (-name, -role, -hospital for a reporter) to -db; prints its password and API token once", userAddCmd},
	{"user disable", "disable an account (-name) in -db: its sessions end, its tokens stop working", userDisableCmd},
	{"user list", "list the accounts in -db", userListCmd},
}

func usage() string {
	var b strings.Builder
	b.WriteString("ems120 — 120 emergency dispatch for a megacity\n\nUsage: ems120 <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.about)
	}
	b.WriteString("\nRun 'ems120 <command> -h' for a command's flags.\n")
	return b.String()
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage())
		if len(args) == 0 {
			return errors.New("no command")
		}
		return nil
	}
	for _, c := range commands {
		words := len(strings.Fields(c.name)) // "user add" is a command of two words
		if len(args) >= words && c.name == strings.Join(args[:words], " ") {
			f := newFlags(c.name, getenv, stdout, stderr)
			do := c.define(f)
			if err := f.parse(args[words:]); err != nil {
				return err
			}
			return do(ctx)
		}
	}
	fmt.Fprint(stderr, usage())
	return fmt.Errorf("unknown command %q", args[0])
}
