package demo

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/simulator"
	"github.com/ems120/ems120/streams"
)

// pingEvery is how often a driving crew's terminal reports its position.
const pingEvery = 30 * time.Second

// Crews are the demo's simulated crews: they read assignments from ems.assignments (and the
// calls they answer from ems.calls) and play each unit's part over ems.units in real time,
// as a crew's terminal would: acknowledged, en route after turnout, on scene at the ETA,
// transporting, at the hospital, available again, driving home — with position pings on the
// way. Their times on scene and at the hospital are the simulator's.
type Crews struct {
	Brokers []string
	City    *city.City
	Travel  city.TravelModel
	Seed    uint64
	Logger  *slog.Logger
	// Speed > 1 runs the crews' clock faster than real time (the demo's -speed flag).
	Speed float64
}

// Run plays the crews until ctx is cancelled.
func (cr *Crews) Run(ctx context.Context) error {
	if cr.Speed <= 0 {
		cr.Speed = 1
	}
	if cr.Logger == nil {
		cr.Logger = slog.Default()
	}
	calls := make(chan contract.Call, 256)
	assigns := make(chan contract.Assignment, 256)
	g, gctx := errgroup.WithContext(ctx)
	read := func(topic, group string, fn func([]byte)) {
		c := streams.NewConsumer(streams.ConsumerConfig{Brokers: cr.Brokers, GroupID: group, Topic: topic, Logger: cr.Logger})
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
	w := streams.NewWriter(cr.Brokers, contract.TopicUnits)
	defer w.Close()
	g.Go(func() error { return newPlay(cr, w).run(gctx, calls, assigns) })
	return g.Wait()
}

// play is the crews' state: the units, the calls read, the assignments waiting for their
// call, and the agenda of pings to send.
type play struct {
	f         *Crews
	w         *kafka.Writer
	rng       *rand.Rand
	units     map[string]*crewUnit
	hospitals map[string]city.Point
	known     map[string]contract.Call
	waiting   map[string]contract.Assignment // assignments whose call has not been read yet
	ag        simulator.Agenda
}

func newPlay(f *Crews, w *kafka.Writer) *play {
	p := &play{f: f, w: w, rng: rand.New(rand.NewPCG(f.Seed, 7)), units: map[string]*crewUnit{}, hospitals: map[string]city.Point{},
		known: map[string]contract.Call{}, waiting: map[string]contract.Assignment{}}
	for _, u := range f.City.Fleet {
		st, _ := f.City.Station(u.Station)
		p.units[u.ID] = &crewUnit{id: u.ID, kind: u.Kind, home: st.Point, leg: leg{from: st.Point, to: st.Point}}
	}
	for _, h := range f.City.Hospitals {
		p.hospitals[h.ID] = h.Point
	}
	return p
}

// run matches assignments with their calls and sends the pings as they fall due.
func (p *play) run(ctx context.Context, calls <-chan contract.Call, assigns <-chan contract.Assignment) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := time.Hour
		if at, ok := p.ag.Next(); ok {
			next = time.Until(at)
		}
		timer.Reset(max(0, next))
		select {
		case <-ctx.Done():
			return nil
		case c := <-calls:
			p.known[c.CallID] = c
			if a, ok := p.waiting[c.CallID]; ok {
				delete(p.waiting, c.CallID)
				p.start(ctx, a, c, time.Now())
			}
		case a := <-assigns:
			if c, ok := p.known[a.CallID]; ok {
				p.start(ctx, a, c, time.Now())
			} else {
				p.waiting[a.CallID] = a
			}
		case now := <-timer.C:
			for at, ok := p.ag.Next(); ok && !at.After(now); at, ok = p.ag.Next() {
				_, fn := p.ag.Pop()
				fn(now)
			}
		}
	}
}

func (p *play) scale(d time.Duration) time.Duration { return time.Duration(float64(d) / p.f.Speed) }

func (p *play) uniform(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(p.rng.Float64()*float64(hi-lo))
}

// step schedules, at t, a ping of status (none when empty) and then what follows, if the
// unit still plays the assignment gen by then.
func (p *play) step(ctx context.Context, t time.Time, u *crewUnit, gen int, status contract.UnitStatus, then func(now time.Time)) {
	p.ag.At(t, func(now time.Time) {
		if u.gen != gen {
			return // the unit was sent elsewhere since
		}
		if status != "" {
			p.ping(ctx, u, status, now)
		}
		if then != nil {
			then(now)
		}
	})
}

