package demo

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/streams"
)

// Reporters plays the demo's hospital capacity reporters: each hospital reports its beds on
// ems.capacity at start and every Every (on the crews' clock), its occupancy drifting by a
// few beds from its last report, as wards admit and discharge.
type Reporters struct {
	Brokers []string
	City    *city.City
	Every   time.Duration // default 30 min
	Speed   float64       // the demo's clock factor
	Seed    uint64
	Logger  *slog.Logger
}

// Run reports until ctx is cancelled.
func (r *Reporters) Run(ctx context.Context) error {
	if r.Every <= 0 {
		r.Every = 30 * time.Minute
	}
	if r.Speed <= 0 {
		r.Speed = 1
	}
	w := streams.NewWriter(r.Brokers, contract.TopicCapacity)
	defer w.Close()
	rng := rand.New(rand.NewPCG(r.Seed, 31))
	state := map[string]map[string]contract.Beds{}
	hs := slices.Clone(r.City.Hospitals)
	for _, h := range hs {
		state[h.ID] = map[string]contract.Beds{}
		for bed, b := range h.Beds {
			state[h.ID][bed] = b
		}
	}
	tick := time.NewTicker(time.Duration(float64(r.Every) / r.Speed))
	defer tick.Stop()
	for {
		var msgs []kafka.Message
		now := time.Now().UTC().Truncate(time.Second)
		for _, h := range hs {
			rep := contract.CapacityReport{HospitalID: h.ID, ReportedAt: now, Accepting: true, Beds: map[string]contract.Beds{}}
			for bed, b := range state[h.ID] {
				b.Occupied = max(0, min(b.Total, b.Occupied+rng.IntN(5)-2))
				state[h.ID][bed] = b
				rep.Beds[bed] = b
			}
			v, _ := json.Marshal(rep)
			msgs = append(msgs, kafka.Message{Key: []byte(h.ID), Value: v})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil && ctx.Err() == nil && r.Logger != nil {
			r.Logger.Warn("capacity reporters: reports not sent", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
