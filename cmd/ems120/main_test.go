package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/sql"
)

func TestRunCommands(t *testing.T) {
	env := func(string) string { return "" }
	tests := []struct {
		name    string
		args    []string
		wantErr string
		wantOut string
	}{
		{"no command", nil, "no command", "Commands:"},
		{"help", []string{"help"}, "", "Commands:"},
		{"unknown", []string{"fly"}, `unknown command "fly"`, "Commands:"},
		{"serve without config", []string{"serve"}, "serve needs -kafka", ""},
		{"migrate without db", []string{"migrate"}, "migrate needs -db", ""},
		{"bad flag", []string{"demo", "-rate", "many"}, "invalid value", ""},
		{"bad log level", []string{"demo", "-log-level", "loud"}, "-log-level", ""},
		{"replay without file", []string{"replay"}, "replay needs -file", ""},
		{"replay bad target", []string{"replay", "-file", "x.csv", "-into", "mars"}, "-into", ""},
		{"replay missing file", []string{"replay", "-file", "/nonexistent.csv"}, "no such file", ""},
		{"simulate bad scenario", []string{"simulate", "-scenario", "zombies"}, "unknown scenario", ""},
		{"simulate bad policy", []string{"simulate", "-dispatch-policy", "fastest"}, "-dispatch-policy", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, env, &out, &errOut)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if !strings.Contains(errOut.String(), tt.wantOut) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tt.wantOut)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	dsn := testenv.Postgres(t)
	env := func(k string) string {
		if k == "DATABASE_URL" {
			return dsn
		}
		return ""
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, env, &out, &out); err != nil {
		t.Fatal(err)
	}
	ms, err := sql.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("applied %d migration(s)", len(ms)); !strings.Contains(out.String(), want) {
		t.Fatalf("first migrate said %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"migrate", "-db", dsn}, env, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "applied 0 migration(s)") {
		t.Fatalf("second migrate said %q", out.String())
	}
}

func TestSimulateCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"simulate", "-hours", "2", "-json", "-seed", "3"}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var sum map[string]any
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("-json printed %q: %v", out.String(), err)
	}
	for _, k := range []string{"calls", "assigned", "lost", "hospital_overflow", "transport_added_s_mean", "latency_ms_p99"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary lacks %q", k)
		}
	}
	if sum["lost"].(float64) != 0 || sum["calls"].(float64) == 0 {
		t.Errorf("summary %v", sum)
	}
}

// replay into the simulator from a small CSV, with a bad row and a report: the summary
// counts the bad row as rejected, stderr says why, and the report's plots are PNGs.
func TestReplayCommand(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "calls.csv")
	rows := "lat,lng,title,timeStamp\n"
	for i := 0; i < 30; i++ {
		rows += fmt.Sprintf("30.%03d,114.%03d,EMS: RESPIRATORY EMERGENCY,2015-12-10 10:%02d:00\n", 550+i, 280+i, i)
	}
	rows += "95,114.3,EMS: FALL VICTIM,2015-12-10 10:31:00\n"
	if err := os.WriteFile(csv, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	rep := filepath.Join(dir, "report")
	args := []string{"replay", "-file", csv, "-into", "simulate", "-speed", "1", "-json", "-report", rep}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	var sum map[string]any
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("-json printed %q: %v", out.String(), err)
	}
	if sum["calls"].(float64) != 31 || sum["rejected"].(float64) != 1 || sum["lost"].(float64) != 0 || sum["assigned"].(float64) != 30 {
		t.Errorf("summary %v: want 31 calls, 30 assigned, 1 rejected", sum)
	}
	if !strings.Contains(errOut.String(), "lat: out of range") {
		t.Errorf("stderr does not give the rejection's reason: %s", errOut.String())
	}
	md, err := os.ReadFile(filepath.Join(rep, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fig := range []string{"queue.png", "occupancy.png", "coverage.png", "response-histogram.png"} {
		if !strings.Contains(string(md), "("+fig+")") {
			t.Errorf("report.md does not show %s", fig)
		}
		f, err := os.Open(filepath.Join(rep, fig))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(f); err != nil {
			t.Errorf("%s: %v", fig, err)
		}
		f.Close()
	}
}
