package sql

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
)

// ErrNotFound is returned when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")

// SRID of every geometry: WGS84.
const SRID = 4326

// Store is the PostgreSQL record.
type Store struct {
	Pool      *pgxpool.Pool
	fence     atomic.Pointer[fence] // the lease every write checks; nil: none
	outboxSeq atomic.Int64          // the last outbox id given
}

// Open connects a pool to dsn. Every connection learns PostGIS's geometry and geography types
// as bytea, so go-geom ewkb values read and write them directly.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	cfg.AfterConnect = registerPostGIS
	// A transaction left open by a process that stopped mid-way (SIGSTOP, a frozen VM) holds
	// its locks — on the leadership lease among them, which would keep a standby from taking
	// over. The server ends such a session after a second idle inside a transaction; the
	// service's transactions never wait on their client that long.
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "1000"
	// A commit is acted on as soon as it returns — its messages published, its offsets saved —
	// so it must survive a crash of the server: with synchronous_commit off (the throwaway
	// server's default, for speed) an immediate stop loses the last commits after their
	// assignments went out, and the calls are decided again, differently (ems120 chaos found
	// one). The service's sessions always wait for their commit's WAL.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	// Query plans. pgx prepares each statement once per connection, and after five runs
	// PostgreSQL may settle on a generic plan, made with the tables as they were then. For the
	// pure inserts of the write path (INSERT … SELECT FROM unnest) every plan is the same, and
	// planning them again for every transaction cost 10–15% of the group commit
	// (BenchmarkRecordDecisions). A statement that looks rows up in a growing table by a list
	// of ids is different: planned while the calls table was empty, the replay check
	// (call_id = ANY(2,000 ids)) stayed a sequential scan as the table grew — a quarter of a
	// second per batch at a hundred thousand calls. The replay check is now a join that probes
	// the primary key per id whatever the statistics say (knownCallsSQL), so it keeps its
	// cached plan; the other lookups are planned for their arguments every time: sent unnamed
	// (pgx.QueryExecModeExec) or, inside a transaction, behind SET LOCAL plan_cache_mode =
	// force_custom_plan (customPlan).
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return &Store{Pool: pool}, nil
}

func registerPostGIS(ctx context.Context, conn *pgx.Conn) error {
	for _, name := range []string{"geometry", "geography"} {
		var oid uint32
		err := conn.QueryRow(ctx, "SELECT oid FROM pg_type WHERE typname = $1", name).Scan(&oid)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // PostGIS is not installed in this database (yet)
		}
		if err != nil {
			return fmt.Errorf("look up type %s: %w", name, err)
		}
		conn.TypeMap().RegisterType(&pgtype.Type{Name: name, OID: oid, Codec: pgtype.ByteaCodec{}})
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() { s.Pool.Close() }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.Pool.Ping(ctx) }

// PointEWKB encodes a position as a PostGIS point (EWKB with SRID 4326).
func PointEWKB(p city.Point) []byte {
	b, err := ewkb.Marshal(geom.NewPointFlat(geom.XY, []float64{p.Lng, p.Lat}).SetSRID(SRID), binary.LittleEndian)
	if err != nil {
		panic(err) // a 2D point always encodes
	}
	return b
}

func pointOf(g *ewkb.Point) city.Point {
	if !g.Valid() {
		return city.Point{}
	}
	return city.Point{Lat: g.Y(), Lng: g.X()}
}

