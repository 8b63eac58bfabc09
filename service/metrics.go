package service

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ems120/ems120/dispatch"
)

// metrics are the service's Prometheus metrics, on a registry of its own so that several
// services (in tests) can live in one process.
type metrics struct {
	reg             *prometheus.Registry
	calls           prometheus.Counter
	assigned        prometheus.Counter
	queuedEvents    prometheus.Counter
	withinStd       prometheus.Counter
	closed          prometheus.Counter
	rejected        *prometheus.CounterVec
	pings           prometheus.Counter
	stalePings      prometheus.Counter
	latency         prometheus.Histogram
	published       prometheus.Counter
	lag             *prometheus.GaugeVec
	capacity        *prometheus.CounterVec
	snapshots       prometheus.Counter
	alerts          prometheus.Counter
	active          prometheus.Gauge
	takeovers       prometheus.Counter
	takeoverSeconds prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounter(prometheus.CounterOpts{Name: "ems_calls_total",
			Help: "Calls received (new call ids recorded)."}),
		assigned: prometheus.NewCounter(prometheus.CounterOpts{Name: "ems_assignments_total",
			Help: "Assignments decided, reassignments and calls served from the queue included."}),
		queuedEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "ems_calls_queued_total",
			Help: "Times a call went into the queue for lack of a unit."}),
		withinStd: prometheus.NewCounter(prometheus.CounterOpts{Name: "ems_assignments_within_standard_total",
			Help: "Assignments whose unit was within 5 km and 15 minutes (ETA)."}),
		closed: prometheus.NewCounter(prometheus.CounterOpts{Name: "ems_incidents_closed_total",
			Help: "Incidents closed."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ems_rejected_total",
			Help: "Messages refused and sent to the dead-letter topic, by source topic."}, []string{"topic"}),
		pings: prometheus.NewCounter(prometheus.CounterOpts{Name: "ems_unit_pings_total",
			Help: "Unit pings applied."}),
		stalePings: prometheus.NewCounter(prometheus.CounterOpts{Name: "ems_unit_pings_stale_total",
			Help: "Unit pings older than one already applied, ignored."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ems_decision_latency_seconds",
			Help: "From the call's record timestamp on ems.calls to its assignment written to ems.assignments.",
			// 0.5 ms … ~33 s in steps of 25%: fine enough for a p99 read off the buckets.
			Buckets: prometheus.ExponentialBuckets(0.0005, 1.25, 50)}),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "ems_published_total",
			Help: "Messages published from the outbox."}),
		snapshots: prometheus.NewCounter(prometheus.CounterOpts{Name: "ems_coverage_snapshots_total",
			Help: "Coverage snapshots stored in PostgreSQL."}),
		alerts: prometheus.NewCounter(prometheus.CounterOpts{Name: "ems_alerts_total",
			Help: "Fever-call cluster alerts recorded (one per cluster and hour)."}),
	}
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ems_consumer_lag",
		Help: "Messages on the topic not yet handled, as of the last batch."}, []string{"topic"})
	m.capacity = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ems_capacity_reports_total",
		Help: "Hospital capacity reports by outcome: accepted, duplicate, rejected."}, []string{"outcome"})
	m.active = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ems_active",
		Help: "1 while this process is the active service (holds the lease), 0 as a standby."})
	m.takeovers = prometheus.NewCounter(prometheus.CounterOpts{Name: "ems_takeovers_total",
		Help: "Terms this process began by taking the lease over from another holder."})
	m.takeoverSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ems_takeover_seconds",
		Help:    "From the previous holder's last lease renewal to this process deciding.",
		Buckets: prometheus.ExponentialBuckets(0.25, 1.5, 14)})
	m.reg.MustRegister(m.active, m.takeovers, m.takeoverSeconds)
	m.reg.MustRegister(m.calls, m.assigned, m.queuedEvents, m.withinStd, m.closed, m.rejected, m.pings,
		m.stalePings, m.latency, m.published, m.lag, m.capacity, m.snapshots, m.alerts)
	return m
}

