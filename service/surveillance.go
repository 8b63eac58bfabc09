package service

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/streams"
	"github.com/ems120/ems120/surveillance"
	"github.com/segmentio/kafka-go"
)

// surveillanceGrace is how long after an hour ends its calls are counted: a call recorded a
// little late still counts in its hour.
const surveillanceGrace = 2 * time.Minute

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
		tally.Add(c.At, c.Lat, c.Lng, s.cfg.City.DistrictCode(city.Point{Lat: c.Lat, Lng: c.Lng}))
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

// getAlerts serves the clusters that alerted in the last ?hours (default 24), each as of its
// latest hour, newest first, with the outline recorded with it (GeoJSON) for the map.
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
	writeJSON(w, http.StatusOK, map[string]any{"since": since, "alerts": nonNil(alerts), "count": len(alerts)})
}
