package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/ems120/ems120/results"
)

// WriteJSON prints a load test's result as one JSON object: the summary, and what the mode
// measured beyond it (the worst latency of calls; the pings applied and their rate against
// the raw Kafka ceiling).
func WriteJSON(w io.Writer, mode string, res results.Load) error {
	out := struct {
		results.Summary
		Mode         string                 `json:"mode"`
		Produced     int                    `json:"produced"`
		LatencyMsMax *float64               `json:"latency_ms_max"`
		PingsApplied *int                   `json:"pings_applied"`
		RawMessages  int                    `json:"raw_messages"`
		RatioToRaw   *float64               `json:"ratio_to_raw"`
		Console      []results.ConsolePhase `json:"console,omitempty"`
	}{Summary: res.Summary, Mode: mode, Produced: res.Produced, RawMessages: res.RawMessages, Console: res.Console}
	if mode != ModePings && len(res.LatencyMs) > 0 {
		out.LatencyMsMax = results.F(res.LatencyMax)
	}
	if mode == ModePings {
		out.PingsApplied = &res.PingsApplied
		if res.Summary.ThroughputPerS != nil && res.Summary.RawKafkaPerS != nil {
			r := math.Round(*res.Summary.ThroughputPerS / *res.Summary.RawKafkaPerS * 1000) / 1000
			out.RatioToRaw = &r
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteConsoleText prints the console mode's phases, one line each.
func WriteConsoleText(w io.Writer, phases []results.ConsolePhase) error {
	for _, p := range phases {
		if _, err := fmt.Fprintf(w, "clients %3d: %d calls, %d pings; decision p50 %s p99 %s ms; %d events delivered p50 %s p99 %s max %s ms; %d dropped; heap per client %s B\n",
			p.Clients, p.Calls, p.Pings, fs(p.DecisionMsP50), fs(p.DecisionMsP99), p.Events, fs(p.DeliveryMsP50), fs(p.DeliveryMsP99),
			fs(p.DeliveryMsMax), p.Dropped, is(p.HeapPerClientB)); err != nil {
			return err
		}
	}
	return nil
}