// SeedCity writes the city's districts, stations and hospitals (updating names, kinds and
// positions of existing ones) and adds the fleet's units that are not there yet, available at
// their stations. Units already present keep their state: a restart does not reset the fleet.
func (s *Store) SeedCity(ctx context.Context, c *city.City) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for i := range c.Districts {
			d := &c.Districts[i]
			b.Queue(`INSERT INTO districts (code, name, population, central, boundary) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, population = EXCLUDED.population,
				central = EXCLUDED.central, boundary = EXCLUDED.boundary`,
				d.Code, d.Name, d.Population, d.Central, &ewkb.MultiPolygon{MultiPolygon: d.Area().SetSRID(SRID)})
		}
		for _, st := range c.Stations {
			b.Queue(`INSERT INTO stations (id, name, district, geom) VALUES ($1, $2, NULLIF($3, ''), $4)
				ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, district = EXCLUDED.district, geom = EXCLUDED.geom`,
				st.ID, st.Name, st.District, PointEWKB(st.Point))
		}
		for _, h := range c.Hospitals {
			beds, err := json.Marshal(h.Beds)
			if err != nil {
				return err
			}
			b.Queue(`INSERT INTO hospitals (id, name, kind, district, accepting, beds, geom)
				VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7)
				ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
				district = EXCLUDED.district, geom = EXCLUDED.geom`,
				h.ID, h.Name, string(h.Kind), h.District, h.Accepting, beds, PointEWKB(h.Point))
		}
		n := len(c.Fleet)
		ids, kinds, homes, geoms := make([]string, n), make([]string, n), make([]string, n), make([][]byte, n)
		for i, u := range c.Fleet {
			ids[i], kinds[i], homes[i], geoms[i] = u.ID, string(u.Kind), u.Station, PointEWKB(c.StartPoint(u))
		}
		b.Queue(`INSERT INTO units (id, kind, station_id, status, geom)
			SELECT u.id, u.k, u.s, 'available', ST_GeomFromEWKB(u.g) FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS u(id, k, s, g)
			ON CONFLICT (id) DO NOTHING`, ids, kinds, homes, geoms)
		return tx.SendBatch(ctx, b).Close()
	})
}

// UnitRow is a unit as stored.
type UnitRow struct {
	ID        string
	Kind      contract.UnitKind
	StationID string
	Status    contract.UnitStatus
	CallID    string
	Pos       city.Point
	PingAt    time.Time
	StatusAt  time.Time
	FlaggedAt time.Time // zero when not flagged
	// DeconUntil is when its decontamination ends; zero when none.
	DeconUntil time.Time
}

// Units returns every unit.
func (s *Store) Units(ctx context.Context) ([]UnitRow, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, kind, coalesce(station_id, ''), status, coalesce(call_id, ''), geom,
		coalesce(ping_at, 'epoch'), coalesce(status_at, 'epoch'), coalesce(flagged_at, 'epoch'), coalesce(decon_until, 'epoch') FROM units ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("units: %w", err)
	}
	var out []UnitRow
	defer rows.Close()
	// Units share their station's id, kind and status strings rather than each keep a copy
	// (a load test's fleet is a hundred thousand units, marked at every GC).
	stations := map[string]string{}
	for rows.Next() {
		var u UnitRow
		var kind, status string
		var pt ewkb.Point
		if err := rows.Scan(&u.ID, &kind, &u.StationID, &status, &u.CallID, &pt, &u.PingAt, &u.StatusAt, &u.FlaggedAt, &u.DeconUntil); err != nil {
			return nil, fmt.Errorf("units: %w", err)
		}
		if u.FlaggedAt.Equal(time.Unix(0, 0)) {
			u.FlaggedAt = time.Time{}
		}
		if u.DeconUntil.Equal(time.Unix(0, 0)) {
			u.DeconUntil = time.Time{}
		}
		u.Kind, _ = contract.Canonical(contract.UnitKind(kind), contract.UnitKinds)
		u.Status, _ = contract.Canonical(contract.UnitStatus(status), contract.UnitStatuses)
		if st, ok := stations[u.StationID]; ok {
			u.StationID = st
		} else {
			stations[u.StationID] = u.StationID
		}
		u.Pos = pointOf(&pt)
		out = append(out, u)
	}
	return out, rows.Err()
}

// CallRow is a call as stored, with its current state.
type CallRow struct {
	contract.Call
	Status     string
	UnitID     string
	Seq        int       // assignments made so far
	AssignedAt time.Time // when the latest assignment was decided; zero if none
}

