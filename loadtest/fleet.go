package loadtest

import (
	"container/heap"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/streams"
)

// Times on an incident, estimates from published EMS operations studies: median on-scene
// times of 15–20 minutes and hospital handover of 15–20 minutes are typical; about four in
// five calls are transported.
const (
	onSceneMin, onSceneMax   = 10 * time.Minute, 25 * time.Minute
	handoverMin, handoverMax = 10 * time.Minute, 25 * time.Minute
	transportShare           = 0.8
	pingEvery                = 30 * time.Second // position pings while driving
	ackDelay                 = 5 * time.Second  // a crew acknowledges a dispatch on its terminal
)

// Fleet is the demo's simulated fleet: it reads assignments from ems.assignments (and the
// calls they answer from ems.calls) and plays each unit's part over ems.units in real time,
// like a crew's terminal would: en route after turnout, on scene at the ETA, transporting,
// at the hospital, available again, driving home — with position pings on the way.
type Fleet struct {
	Brokers []string
	City    *city.City
	Travel  city.TravelModel
	Seed    uint64
	Logger  *slog.Logger
	// Speed > 1 runs the crews' clock faster than real time (the demo's -speed flag).
	Speed float64
}

type leg struct {
	from, to   city.Point
	start, end time.Time
}

type simUnit struct {
	id     string
	kind   contract.UnitKind
	home   city.Point
	gen    int // bumped on each new assignment: pending pings of an older one are dropped
	leg    leg
	callID string
}

func (u *simUnit) pos(now time.Time) city.Point {
	l := u.leg
	if !now.Before(l.end) || !l.end.After(l.start) {
		return l.to
	}
	if now.Before(l.start) {
		return l.from
	}
	f := float64(now.Sub(l.start)) / float64(l.end.Sub(l.start))
	return city.Point{Lat: l.from.Lat + f*(l.to.Lat-l.from.Lat), Lng: l.from.Lng + f*(l.to.Lng-l.from.Lng)}
}

// step is a scheduled ping.
type step struct {
	at     time.Time
	unit   *simUnit
	gen    int
	status contract.UnitStatus
	then   func(now time.Time) // what follows; nil for a position ping
}

type agenda []*step

func (a agenda) Len() int           { return len(a) }
func (a agenda) Less(i, j int) bool { return a[i].at.Before(a[j].at) }
func (a agenda) Swap(i, j int)      { a[i], a[j] = a[j], a[i] }
func (a *agenda) Push(x any)        { *a = append(*a, x.(*step)) }
func (a *agenda) Pop() any {
	old := *a
	s := old[len(old)-1]
	*a = old[:len(old)-1]
	return s
}

// Run plays the fleet until ctx is cancelled.
func (f *Fleet) Run(ctx context.Context) error {
	if f.Speed <= 0 {
		f.Speed = 1
	}
	if f.Logger == nil {
		f.Logger = slog.Default()
	}
	units := map[string]*simUnit{}
	for _, u := range f.City.Fleet {
		st, _ := f.City.Station(u.Station)
		units[u.ID] = &simUnit{id: u.ID, kind: u.Kind, home: st.Point, leg: leg{from: st.Point, to: st.Point}}
	}
	hospitals := map[string]city.Point{}
	for _, h := range f.City.Hospitals {
		hospitals[h.ID] = h.Point
	}
	calls := make(chan contract.Call, 256)
	assigns := make(chan contract.Assignment, 256)
	g, gctx := errgroup.WithContext(ctx)
	read := func(topic, group string, fn func([]byte)) {
		c := streams.NewConsumer(streams.ConsumerConfig{Brokers: f.Brokers, GroupID: group, Topic: topic, Logger: f.Logger})
		g.Go(func() error {
			return c.Run(gctx, func(_ context.Context, msgs []kafka.Message) error {
				for _, m := range msgs {
					fn(m.Value)
				}
				return nil
			})
		})
	}
	read(contract.TopicCalls, "ems120-demo-fleet-calls", func(b []byte) {
		if c, err := contract.DecodeCall(b); err == nil {
			select {
			case calls <- c:
			case <-gctx.Done():
			}
		}
	})
	read(contract.TopicAssignments, "ems120-demo-fleet", func(b []byte) {
		var a contract.Assignment
		if json.Unmarshal(b, &a) == nil {
			select {
			case assigns <- a:
			case <-gctx.Done():
			}
		}
	})
	w := streams.NewWriter(f.Brokers, contract.TopicUnits)
	defer w.Close()
	g.Go(func() error {
		return f.play(gctx, w, units, hospitals, calls, assigns)
	})
	return g.Wait()
}

