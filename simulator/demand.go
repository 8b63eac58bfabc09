package simulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

// Scenario constants. All are estimates for a city of Wuhan's size; the sources are general
// EMS operations figures, not Wuhan data (none was at hand).
const (
	// About one call a minute: a 12-million city's 120 centre dispatching ~1,400 ambulances a
	// day in normal times.
	DefaultCallsPerDay = 1400
	// fever-surge: fever calls at three times their normal rate for the first 12 hours, 80%
	// of them in two districts (江岸区 and 江汉区, where Wuhan's 2020 outbreak began).
	surgeHours  = 12
	surgeFactor = 3
	surgeLocal  = 0.8
)

// surgeDistricts are the fever-surge's two districts.
var surgeDistricts = []string{"420102", "420103"}

// hourly is the daily profile of call demand (mean 1): lowest before dawn, highest late
// morning and early evening, the shape EMS demand studies report.
var hourly = [24]float64{0.55, 0.5, 0.45, 0.42, 0.42, 0.5, 0.7, 0.95, 1.15, 1.25, 1.3, 1.3,
	1.25, 1.2, 1.2, 1.2, 1.2, 1.25, 1.3, 1.25, 1.1, 0.95, 0.8, 0.65}

// Mix is the share of calls by priority and category. The default is an estimate for a
// Chinese 120 centre in normal times (no published Wuhan breakdown was at hand): a tenth
// life-threatening, trauma and "other" the largest categories, a few percent fever.
type Mix struct {
	Priority   [4]float64                    // P1..P4, summing to 1
	Category   map[contract.Category]float64 // summing to 1
	Infectious float64                       // share of fever calls already known infectious
}

// DefaultMix is the normal-times mix.
var DefaultMix = Mix{
	Priority: [4]float64{0.10, 0.30, 0.40, 0.20},
	Category: map[contract.Category]float64{
		contract.CategoryCardiac: 0.12, contract.CategoryRespiratory: 0.15, contract.CategoryTrauma: 0.20,
		contract.CategoryStroke: 0.08, contract.CategoryFever: 0.05, contract.CategoryMaternity: 0.05,
		contract.CategoryOther: 0.35,
	},
	Infectious: 0.2,
}

// Generator makes synthetic calls: positions drawn from the city's population proxy (districts
// by population, then towns and countryside, city.SamplePoint), and a priority and category
// drawn from a Mix. It is deterministic for a seed.
type Generator struct {
	city   *city.City
	mix    Mix
	rng    *rand.Rand
	prefix string
	seq    int
	cum    []float64 // cumulative population share by district
	prio   []float64 // cumulative shares of the mix's priorities
	cats   []float64 // … and of contract.Categories, in that order
}

// NewGenerator returns a generator for c. Call ids are "<prefix>-NNNNNN".
func NewGenerator(c *city.City, mix Mix, seed uint64, prefix string) *Generator {
	g := &Generator{city: c, mix: mix, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), prefix: prefix}
	total := float64(c.Population())
	acc := 0.0
	for _, d := range c.Districts {
		acc += float64(d.Population) / total
		g.cum = append(g.cum, acc)
	}
	g.prio = cumulative(mix.Priority[:])
	weights := make([]float64, len(contract.Categories))
	for i, k := range contract.Categories {
		weights[i] = mix.Category[k]
	}
	g.cats = cumulative(weights)
	return g
}

// Gap draws the time to the next call of a Poisson stream with ratePerMin calls a minute.
func (g *Generator) Gap(ratePerMin float64) time.Duration {
	if ratePerMin <= 0 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(g.rng.ExpFloat64() / ratePerMin * float64(time.Minute))
}

// Call makes the next call, received at `at`.
func (g *Generator) Call(at time.Time) contract.Call {
	g.seq++
	d := &g.city.Districts[g.pick(g.cum)]
	p := g.city.SamplePoint(d, g.rng)
	c := contract.Call{
		CallID:     fmt.Sprintf("%s-%06d", g.prefix, g.seq),
		ReceivedAt: at.UTC(),
		Lat:        math.Round(p.Lat*1e6) / 1e6,
		Lng:        math.Round(p.Lng*1e6) / 1e6,
		Priority:   1 + g.pick(g.prio),
		Address:    d.Name + "（模拟呼叫）", // synthetic: a district, never a person's address
	}
	c.Category = contract.Categories[g.pick(g.cats)]
	if c.Category == contract.CategoryFever && g.rng.Float64() < g.mix.Infectious {
		c.Infectious = true
	}
	return c
}