// gauges registers the gauges read from the engine's counts.
func (m *metrics) gauges(stats func() dispatch.Stats, overdue func() int, cov func() (float64, float64)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ems_coverage_pct", Help: "Demand-weighted share of the service area reached by ≥ 1 available unit within 5 km and 15 min."},
			func() float64 { one, _ := cov(); return one }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ems_double_coverage_pct", Help: "… by ≥ 2 units."},
			func() float64 { _, two := cov(); return two }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ems_hospitals_overdue", Help: "Hospitals whose capacity report is stale or missing."},
			func() float64 { return float64(overdue()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ems_queue_length", Help: "Calls waiting for a unit."},
			func() float64 { return float64(stats().Queued) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ems_incidents_live", Help: "Incidents neither closed nor cancelled."},
			func() float64 { return float64(stats().Live) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ems_units_available", Help: "Units available for dispatch."},
			func() float64 { return float64(stats().Available) }),
	)
}

// Status is a snapshot of the service's counters for the demo's status line.
type Status struct {
	Calls, Assigned, WithinStandard, Rejected, Closed int
	Queued, Live, Available                           int
	LatencyP50, LatencyP99                            time.Duration // NaN-safe: zero when nothing measured
	CoveragePct                                       float64       // live demand-weighted coverage
}

// WithinStandardPct is the share of assignments within 5 km and 15 min (ETA), in percent.
func (st Status) WithinStandardPct() float64 {
	if st.Assigned == 0 {
		return 0
	}
	return 100 * float64(st.WithinStandard) / float64(st.Assigned)
}

func (st Status) String() string {
	return fmt.Sprintf("calls %d  assigned %d  queued %d  rejected %d  closed %d  units available %d  latency p50 %s p99 %s  within 5 km/15 min %.1f%%  coverage %.1f%%",
		st.Calls, st.Assigned, st.Queued, st.Rejected, st.Closed, st.Available,
		st.LatencyP50.Round(100*time.Microsecond), st.LatencyP99.Round(100*time.Microsecond), st.WithinStandardPct(), st.CoveragePct)
}

func (m *metrics) status(stats dispatch.Stats) Status {
	rejected := 0.0
	ch := make(chan prometheus.Metric, 16)
	go func() { m.rejected.Collect(ch); close(ch) }()
	for c := range ch {
		var d dto.Metric
		if c.Write(&d) == nil {
			rejected += d.GetCounter().GetValue()
		}
	}
	dur := func(q float64) time.Duration {
		v := histogramQuantile(m.latency, q)
		if math.IsNaN(v) {
			return 0
		}
		return time.Duration(v * float64(time.Second))
	}
	return Status{
		Calls: int(counterValue(m.calls)), Assigned: int(counterValue(m.assigned)), WithinStandard: int(counterValue(m.withinStd)),
		Rejected: int(rejected), Closed: int(counterValue(m.closed)),
		Queued: stats.Queued, Live: stats.Live, Available: stats.Available,
		LatencyP50: dur(0.5), LatencyP99: dur(0.99),
	}
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return 0
	}
	return d.GetCounter().GetValue()
}

// histogramQuantile estimates the q-quantile of a histogram by linear interpolation inside
// the bucket that holds it, as Prometheus's histogram_quantile does. NaN when empty.
func histogramQuantile(h prometheus.Histogram, q float64) float64 {
	var d dto.Metric
	if err := h.Write(&d); err != nil {
		return math.NaN()
	}
	hist := d.GetHistogram()
	total := float64(hist.GetSampleCount())
	if total == 0 {
		return math.NaN()
	}
	buckets := hist.GetBucket()
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].GetUpperBound() < buckets[j].GetUpperBound() })
	rank := q * total
	lower, prevCount := 0.0, 0.0
	for _, b := range buckets {
		count := float64(b.GetCumulativeCount())
		if count >= rank {
			if count == prevCount {
				return b.GetUpperBound()
			}
			return lower + (b.GetUpperBound()-lower)*(rank-prevCount)/(count-prevCount)
		}
		lower, prevCount = b.GetUpperBound(), count
	}
	return lower
}

// guidanceGauges registers the KPIs of China's 2020 pre-hospital guidance: the record's
// shares over the last 24 hours (read again at a scrape when older than a minute) and the
// fleet's ratios now.
func (m *metrics) guidanceGauges(g func() guidanceView) {
	pct := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ems_en_route_within_3min_pct", Help: "Calls of the last 24 h with a unit en route within 3 min of receipt (target 95)."},
			func() float64 { return pct(g().EnRouteWithin3MinPct) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ems_within_5km_15min_pct", Help: "Calls of the last 24 h whose first unit was inside 5 km / 15 min."},
			func() float64 { return pct(g().WithinStandardPct) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ems_ambulances_per_30k", Help: "Ambulances per 30,000 residents (target 1)."},
			func() float64 { return g().AmbulancesPer30k }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ems_negative_pressure_pct", Help: "Share of the fleet that is negative-pressure (target 40)."},
			func() float64 { return g().NegativePressurePct }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ems_units_decontaminating", Help: "Units being decontaminated after a fever or infectious patient."},
			func() float64 { return float64(g().Decontaminating) }),
	)
}