// drive schedules position pings along a leg and arrive at its end.
func (p *play) drive(ctx context.Context, u *crewUnit, gen int, status contract.UnitStatus, from, to city.Point, start time.Time,
	d time.Duration, arrive func(time.Time)) {
	u.leg = leg{from: from, to: to, start: start, end: start.Add(d)}
	for t := start.Add(p.scale(pingEvery)); t.Before(u.leg.end); t = t.Add(p.scale(pingEvery)) {
		p.step(ctx, t, u, gen, status, nil)
	}
	p.step(ctx, u.leg.end, u, gen, "", arrive)
}

// start plays a unit's part in an assignment: acknowledge, turn out, drive to the scene.
func (p *play) start(ctx context.Context, a contract.Assignment, c contract.Call, now time.Time) {
	u := p.units[a.UnitID]
	if u == nil {
		return
	}
	delete(p.known, c.CallID)
	u.gen++
	gen := u.gen
	u.callID = c.CallID
	here := u.pos(now)
	scene := city.Point{Lat: c.Lat, Lng: c.Lng}
	turnout := p.scale(p.f.Travel.Turnout(c.Priority))
	u.leg = leg{from: here, to: here, start: now, end: now.Add(turnout)}
	p.step(ctx, now.Add(p.scale(simulator.AckDelay)), u, gen, contract.StatusDispatched, nil)
	p.step(ctx, now.Add(turnout), u, gen, contract.StatusEnRoute, func(t time.Time) {
		d := p.scale(p.f.Travel.Duration(here, scene, t, c.Priority))
		p.drive(ctx, u, gen, contract.StatusEnRoute, here, scene, t, d, func(t time.Time) {
			p.onScene(ctx, u, gen, a, scene, t)
		})
	})
}

// onScene: the crew reports on scene, stays, then transports the patient (most are) or
// goes home.
func (p *play) onScene(ctx context.Context, u *crewUnit, gen int, a contract.Assignment, scene city.Point, t time.Time) {
	p.ping(ctx, u, contract.StatusOnScene, t)
	after := t.Add(p.scale(p.uniform(simulator.OnSceneMin, simulator.OnSceneMax)))
	home := func(t time.Time) {
		u.callID = ""
		from := u.pos(t)
		p.ping(ctx, u, contract.StatusAvailable, t)
		p.drive(ctx, u, gen, contract.StatusAvailable, from, u.home, t, p.scale(p.f.Travel.Duration(from, u.home, t, 4)), func(time.Time) {})
	}
	hosp, ok := p.hospitals[a.HospitalID]
	if !ok || p.rng.Float64() > simulator.TransportShare {
		p.step(ctx, after, u, gen, "", home)
		return
	}
	p.step(ctx, after, u, gen, contract.StatusTransporting, func(t time.Time) {
		d := p.scale(p.f.Travel.Duration(scene, hosp, t, 3))
		p.drive(ctx, u, gen, contract.StatusTransporting, scene, hosp, t, d, func(t time.Time) {
			p.ping(ctx, u, contract.StatusAtHospital, t)
			p.step(ctx, t.Add(p.scale(p.uniform(simulator.HandoverMin, simulator.HandoverMax))), u, gen, "", home)
		})
	})
}

func (p *play) ping(ctx context.Context, u *crewUnit, status contract.UnitStatus, now time.Time) {
	pos := u.pos(now)
	b, _ := json.Marshal(contract.UnitPing{UnitID: u.id, At: now.UTC(), Lat: pos.Lat, Lng: pos.Lng, Status: status, Kind: u.kind})
	if err := p.w.WriteMessages(ctx, kafka.Message{Key: []byte(u.id), Value: b}); err != nil && ctx.Err() == nil {
		p.f.Logger.Warn("crews: ping not sent", "unit", u.id, "err", err)
	}
}

// leg is a unit's current drive (or stay, when from is to).
type leg struct {
	from, to   city.Point
	start, end time.Time
}

type crewUnit struct {
	id     string
	kind   contract.UnitKind
	home   city.Point
	gen    int // bumped on each new assignment: pending pings of an older one are dropped
	leg    leg
	callID string
}

func (u *crewUnit) pos(now time.Time) city.Point {
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