func (g *Generator) pick(cum []float64) int {
	x := g.rng.Float64() * cum[len(cum)-1]
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

func cumulative(w []float64) []float64 {
	out := make([]float64, len(w))
	acc := 0.0
	for i, v := range w {
		acc += v
		out[i] = acc
	}
	return out
}

// newGenerators are the simulation's two call streams: the city's, and the fever surge's,
// fever calls only, in the surge's districts.
func newGenerators(c *city.City, seed uint64) (gen, surge *Generator) {
	surgeCity := *c
	surgeCity.Districts = nil
	for _, d := range c.Districts {
		if slices.Contains(surgeDistricts, d.Code) {
			surgeCity.Districts = append(surgeCity.Districts, d)
		}
	}
	return NewGenerator(c, DefaultMix, seed, "S"), NewGenerator(&surgeCity, feverMix, seed+1, "F")
}

// scheduleCalls draws the call streams, hour by hour: a Poisson stream per hour at that
// hour's rate (memoryless, so restarting at each hour is exact), plus the surge's fever calls.
// A replay's calls replace the measured hours' synthetic ones.
func (s *sim) scheduleCalls() {
	if s.cfg.Scenario == ScenarioOutbreak {
		s.scheduleOutbreak()
	}
	for _, rc := range s.cfg.Replay {
		c := rc.Call
		s.at(s.cfg.Start.Add(rc.After), func() { s.receive(c) })
	}
	perMin := s.cfg.CallsPerDay / 1440
	for h := s.now; h.Before(s.end); h = h.Add(time.Hour) {
		if s.cfg.Replay != nil && !h.Before(s.cfg.Start) {
			break // the measured hours' demand is the replay
		}
		hourEnd := h.Add(time.Hour)
		if hourEnd.After(s.end) {
			hourEnd = s.end
		}
		rate := perMin * hourly[h.In(s.loc).Hour()]
		if s.inEpidemic(h) {
			s.poisson(s.epidemic, h, hourEnd, rate*s.cfg.Epidemic.Factor, nil)
			continue
		}
		s.poisson(s.gen, h, hourEnd, rate, nil)
		if s.cfg.Scenario == ScenarioFeverSurge && !h.Before(s.cfg.Start) && h.Sub(s.cfg.Start) < surgeHours*time.Hour {
			s.scheduleSurge(h, hourEnd, rate)
		}
	}
}

// scheduleSurge adds the fever surge's calls from h to hourEnd: (factor − 1) times the
// hour's fever calls more, so that of all fever calls then, surgeLocal are in the two
// districts.
func (s *sim) scheduleSurge(h, hourEnd time.Time, rate float64) {
	extra := rate * DefaultMix.Category[contract.CategoryFever] * (surgeFactor - 1)
	local := extra * surgeLocal * surgeFactor / (surgeFactor - 1)
	s.poisson(s.surge, h, hourEnd, local, nil)
	if rest := extra - local; rest > 0 {
		s.poisson(s.gen, h, hourEnd, rest, func(c *contract.Call) {
			c.Category, c.Infectious = contract.CategoryFever, s.rng.Float64() < DefaultMix.Infectious
		})
	}
}

// poisson schedules gen's calls at perMin a minute from `from` until `until`, each changed
// by edit when it is set.
func (s *sim) poisson(gen *Generator, from, until time.Time, perMin float64, edit func(*contract.Call)) {
	for t := from.Add(gen.Gap(perMin)); t.Before(until); t = t.Add(gen.Gap(perMin)) {
		c := gen.Call(t)
		if edit != nil {
			edit(&c)
		}
		s.at(t, func() { s.receive(c) })
	}
}

// inEpidemic reports whether hour h is in the epidemic scenario's days.
func (s *sim) inEpidemic(h time.Time) bool {
	return s.cfg.Scenario == ScenarioEpidemic && !h.Before(s.cfg.Start) &&
		h.Sub(s.cfg.Start) < time.Duration(s.cfg.Epidemic.Days*24*float64(time.Hour))
}
