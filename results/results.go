package results

import "time"

// Sample is the state of the city at one moment of a run: a simulation's every 10 simulated
// minutes, or a load test's assignments (or pings) in one second, in Calls.
type Sample struct {
	At           time.Time
	Calls        int     // calls received so far (a load test: handled in that second)
	Queued       int     // calls waiting for a unit
	Busy         int     // units serving an incident
	OccupancyPct float64 // mean occupancy of the focus bed kind across its hospitals
	CoveragePct  float64 // demand within 5 km / 15 min of an available unit
	DoublePct    float64 // … of two
}

// Sim is what a simulation measured.
type Sim struct {
	Summary  Summary
	FocusBed string   // the bed kind the occupancy figures are about
	Samples  []Sample // every 10 simulated minutes
	Response []float64
}

// Load is what a load test (or a live replay) measured, beyond the summary.
type Load struct {
	Summary      Summary
	LatencyMs    []float64 // per call: write to ems.calls → assignment read from ems.assignments
	WrittenAtS   []float64 // per call, as LatencyMs: when it was written, seconds after the first write
	LatencyMax   float64
	Produced     int
	Throughput   []Sample // assignments (calls mode) or pings applied, per second, in Calls
	RawMessages  int
	PingsApplied int            // pings mode: applied to the fleet index (stale ones included)
	Console      []ConsolePhase // console mode: without, then with, the clients
}

// ConsolePhase is one phase of the console mode.
type ConsolePhase struct {
	Clients        int      `json:"clients"`
	Calls          int      `json:"calls"`
	Pings          int      `json:"pings"`
	DecisionMsP50  *float64 `json:"decision_ms_p50"` // call written → assignment readable on ems.assignments
	DecisionMsP99  *float64 `json:"decision_ms_p99"`
	Events         int      `json:"events"`          // incident events delivered, all clients
	DeliveryMsP50  *float64 `json:"delivery_ms_p50"` // commit → arrival at the client
	DeliveryMsP99  *float64 `json:"delivery_ms_p99"`
	DeliveryMsMax  *float64 `json:"delivery_ms_max"`
	Dropped        int      `json:"dropped"`               // client connections that ended early
	HeapPerClientB *int     `json:"heap_per_client_bytes"` // the process's live heap with the clients connected, less without, per client
}
