package fleetindex

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/internal/testenv"
)

// fleetFixture is N units over Wuhan's 13 districts (uniform by area), 80% of them
// available, and query points drawn the same way. Index, scan and PostGIS get the same.
type fleetFixture struct {
	pts       []city.Point
	locs      []loc // pts with the haversine terms precomputed, as the index keeps them
	available []bool
	queries   []city.Point
}

var (
	fixtures   = map[int]*fleetFixture{}
	fixturesMu sync.Mutex
)

func fixture(n int) *fleetFixture {
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f, ok := fixtures[n]; ok {
		return f
	}
	c := city.Wuhan()
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	// Bounding box of the city, then rejection against the districts.
	minLat, maxLat, minLng, maxLng := 90.0, -90.0, 180.0, -180.0
	for i := range c.Districts {
		b := c.Districts[i].Area().Bounds()
		minLng, minLat = min(minLng, b.Min(0)), min(minLat, b.Min(1))
		maxLng, maxLat = max(maxLng, b.Max(0)), max(maxLat, b.Max(1))
	}
	draw := func() city.Point {
		for {
			p := city.Point{Lat: minLat + rng.Float64()*(maxLat-minLat), Lng: minLng + rng.Float64()*(maxLng-minLng)}
			if _, ok := c.DistrictAt(p); ok {
				return p
			}
		}
	}
	f := &fleetFixture{pts: make([]city.Point, n), available: make([]bool, n), queries: make([]city.Point, 1024)}
	f.locs = make([]loc, n)
	for i := range f.pts {
		f.pts[i] = draw()
		f.locs[i] = locOf(f.pts[i])
		f.available[i] = rng.Float64() < 0.8
	}
	for i := range f.queries {
		f.queries[i] = draw()
	}
	fixtures[n] = f
	return f
}

func (f *fleetFixture) index(res int) *Index {
	x := New(res)
	for i, p := range f.pts {
		if f.available[i] {
			x.Update(int32(i), p)
		}
	}
	return x
}

// scanNearest is the brute-force peer: every available unit, with the same precomputed
// haversine the index uses, so the comparison measures the index and nothing else.
func (f *fleetFixture) scanNearest(q city.Point) (int32, float64) {
	ql := locOf(q)
	best, bestH := int32(-1), math.Inf(1)
	for i := range f.locs {
		if !f.available[i] {
			continue
		}
		if h := hav(&ql, &f.locs[i]); h < bestH {
			best, bestH = int32(i), h
		}
	}
	return best, city.HavToM(bestH)
}

// postgis loads the fixture into a table with a GiST index on a geography column and returns
// a query that does KNN (`ORDER BY geog <-> point LIMIT 1`, sphere distance) over the
// available units.
type postgisPeer struct {
	conn  *pgx.Conn
	table string
}

