package service

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/sql"
	"github.com/ems120/ems120/streams"
	"github.com/ems120/ems120/surveillance"
	"github.com/segmentio/kafka-go"
	"github.com/uber/h3-go/v4"
)

// surveillanceGrace is how long after an hour ends its calls are counted: a call recorded a
// little late still counts in its hour.
const surveillanceGrace = 2 * time.Minute

// guidanceCache holds the guidance KPIs of the last 24 hours for the metrics, refreshed by
// the surveillance loop every minute.
type guidanceCache struct {
	mu sync.Mutex
	g  sql.Guidance
}

func (c *guidanceCache) set(g sql.Guidance) { c.mu.Lock(); c.g = g; c.mu.Unlock() }

func (c *guidanceCache) get() sql.Guidance { c.mu.Lock(); defer c.mu.Unlock(); return c.g }

// runSurveillance tests each hour's fever and infectious calls, read from the record once
// the hour has ended: its alerts go to the alerts table and, those not recorded before, to
// ems.alerts. It starts from the record's last Surveillance.HistoryHours, so a new active
// service (a restart, a takeover) picks up where the record ends; the last day's alerts
// are recorded (again: a row already there is kept, and not published twice).
func (s *Service) runSurveillance(ctx context.Context) error {
	w := streams.NewWriter(s.cfg.Brokers, contract.TopicAlerts)
	defer w.Close()
	det := surveillance.NewDetector(s.cfg.Surveillance)
	var next, recordFrom time.Time
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		now := s.cfg.Now()
		closed := now.Add(-surveillanceGrace).UTC().Truncate(time.Hour)
		if next.IsZero() {
			next = closed.Add(-time.Duration(det.Config().HistoryHours()) * time.Hour)
			recordFrom = closed.Add(-24 * time.Hour)
		}
		if next.Before(closed) {
			if err := s.observeHours(ctx, det, next, closed, recordFrom, w); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.log.Warn("surveillance: will try again in a minute", "hour", next, "err", err)
			} else {
				next = closed
			}
		}
		if g, err := s.store.GuidanceSince(ctx, now.Add(-24*time.Hour)); err == nil {
			s.guidance.set(g)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// observeHours reads the hours [from, to) from the record and tests them; the alerts of
// hours from recordFrom on are recorded and the new ones published.
func (s *Service) observeHours(ctx context.Context, det *surveillance.Detector, from, to, recordFrom time.Time, w *kafka.Writer) error {
	calls, err := s.store.FeverCalls(ctx, from, to)
	if err != nil {
		return err
	}
	tally := surveillance.NewTally(det.Config().Resolution)
	tally.Start(from)
	for _, c := range calls {
		tally.Add(c.At, c.Lat, c.Lng, districtCode(s.cfg.City, c.Lat, c.Lng))
	}
	var record []contract.Alert
	for _, h := range tally.Until(to) {
		alerts, err := det.Observe(h)
		if err != nil {
			return err // never expected: the tally hands out hours in order
		}
		if !h.Start.Before(recordFrom) {
			record = append(record, alerts...)
		}
	}
	fresh, err := s.store.InsertAlerts(ctx, record)
	if err != nil {
		return err
	}
	msgs := make([]kafka.Message, 0, len(fresh))
	for _, a := range fresh {
		b, _ := json.Marshal(a)
		msgs = append(msgs, kafka.Message{Key: []byte(a.AlertID), Value: b})
	}
	s.metrics.alerts.Add(float64(len(fresh)))
	if len(msgs) > 0 {
		if err := w.WriteMessages(ctx, msgs...); err != nil && ctx.Err() == nil {
			s.log.Warn("publishing alerts (they are in the alerts table)", "err", err)
		}
	}
	return nil
}

func districtCode(c *city.City, lat, lng float64) string {
	if d, ok := c.DistrictAt(city.Point{Lat: lat, Lng: lng}); ok {
		return d.Code
	}
	return ""
}

// getAlerts serves the clusters that alerted in the last ?hours (default 24), each as of its
// latest hour, newest first, with its cells' outlines as GeoJSON for the map.
func (s *Service) getAlerts(w http.ResponseWriter, r *http.Request) {
	since, ok := s.window(w, r)
	if !ok {
		return
	}
	alerts, err := s.store.Alerts(r.Context(), since, 500)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "", err.Error())
		return
	}
	out := make([]alertView, len(alerts))
	for i, a := range alerts {
		out[i] = alertView{Alert: a, Outline: cellOutlines(a.Cells)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"since": since, "alerts": out, "count": len(out)})
}

type alertView struct {
	contract.Alert
	Outline [][][2]float64 `json:"outline,omitempty"` // each cell's ring, [lat, lng]
}

// guidanceView is the guidance KPIs: the record's shares over the window and the fleet's
// ratios now.
type guidanceView struct {
	sql.Guidance
	AmbulancesPer30k    float64 `json:"ambulances_per_30k"`
	NegativePressurePct float64 `json:"negative_pressure_pct"`
	Decontaminating     int     `json:"units_decontaminating"`
}

func (s *Service) guidanceNow(g sql.Guidance) guidanceView {
	per30k, np := s.fleetRatios()
	return guidanceView{Guidance: g, AmbulancesPer30k: round2(per30k), NegativePressurePct: round1(np),
		Decontaminating: s.Stats().Decontaminating}
}

// fleetRatios are the live fleet's ambulances per 30,000 residents and share of
// negative-pressure units.
func (s *Service) fleetRatios() (per30k, npPct float64) {
	s.mu.Lock()
	units := s.engine.Units()
	s.mu.Unlock()
	kinds := make([]contract.UnitKind, len(units))
	for i, u := range units {
		kinds[i] = u.Kind
	}
	return city.FleetRatios(kinds, s.cfg.City.Population())
}

// cellOutlines are H3 cells' rings, [lat, lng], for the console's map.
func cellOutlines(cells []string) [][][2]float64 {
	var out [][][2]float64
	for _, c := range cells {
		var cell h3.Cell
		if cell.UnmarshalText([]byte(c)) != nil {
			continue
		}
		var ring [][2]float64
		for _, ll := range h3.CellToBoundary(cell) {
			ring = append(ring, [2]float64{ll.Lat, ll.Lng})
		}
		out = append(out, ring)
	}
	return out
}
