package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

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