// LiveCalls returns the calls that are neither closed nor cancelled, oldest first.
func (s *Store) LiveCalls(ctx context.Context) ([]CallRow, error) {
	rows, err := s.Pool.Query(ctx, `SELECT c.call_id, c.received_at, c.geom, c.priority, c.category, c.infectious,
		c.address, coalesce(c.linked_to, ''), c.status, coalesce(c.unit_id, ''),
		coalesce((SELECT max(seq) FROM assignments a WHERE a.call_id = c.call_id), 0),
		coalesce((SELECT max(decided_at) FROM assignments a WHERE a.call_id = c.call_id AND a.reason <> 'operator_destination'), 'epoch')
		FROM calls c WHERE c.status NOT IN ('closed', 'cancelled') ORDER BY c.received_at, c.call_id`)
	if err != nil {
		return nil, fmt.Errorf("live calls: %w", err)
	}
	defer rows.Close()
	var out []CallRow
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, fmt.Errorf("live calls: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func scanCall(row pgx.Row) (CallRow, error) {
	var c CallRow
	var pt ewkb.Point
	var prio int16
	var cat string
	var seq int32
	if err := row.Scan(&c.CallID, &c.ReceivedAt, &pt, &prio, &cat, &c.Infectious, &c.Address, &c.LinkedTo, &c.Status, &c.UnitID, &seq, &c.AssignedAt); err != nil {
		return CallRow{}, err
	}
	if c.AssignedAt.Equal(time.Unix(0, 0)) {
		c.AssignedAt = time.Time{}
	}
	p := pointOf(&pt)
	c.Lat, c.Lng, c.Priority, c.Category, c.Seq = p.Lat, p.Lng, int(prio), contract.Category(cat), int(seq)
	return c, nil
}

// Source is where a message came from.
type Source struct {
	Topic     string
	Partition int
	Offset    int64
}

// Tx is a transaction of the store, pipelined: BEGIN goes out with the first statement that
// needs an answer, and the writes queued by Apply go out with the COMMIT, in one round trip.
// A transaction that queued nothing and asked nothing costs no round trip at all (a batch of
// position pings, say).
type Tx struct {
	pool   *pgxpool.Pool
	fence  *fence // checked first, with BEGIN, when set
	conn   *pgxpool.Conn
	begun  bool
	writes []queued
}

type queued struct {
	what string // for errors
	sql  string
	args []any
}

func (t *Tx) queue(what, sql string, args ...any) {
	t.writes = append(t.writes, queued{what, sql, args})
}

// customPlan queues a statement that joins a growing table to its arguments, planned for
// them (see Open): the rest of the transaction keeps the session's plan_cache_mode.
func (t *Tx) customPlan(what, sql string, args ...any) {
	t.queue(what, "SET LOCAL plan_cache_mode = force_custom_plan")
	t.queue(what, sql, args...)
	t.queue(what, "RESET plan_cache_mode")
}

// send runs the queued writes (and BEGIN first if needed), then stmts; the caller reads the
// results of stmts from the returned batch and closes it.
func (t *Tx) send(ctx context.Context, last string, lastArgs ...any) (pgx.BatchResults, int, error) {
	if t.conn == nil {
		c, err := t.pool.Acquire(ctx)
		if err != nil {
			return nil, 0, err
		}
		t.conn = c
	}
	b := &pgx.Batch{}
	if !t.begun {
		b.Queue("BEGIN")
		if t.fence != nil {
			b.Queue(fenceSQL, t.fence.name, t.fence.epoch)
		}
		t.begun = true
	}
	for _, w := range t.writes {
		b.Queue(w.sql, w.args...)
	}
	b.Queue(last, lastArgs...)
	br := t.conn.SendBatch(ctx, b)
	before := b.Len() - 1
	for i := 0; i < before; i++ {
		if _, err := br.Exec(); err != nil {
			br.Close()
			what := "begin"
			if j := i - (b.Len() - 1 - len(t.writes)); j >= 0 && j < len(t.writes) {
				what = t.writes[j].what
			} else if i > 0 && j < 0 {
				what = "fence" // after BEGIN, before the writes
			}
			return nil, 0, fmt.Errorf("%s: %w", what, err)
		}
	}
	t.writes = nil
	return br, before, nil
}

// InTx runs fn in a transaction, committed when fn returns nil and rolled back otherwise.
// When the store is fenced (Fence), the transaction checks the lease first and fails, changing
// nothing, if another process has taken it.
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) (err error) {
	t := &Tx{pool: s.Pool, fence: s.fence.Load()}
	defer func() {
		if t.conn != nil {
			t.conn.Release() // a connection left inside a transaction is destroyed, not reused
		}
	}()
	if err := fn(t); err != nil {
		if t.begun {
			_, _ = t.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	}
	if !t.begun && len(t.writes) == 0 {
		return nil
	}
	br, _, err := t.send(ctx, "COMMIT")
	if err != nil {
		if t.conn != nil {
			_, _ = t.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && tag.String() != "COMMIT" {
		err = fmt.Errorf("transaction not committed (%s)", tag)
	}
	return err
}

// knownCallsSQL looks each id up in the calls' primary key, one probe per id. Written as a
// join to the list rather than call_id = ANY($1), its plan is the same whatever the table
// holds, so a plan made once per connection (while the table was still empty) stays right
// as the table grows, and no execution pays for planning (TestKnownCallsPlanIsAnIndexProbe).
const knownCallsSQL = `SELECT u.id FROM unnest($1::text[]) AS u(id)
	CROSS JOIN LATERAL (SELECT 1 FROM calls c WHERE c.call_id = u.id LIMIT 1) AS known`

// KnownCalls returns which of the ids are already recorded: a call seen before (a replay)
// decides nothing.
func (s *Store) KnownCalls(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := s.Pool.Query(ctx, knownCallsSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("known calls: %w", err)
	}
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("known calls: %w", err)
	}
	out := make(map[string]bool, len(known))
	for _, id := range known {
		out[id] = true
	}
	return out, nil
}

// InsertCalls queues new calls, in state "received"; a call already recorded is left as it
// is (ON CONFLICT DO NOTHING). Changes.New inserts calls in the state a batch left them in.
func (t *Tx) InsertCalls(calls []contract.Call, srcs []Source) {
	t.insertCalls(calls, srcs, nil)
}

// insertCalls queues the calls with their state from final (call id → state; "received" and
// no unit when absent).
func (t *Tx) insertCalls(calls []contract.Call, srcs []Source, final map[string]CallState) {
	if len(calls) == 0 {
		return
	}
	n := len(calls)
	ids, cats, addrs, topics, links := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	states, units := make([]string, n), make([]string, n)
	at, geoms := make([]time.Time, n), make([][]byte, n)
	prios, parts := make([]int16, n), make([]int32, n)
	inf, offs := make([]bool, n), make([]int64, n)
	for i, c := range calls {
		ids[i], cats[i], addrs[i], at[i], links[i] = c.CallID, string(c.Category), c.Address, c.ReceivedAt, c.LinkedTo
		geoms[i], prios[i], inf[i] = PointEWKB(city.Point{Lat: c.Lat, Lng: c.Lng}), int16(c.Priority), c.Infectious
		if i < len(srcs) {
			topics[i], parts[i], offs[i] = srcs[i].Topic, int32(srcs[i].Partition), srcs[i].Offset
		}
		states[i] = "received"
		if st, ok := final[c.CallID]; ok {
			states[i], units[i] = st.State, st.UnitID
		}
	}
	t.queue("calls", `INSERT INTO calls (call_id, received_at, priority, category, infectious, address, geom,
			status, unit_id, src_topic, src_partition, src_offset, linked_to)
		SELECT u.id, u.at, u.prio, u.cat, u.inf, u.addr, ST_GeomFromEWKB(u.g), u.st, NULLIF(u.un, ''), NULLIF(u.topic, ''),
			CASE WHEN u.topic <> '' THEN u.part END, CASE WHEN u.topic <> '' THEN u.off END, NULLIF(u.link, '')
		FROM unnest($1::text[], $2::timestamptz[], $3::smallint[], $4::text[], $5::bool[], $6::text[], $7::bytea[],
			$8::text[], $9::text[], $10::text[], $11::int[], $12::bigint[], $13::text[])
			AS u(id, at, prio, cat, inf, addr, g, st, un, topic, part, off, link)
		ON CONFLICT (call_id) DO NOTHING`,
		ids, at, prios, cats, inf, addrs, geoms, states, units, topics, parts, offs, links)
}

// AssignmentRow is one assignment of a call.
type AssignmentRow struct {
	contract.Assignment
	Seq int
}

// EventRow is one step in the incident log.
type EventRow struct {
	CallID string
	At     time.Time
	Type   string
	State  string
	UnitID string
	Reason string
	Actor  string // the account that caused it; "" for the engine's own
}

// CallState is a call's state after a batch.
type CallState struct {
	CallID string
	State  string
	UnitID string // empty when no unit serves it
}

// Changes is what one batch of engine decisions does to the record.
type Changes struct {
	// New are calls first seen in this batch, with where they came from (Sources, in step;
	// may be shorter). They are inserted in the state Calls leaves them in, so a call that is
	// received and assigned in one batch is written once, not inserted and then updated.
	New         []contract.Call
	Sources     []Source
	Calls       []CallState
	Assignments []AssignmentRow
	Events      []EventRow
	Units       []UnitRow
	Outbox      *OutboxRow // the messages announcing these changes, published after the commit
	Surge       []SurgeRow // switches of surge mode
}

// Empty reports whether there is nothing to write.
func (c *Changes) Empty() bool {
	return len(c.New)+len(c.Calls)+len(c.Assignments)+len(c.Events)+len(c.Units)+len(c.Surge) == 0 &&
		(c.Outbox == nil || len(c.Outbox.Msgs) == 0)
}

// releases are the states in which a call holds no unit.
var releases = map[string]bool{"received": true, "queued": true, "closed": true, "cancelled": true}

// Apply queues the changes; they are written with the commit. Calls that release a unit are
// updated before new calls are inserted and before calls that take one are updated, so the
// one-live-incident-per-unit index never sees a unit handed over within the batch twice. The
// outbox row carries its id (Store.NewOutboxID).
func (t *Tx) Apply(ch Changes) {
	t.applyCalls(ch)
	t.insertAssignments(ch.Assignments)
	t.insertEvents(ch.Events)
	t.upsertUnits(ch.Units)
	for _, sw := range ch.Surge {
		t.queue("surge switch", `INSERT INTO surge_switches (at, surge_on, reason, actor, auto) VALUES ($1, $2, $3, NULLIF($4, ''), $5)`,
			sw.At, sw.On, sw.Reason, sw.Actor, sw.Auto)
	}
	if ch.Outbox != nil && len(ch.Outbox.Msgs) > 0 {
		t.queue("outbox", `INSERT INTO outbox (id, topic, key, value) VALUES ($1, '', NULL, $2)`,
			ch.Outbox.ID, encodeOutbox(ch.Outbox.Msgs))
	}
}

// applyCalls updates the calls that release a unit, inserts the new calls in their final
// state, then updates the calls that take a unit.
func (t *Tx) applyCalls(ch Changes) {
	var final map[string]CallState
	if len(ch.New) > 0 {
		final = make(map[string]CallState, len(ch.New))
		for _, c := range ch.New {
			final[c.CallID] = CallState{CallID: c.CallID, State: "received"}
		}
	}
	var release, take []CallState
	for _, c := range ch.Calls {
		if _, isNew := final[c.CallID]; isNew {
			final[c.CallID] = c // the last state in the batch wins, as the updates below would
			continue
		}
		if releases[c.State] || c.UnitID == "" {
			release = append(release, c)
		} else {
			take = append(take, c)
		}
	}
	t.updateCalls(release)
	t.insertCalls(ch.New, ch.Sources, final)
	t.updateCalls(take)
}

func (t *Tx) updateCalls(group []CallState) {
	if len(group) == 0 {
		return
	}
	ids, states, units := make([]string, len(group)), make([]string, len(group)), make([]string, len(group))
	for i, c := range group {
		ids[i], states[i], units[i] = c.CallID, c.State, c.UnitID
	}
	t.customPlan("call states", `UPDATE calls c SET status = u.status, unit_id = NULLIF(u.unit_id, ''), updated_at = now()
		FROM unnest($1::text[], $2::text[], $3::text[]) AS u(call_id, status, unit_id) WHERE c.call_id = u.call_id`,
		ids, states, units)
}

func (t *Tx) insertAssignments(as []AssignmentRow) {
	n := len(as)
	if n == 0 {
		return
	}
	calls, units, hosps, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seqs, etas, dists := make([]int32, n), make([]int32, n), make([]int32, n)
	at, within := make([]time.Time, n), make([]bool, n)
	for i, a := range as {
		calls[i], units[i], hosps[i], reasons[i] = a.CallID, a.UnitID, a.HospitalID, a.Reason
		seqs[i], etas[i], dists[i], at[i], within[i] = int32(a.Seq), int32(a.ETAS), int32(a.DistanceM), a.DecidedAt, a.WithinStandard
	}
	t.queue("assignments", `INSERT INTO assignments (call_id, seq, unit_id, decided_at, eta_s, distance_m, within_standard, hospital_id, reason)
		SELECT u.c, u.s, u.un, u.at, u.eta, u.d, u.w, NULLIF(u.h, ''), u.r
		FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[], $5::int[], $6::int[], $7::bool[], $8::text[], $9::text[])
		AS u(c, s, un, at, eta, d, w, h, r)`,
		calls, seqs, units, at, etas, dists, within, hosps, reasons)
}

func (t *Tx) insertEvents(evs []EventRow) {
	n := len(evs)
	if n == 0 {
		return
	}
	calls, types, states, units, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	actors, at := make([]string, n), make([]time.Time, n)
	for i, e := range evs {
		calls[i], types[i], states[i], units[i], reasons[i], at[i] = e.CallID, e.Type, e.State, e.UnitID, e.Reason, e.At
		actors[i] = e.Actor
	}
	t.queue("incident events", `INSERT INTO incident_events (call_id, at, type, state, unit_id, reason, actor)
		SELECT u.c, u.at, u.t, u.s, NULLIF(u.un, ''), u.r, NULLIF(u.a, '')
		FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY
		AS u(c, at, t, s, un, r, a, ord) ORDER BY u.ord`,
		calls, at, types, states, units, reasons, actors)
}

func (t *Tx) upsertUnits(us []UnitRow) {
	n := len(us)
	if n == 0 {
		return
	}
	ids, kinds, stations, statuses, calls := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	geoms := make([][]byte, n)
	pings, changed, flagged, decon := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	for i, u := range us {
		ids[i], kinds[i], stations[i], statuses[i], calls[i] = u.ID, string(u.Kind), u.StationID, string(u.Status), u.CallID
		geoms[i] = PointEWKB(u.Pos)
		pings[i], changed[i], flagged[i], decon[i] = timeOrNil(u.PingAt), timeOrNil(u.StatusAt), timeOrNil(u.FlaggedAt), timeOrNil(u.DeconUntil)
	}
	// A position older than the stored one (written by the position flusher) stays out.
	t.queue("units", `INSERT INTO units (id, kind, station_id, status, call_id, geom, ping_at, status_at, flagged_at, decon_until, updated_at)
		SELECT u.id, u.k, NULLIF(u.st, ''), u.s, NULLIF(u.c, ''), ST_GeomFromEWKB(u.g), u.p, u.sa, u.f, u.d, now()
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::timestamptz[], $8::timestamptz[],
			$9::timestamptz[], $10::timestamptz[]) AS u(id, k, st, s, c, g, p, sa, f, d)
		ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, station_id = EXCLUDED.station_id, status = EXCLUDED.status,
		call_id = EXCLUDED.call_id, status_at = EXCLUDED.status_at, flagged_at = EXCLUDED.flagged_at,
		decon_until = EXCLUDED.decon_until, updated_at = now(),
		geom = CASE WHEN units.ping_at IS NULL OR EXCLUDED.ping_at >= units.ping_at THEN EXCLUDED.geom ELSE units.geom END,
		ping_at = GREATEST(units.ping_at, EXCLUDED.ping_at)`,
		ids, kinds, stations, statuses, calls, geoms, pings, changed, flagged, decon)
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() || t.Equal(time.Unix(0, 0)) {
		return nil
	}
	return &t
}

// UpdatePositions records units' positions and ping times, unless the stored ping is newer.
func (s *Store) UpdatePositions(ctx context.Context, units []UnitRow) error {
	if len(units) == 0 {
		return nil
	}
	ids, geoms, pings := make([]string, len(units)), make([][]byte, len(units)), make([]*time.Time, len(units))
	for i, u := range units {
		ids[i], geoms[i], pings[i] = u.ID, PointEWKB(u.Pos), timeOrNil(u.PingAt)
	}
	err := s.execFenced(ctx, `UPDATE units SET geom = ST_GeomFromEWKB(u.g), ping_at = u.p, updated_at = now()
		FROM unnest($1::text[], $2::bytea[], $3::timestamptz[]) AS u(id, g, p)
		WHERE units.id = u.id AND (units.ping_at IS NULL OR units.ping_at <= u.p)`, pgx.QueryExecModeExec, ids, geoms, pings)
	if err != nil {
		return fmt.Errorf("unit positions: %w", err)
	}
	return nil
}

// CallDetail is everything recorded about one call.
type CallDetail struct {
	Call        CallRow
	Assignments []AssignmentRow
	Events      []EventRow
}

// CallDetail returns a call with its assignments and its event log, or ErrNotFound.
func (s *Store) CallDetail(ctx context.Context, id string) (CallDetail, error) {
	var d CallDetail
	row := s.Pool.QueryRow(ctx, `SELECT c.call_id, c.received_at, c.geom, c.priority, c.category, c.infectious,
		c.address, coalesce(c.linked_to, ''), c.status, coalesce(c.unit_id, ''),
		coalesce((SELECT max(seq) FROM assignments a WHERE a.call_id = c.call_id), 0),
		coalesce((SELECT max(decided_at) FROM assignments a WHERE a.call_id = c.call_id AND a.reason <> 'operator_destination'), 'epoch')
		FROM calls c WHERE c.call_id = $1`, id)
	c, err := scanCall(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("call %s: %w", id, err)
	}
	d.Call = c
	rows, err := s.Pool.Query(ctx, `SELECT seq, unit_id, decided_at, eta_s, distance_m, within_standard,
		coalesce(hospital_id, ''), reason FROM assignments WHERE call_id = $1 ORDER BY seq`, id)
	if err != nil {
		return d, fmt.Errorf("call %s: %w", id, err)
	}
	d.Assignments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AssignmentRow, error) {
		a := AssignmentRow{Assignment: contract.Assignment{CallID: id}}
		var seq, eta, dist int32
		err := r.Scan(&seq, &a.UnitID, &a.DecidedAt, &eta, &dist, &a.WithinStandard, &a.HospitalID, &a.Reason)
		a.Seq, a.ETAS, a.DistanceM = int(seq), int(eta), int(dist)
		return a, err
	})
	if err != nil {
		return d, fmt.Errorf("call %s assignments: %w", id, err)
	}
	rows, err = s.Pool.Query(ctx, `SELECT at, type, state, coalesce(unit_id, ''), reason, coalesce(actor, '') FROM incident_events
		WHERE call_id = $1 ORDER BY id`, id)
	if err != nil {
		return d, fmt.Errorf("call %s: %w", id, err)
	}
	d.Events, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (EventRow, error) {
		e := EventRow{CallID: id}
		err := r.Scan(&e.At, &e.Type, &e.State, &e.UnitID, &e.Reason, &e.Actor)
		return e, err
	})
	if err != nil {
		return d, fmt.Errorf("call %s events: %w", id, err)
	}
	return d, nil
}
