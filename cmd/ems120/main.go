// Command ems120 is the 120 dispatch centre: `ems120 demo` runs everything embedded with the
// built-in Wuhan city; `ems120 serve` runs the daemon against a Kafka cluster and PostgreSQL;
// the other subcommands simulate, measure and report. Each parses its flags and calls the
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
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
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
		os.Exit(2)
	}
}

const usage = `ems120 — 120 emergency dispatch for a megacity

Usage: ems120 <command> [flags]

Commands:
  demo      everything embedded: Kafka-protocol broker, throwaway PostgreSQL, the Wuhan city,
            a simulated fleet and call stream, the HTTP API and a status line
  serve     the daemon, against a Kafka cluster (-kafka) and PostgreSQL (-db)
  simulate  a discrete-event simulation in virtual time (no broker, no database)
  coverage  the 5 km / 15-minute coverage of the city with its fleet at the stations
  loadtest  end to end over Kafka and PostgreSQL: -mode calls or -mode pings
  replay    real calls from a CSV, onto the calls topic (-into live) or into the simulator
  migrate   apply the SQL migrations to -db

Run 'ems120 <command> -h' for a command's flags.
`

// command is a subcommand: its flags are parsed from args.
type command func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

var commands = map[string]command{
	"demo": runDemo, "serve": runServe, "migrate": runMigrate, "simulate": runSimulate,
	"coverage": runCoverage, "loadtest": runLoadtest, "replay": runReplay,
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return errors.New("no command")
		}
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], getenv, stdout, stderr)
}