func newPostgisPeer(tb testing.TB, f *fleetFixture) *postgisPeer {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.SharedPostgres(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	table := fmt.Sprintf("bench_units_%d", len(f.pts))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil {
		tb.Fatal(err)
	}
	if !exists {
		for _, q := range []string{
			`CREATE EXTENSION IF NOT EXISTS postgis`,
			fmt.Sprintf(`CREATE TABLE %s (id integer PRIMARY KEY, lat float8, lng float8, available boolean NOT NULL, geog geography(Point, 4326))`, table),
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				tb.Fatal(err)
			}
		}
		rows := make([][]any, len(f.pts))
		for i, p := range f.pts {
			rows[i] = []any{int32(i), p.Lat, p.Lng, f.available[i]}
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, []string{"id", "lat", "lng", "available"}, pgx.CopyFromRows(rows)); err != nil {
			tb.Fatal(err)
		}
		for _, q := range []string{
			fmt.Sprintf(`UPDATE %s SET geog = ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography`, table),
			fmt.Sprintf(`CREATE INDEX ON %s USING gist (geog)`, table),
			fmt.Sprintf(`ANALYZE %s`, table),
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return &postgisPeer{conn: conn, table: table}
}

func (p *postgisPeer) nearest(tb testing.TB, q city.Point) int32 {
	var id int32
	err := p.conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT id FROM %s WHERE available
		ORDER BY geog <-> ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography LIMIT 1`, p.table), q.Lng, q.Lat).Scan(&id)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func TestNearestAgreesWithScanAndPostGIS(t *testing.T) {
	f := fixture(2000)
	x := f.index(DefaultResolution)
	pg := newPostgisPeer(t, f)
	for i, q := range f.queries[:300] {
		want, wantD := f.scanNearest(q)
		got, gotD, ok := x.Nearest(q, math.Inf(1), nil)
		if !ok || got != want {
			t.Fatalf("query %d: index picks %d at %.1f m, scan picks %d at %.1f m", i, got, gotD, want, wantD)
		}
		if byPG := pg.nearest(t, q); byPG != want {
			t.Fatalf("query %d: PostGIS picks %d (%.1f m), scan picks %d (%.1f m)", i, byPG, city.DistanceM(q, f.pts[byPG]), want, wantD)
		}
	}
	// Bounded searches agree too, including finding nothing.
	for i, q := range f.queries[300:600] {
		want, wantD := f.scanNearest(q)
		got, _, ok := x.Nearest(q, 1500, nil)
		if wantD <= 1500 && (!ok || got != want) || wantD > 1500 && ok {
			t.Fatalf("query %d within 1.5 km: index %d/%v, scan %d at %.0f m", i, got, ok, want, wantD)
		}
	}
}

func BenchmarkNearest(b *testing.B) {
	for _, n := range []int{500, 10_000, 100_000} {
		f := fixture(n)
		b.Run(fmt.Sprintf("index/units=%d", n), func(b *testing.B) {
			x := f.index(DefaultResolution)
			i := 0
			for b.Loop() {
				if _, _, ok := x.Nearest(f.queries[i%len(f.queries)], math.Inf(1), nil); !ok {
					b.Fatal("no unit")
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("scan/units=%d", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				f.scanNearest(f.queries[i%len(f.queries)])
				i++
			}
		})
		b.Run(fmt.Sprintf("postgis/units=%d", n), func(b *testing.B) {
			pg := newPostgisPeer(b, f)
			i := 0
			for b.Loop() {
				pg.nearest(b, f.queries[i%len(f.queries)])
				i++
			}
		})
	}
}

// moves is a sequence of realistic pings: a unit drives up to 300 m (30 s at 36 km/h) from
// where it was.
func moves(f *fleetFixture, count int) ([]int32, []city.Point) {
	rng := rand.New(rand.NewPCG(7, uint64(len(f.pts))))
	pos := append([]city.Point(nil), f.pts...)
	hs, ps := make([]int32, count), make([]city.Point, count)
	for i := range hs {
		h := rng.IntN(len(pos))
		for !f.available[h] {
			h = rng.IntN(len(pos))
		}
		a, r := rng.Float64()*2*math.Pi, rng.Float64()*300
		pos[h] = city.Point{Lat: pos[h].Lat + r*math.Sin(a)/111_195, Lng: pos[h].Lng + r*math.Cos(a)/(111_195*math.Cos(pos[h].Lat*math.Pi/180))}
		hs[i], ps[i] = int32(h), pos[h]
	}
	return hs, ps
}

// pings times x.Update over f's moves, one ping an iteration.
func pings(b *testing.B, f *fleetFixture, x *Index) {
	hs, ps := moves(f, 1<<16)
	i := 0
	for b.Loop() {
		j := i & (1<<16 - 1)
		x.Update(hs[j], ps[j])
		i++
	}
}

// BenchmarkUpdate is one position ping of a driving unit (a move of up to 300 m).
func BenchmarkUpdate(b *testing.B) {
	for _, n := range []int{500, 10_000, 100_000} {
		b.Run(fmt.Sprintf("units=%d", n), func(b *testing.B) {
			f := fixture(n)
			pings(b, f, f.index(DefaultResolution))
		})
	}
}

// BenchmarkUpdateJump is the worst case of an update: the unit lands in another cell.
func BenchmarkUpdateJump(b *testing.B) {
	f := fixture(10_000)
	x := f.index(DefaultResolution)
	i := 0
	for b.Loop() {
		h := int32(i % len(f.pts))
		x.Update(h, f.queries[i%len(f.queries)])
		i++
	}
}

// BenchmarkIndexResolution is how DefaultResolution was chosen: nearest-unit queries and pings
// at each candidate resolution and fleet size.
func BenchmarkIndexResolution(b *testing.B) {
	for _, res := range []int{6, 7, 8, 9} {
		for _, n := range []int{500, 10_000, 100_000} {
			f := fixture(n)
			x := f.index(res)
			b.Run(fmt.Sprintf("nearest/res=%d/units=%d", res, n), func(b *testing.B) {
				i := 0
				for b.Loop() {
					x.Nearest(f.queries[i%len(f.queries)], math.Inf(1), nil)
					i++
				}
			})
			b.Run(fmt.Sprintf("within5km/res=%d/units=%d", res, n), func(b *testing.B) {
				i := 0
				for b.Loop() {
					x.Within(f.queries[i%len(f.queries)], 5000, func(int32, float64) {})
					i++
				}
			})
			b.Run(fmt.Sprintf("update/res=%d/units=%d", res, n), func(b *testing.B) { pings(b, f, x) })
		}
	}
}
