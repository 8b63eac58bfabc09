package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ems120/ems120/chaos"
	"github.com/ems120/ems120/sql"
)

// errCheckFailed is a check (or a chaos run) that ran and found something wrong: exit 1.
var errCheckFailed = errors.New("check failed")

// printFindings prints the invariants that do not hold, or that all hold.
func printFindings(w io.Writer, findings []sql.Finding, asJSON bool) error {
	if asJSON {
		if findings == nil {
			findings = []sql.Finding{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"invariants": sql.Invariants(), "findings": findings})
	}
	if len(findings) == 0 {
		_, err := fmt.Fprintf(w, "ok: the record holds all %d invariants\n", len(sql.Invariants()))
		return err
	}
	for _, f := range findings {
		if _, err := fmt.Fprintln(w, "BROKEN", f); err != nil {
			return err
		}
	}
	return nil
}

// printChaos prints a chaos run's summary.
func printChaos(w io.Writer, s chaos.Summary, asJSON bool) error {
	if asJSON {
		if s.Findings == nil {
			s.Findings = []sql.Finding{}
		}
		return json.NewEncoder(w).Encode(s)
	}
	_, err := fmt.Fprintf(w, "chaos: %d calls, %d recorded, %d lost, %d undecided; %d assignments, %d duplicate, %d unrecorded (%d repeated messages); %d invariant violations, %d stale leaders\n"+
		"faults: %d kills, %d database outages, %d pauses; %d takeovers, p50 %.2f s, max %.2f s; database recovery max %.2f s; %.0f s in all\n",
		s.Calls, s.Recorded, s.Lost, s.Undecided, s.Assignments, s.DuplicateAssignments, s.UnrecordedAssignments, s.RepeatedMessages,
		s.InvariantViolations, s.StaleLeaders, s.Kills, s.DBOutages, s.Pauses, s.Takeovers, s.TakeoverP50, s.TakeoverMax, s.DBRecoveryMax, s.DurationS)
	for _, f := range s.Findings {
		fmt.Fprintln(w, "BROKEN", f)
	}
	return err
}