func (f *Fleet) play(ctx context.Context, w *kafka.Writer, units map[string]*simUnit, hospitals map[string]city.Point,
	calls <-chan contract.Call, assigns <-chan contract.Assignment) error {
	rng := rand.New(rand.NewPCG(f.Seed, 7))
	known := map[string]contract.Call{}
	waiting := map[string]contract.Assignment{} // assignments whose call has not been read yet
	var ag agenda
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) / f.Speed) }
	uniform := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Float64()*float64(hi-lo)) }
	schedule := func(s *step) { heap.Push(&ag, s) }
	// drive schedules position pings along a leg and `arrive` at its end.
	drive := func(u *simUnit, gen int, status contract.UnitStatus, from, to city.Point, start time.Time, d time.Duration, arrive func(time.Time)) {
		u.leg = leg{from: from, to: to, start: start, end: start.Add(d)}
		for t := start.Add(scale(pingEvery)); t.Before(u.leg.end); t = t.Add(scale(pingEvery)) {
			schedule(&step{at: t, unit: u, gen: gen, status: status})
		}
		schedule(&step{at: u.leg.end, unit: u, gen: gen, then: arrive})
	}
	start := func(a contract.Assignment, c contract.Call, now time.Time) {
		u := units[a.UnitID]
		if u == nil {
			return
		}
		delete(known, c.CallID)
		u.gen++
		gen := u.gen
		u.callID = c.CallID
		here := u.pos(now)
		scene := city.Point{Lat: c.Lat, Lng: c.Lng}
		turnout := scale(f.Travel.Turnout(c.Priority))
		u.leg = leg{from: here, to: here, start: now, end: now.Add(turnout)}
		// The crew acknowledges on its terminal within seconds of the dispatch.
		schedule(&step{at: now.Add(scale(ackDelay)), unit: u, gen: gen, status: contract.StatusDispatched})
		schedule(&step{at: now.Add(turnout), unit: u, gen: gen, status: contract.StatusEnRoute, then: func(t time.Time) {
			d := scale(f.Travel.Duration(here, scene, t, c.Priority))
			drive(u, gen, contract.StatusEnRoute, here, scene, t, d, func(t time.Time) {
				f.ping(ctx, w, u, contract.StatusOnScene, t)
				after := t.Add(scale(uniform(onSceneMin, onSceneMax)))
				home := func(t time.Time) {
					u.callID = ""
					from := u.pos(t)
					f.ping(ctx, w, u, contract.StatusAvailable, t)
					drive(u, gen, contract.StatusAvailable, from, u.home, t, scale(f.Travel.Duration(from, u.home, t, 4)), func(time.Time) {})
				}
				hosp, ok := hospitals[a.HospitalID]
				if !ok || rng.Float64() > transportShare {
					schedule(&step{at: after, unit: u, gen: gen, then: home})
					return
				}
				schedule(&step{at: after, unit: u, gen: gen, status: contract.StatusTransporting, then: func(t time.Time) {
					d := scale(f.Travel.Duration(scene, hosp, t, 3))
					drive(u, gen, contract.StatusTransporting, scene, hosp, t, d, func(t time.Time) {
						f.ping(ctx, w, u, contract.StatusAtHospital, t)
						schedule(&step{at: t.Add(scale(uniform(handoverMin, handoverMax))), unit: u, gen: gen, then: home})
					})
				}})
			})
		}})
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := time.Hour
		if len(ag) > 0 {
			next = time.Until(ag[0].at)
		}
		timer.Reset(max(0, next))
		select {
		case <-ctx.Done():
			return nil
		case c := <-calls:
			known[c.CallID] = c
			if a, ok := waiting[c.CallID]; ok {
				delete(waiting, c.CallID)
				start(a, c, time.Now())
			}
		case a := <-assigns:
			if c, ok := known[a.CallID]; ok {
				start(a, c, time.Now())
			} else {
				waiting[a.CallID] = a
			}
		case now := <-timer.C:
			for len(ag) > 0 && !ag[0].at.After(now) {
				s := heap.Pop(&ag).(*step)
				if s.gen != s.unit.gen {
					continue // the unit was sent elsewhere since
				}
				if s.status != "" {
					f.ping(ctx, w, s.unit, s.status, now)
				}
				if s.then != nil {
					s.then(now)
				}
			}
		}
	}
}

func (f *Fleet) ping(ctx context.Context, w *kafka.Writer, u *simUnit, status contract.UnitStatus, now time.Time) {
	p := u.pos(now)
	b, _ := json.Marshal(contract.UnitPing{UnitID: u.id, At: now.UTC(), Lat: p.Lat, Lng: p.Lng, Status: status, Kind: u.kind})
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(u.id), Value: b}); err != nil && ctx.Err() == nil {
		f.Logger.Warn("fleet: ping not sent", "unit", u.id, "err", err)
	}
}
