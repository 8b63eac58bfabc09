// Package loadtest exercises ems120 as a whole: synthetic call streams, the simulated fleet
// that drives the demo, load generation and the summary every run reports.
package loadtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

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
