// Package surveillance watches fever and infectious calls for clusters: hourly counts per H3
// cell (resolution 7 by default) and per district, tested every hour by EARS C2 and by a
// CUSUM beside it, with neighbouring alerting cells merged into one cluster. It does no I/O
// and reads no clock: it is fed each hour's counts and returns the alerts of that hour.
package surveillance

import (
	"math"
)

// Methods of detection, as an alert names them.
const (
	MethodC2    = "ears_c2"
	MethodCUSUM = "cusum"
)

// Defaults of Config.
const (
	DefaultResolution   = 7
	DefaultWindowHours  = 24
	DefaultBaselineDays = 7
	DefaultLagDays      = 2
	DefaultZ            = 4
	DefaultFloor        = 2.5
	DefaultMinBaseline  = 4
	DefaultCUSUMK       = 2
	DefaultCUSUMH       = 30
)

// Config holds the detection rules. A zero field takes its default.
//
// Each hour the detector tests every cell's and every district's count over the last
// WindowHours hours (single hours are too sparse: a resolution-7 cell of central Wuhan sees
// about one fever call in two days). EARS C2 compares it with the same window on the same
// hours of BaselineDays earlier days, LagDays back (so a growing outbreak does not raise
// its own baseline at once): alert when count > mean + Z·max(sd, Floor, √mean). Floor keeps
// sparse cells, whose baseline is often all zeros, from alerting on one or two calls; √mean,
// a Poisson count's sd, keeps seven baseline days that happen to agree from making a busy
// district's threshold too tight. The CUSUM adds up each hour's standardised excess over
// CUSUMK, (count − mean)/max(sd, Floor, √mean) − K, never below zero, and alerts above
// CUSUMH: it sees a sustained rise that C2 misses. The defaults keep a normal week of Wuhan
// to about one false alarm city-wide (BENCHMARKS.md).
type Config struct {
	Resolution   int
	WindowHours  int
	BaselineDays int
	LagDays      int
	Z            float64
	Floor        float64
	MinBaseline  int // baseline windows needed to test at all (missing hours can remove some)
	// LagDays: 0 takes the default (2); a negative value means no lag.
	CUSUMK float64
	CUSUMH float64
}

func (c *Config) defaults() {
	setInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setFloat := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	setInt(&c.Resolution, DefaultResolution)
	setInt(&c.WindowHours, DefaultWindowHours)
	setInt(&c.BaselineDays, DefaultBaselineDays)
	switch {
	case c.LagDays == 0:
		c.LagDays = DefaultLagDays
	case c.LagDays < 0:
		c.LagDays = 0 // no lag
	}
	setInt(&c.MinBaseline, min(DefaultMinBaseline, c.BaselineDays))
	setFloat(&c.Z, DefaultZ)
	setFloat(&c.Floor, DefaultFloor)
	setFloat(&c.CUSUMK, DefaultCUSUMK)
	setFloat(&c.CUSUMH, DefaultCUSUMH)
}

// DefaultConfig is the configuration with every default.
func DefaultConfig() Config {
	var c Config
	c.defaults()
	return c
}

// HistoryHours is how many hours before an hour its test reads: the window, on the oldest
// baseline day.
func (c Config) HistoryHours() int {
	return (c.LagDays+c.BaselineDays)*24 + c.WindowHours
}

// Test is the outcome of EARS C2 for one count against its baseline.
type Test struct {
	Observed  float64
	Expected  float64 // the baseline's mean
	SD        float64 // the baseline's sample standard deviation, before the floor
	Threshold float64 // Expected + Z·max(SD, Floor, √Expected)
	Alert     bool
}

// C2 tests one count against its baseline windows: alert when it exceeds the baseline's
// mean by more than z standard deviations, the standard deviation taken no smaller than
// floor or √mean.
func C2(observed float64, baseline []float64, z, floor float64) Test {
	mean, sd := meanSD(baseline)
	t := Test{Observed: observed, Expected: mean, SD: sd, Threshold: mean + z*spread(mean, sd, floor)}
	t.Alert = observed > t.Threshold
	return t
}

// CUSUMStep is one step of the one-sided CUSUM on the standardised count: the sum before,
// the count and its baseline's mean and sd; it returns the sum after.
func CUSUMStep(sum, observed, mean, sd, floor, k float64) float64 {
	return math.Max(0, sum+(observed-mean)/spread(mean, sd, floor)-k)
}

// spread is the standard deviation a count is judged by: the baseline's, but no less than
// floor, and no less than a Poisson count's (√mean) — seven baseline days often
// underestimate it.
func spread(mean, sd, floor float64) float64 {
	return math.Max(math.Max(sd, floor), math.Sqrt(mean))
}

func meanSD(v []float64) (mean, sd float64) {
	if len(v) == 0 {
		return 0, 0
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}
