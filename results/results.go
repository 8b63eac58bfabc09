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
	PingsApplied int // pings mode: applied to the fleet index (stale ones included)
}
