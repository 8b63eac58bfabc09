package loadtest

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/results"
	"github.com/ems120/ems120/streams"
)

type unitPos struct {
	id string
	p  city.Point
}

func loadPings(ctx context.Context, cfg Config, lv *live, c *city.City, progress func(string, ...any)) (results.Load, error) {
	units := make([]unitPos, len(c.Fleet))
	for i, u := range c.Fleet {
		units[i] = unitPos{u.ID, c.StartPoint(u)}
	}
	sample, _ := json.Marshal(contract.UnitPing{UnitID: units[0].id, At: time.Now().UTC(), Lat: units[0].p.Lat, Lng: units[0].p.Lng,
		Status: contract.StatusAvailable})
	rawN, raw, err := measureRaw(ctx, cfg, lv, contract.TopicUnits, sample, 50_000, 500_000, progress)
	if err != nil {
		return results.Load{}, err
	}
	base := lv.svc.PingsApplied()
	start := time.Now()
	stopSampling, perSecond := samplePings(lv, base)
	progress("pings at %s for %s to %d units", RateString(cfg.Rate), cfg.Duration, len(units))
	produced, err := sendPings(ctx, lv, units, atRate(cfg.Rate, cfg.Duration), cfg.Seed, contract.StatusAvailable)
	if err != nil {
		stopSampling()
		return results.Load{}, err
	}
	done := waitApplied(lv, base, produced)
	stopSampling()
	applied := lv.svc.PingsApplied() - base
	res := results.Load{Produced: produced, RawMessages: rawN, Throughput: *perSecond, PingsApplied: int(applied)}
	rejected := lv.svc.Status().Rejected
	res.Summary = results.Summary{Rejected: rejected, Lost: max(0, produced-int(applied)-rejected),
		ThroughputPerS: results.F(float64(applied) / done.Sub(start).Seconds()), RawKafkaPerS: results.F(raw)}
	progress("%d pings written, %d applied in %s", produced, applied, done.Sub(start).Round(time.Millisecond))
	return res, nil
}

// samplePings counts the pings the service applies in each second, from base on, until stop
// is called; the samples are then in *perSecond.
func samplePings(lv *live, base int64) (stop func(), perSecond *[]results.Sample) {
	var samples []results.Sample
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		prev := base
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				cur := lv.svc.PingsApplied()
				samples = append(samples, results.Sample{At: now, Calls: int(cur - prev)})
				prev = cur
			}
		}
	}()
	return func() { close(quit); <-done }, &samples
}

// sendPings writes pings as the pacer says, to the units in turn, each a little way from its
// last position, and returns how many it wrote.
func sendPings(ctx context.Context, lv *live, units []unitPos, p pacer, seed uint64, status contract.UnitStatus) (int, error) {
	w := streams.NewWriter(lv.brokers, contract.TopicUnits)
	defer w.Close()
	rng := rand.New(rand.NewPCG(seed, 5))
	produced, next := 0, 0
	err := pace(ctx, p, func(n int) error {
		batch := make([]kafka.Message, n)
		buf := make([]byte, 0, 140*n) // the batch's values, each message its own region
		now := time.Now().UTC()
		for i := range batch {
			u := &units[next%len(units)]
			next++
			// A unit drives up to ~100 m between pings.
			u.p = city.Point{Lat: u.p.Lat + (rng.Float64()-0.5)*0.0015, Lng: u.p.Lng + (rng.Float64()-0.5)*0.0015}
			ping := contract.UnitPing{UnitID: u.id, At: now, Lat: u.p.Lat, Lng: u.p.Lng, Status: status}
			start := len(buf)
			buf, _ = ping.AppendJSON(buf) // a position in the city always encodes
			batch[i] = kafka.Message{Key: []byte(u.id), Value: buf[start:len(buf):len(buf)]}
		}
		produced += n
		return w.WriteMessages(ctx, batch...)
	})
	return produced, err
}

// waitApplied waits until every ping is applied (or counted stale), or nothing moves for
// 15 s, and returns when it stopped waiting.
func waitApplied(lv *live, base int64, produced int) time.Time {
	return waitProgress(produced, 20*time.Millisecond, func() int { return int(lv.svc.PingsApplied() - base) })
}
