package sql

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"
	"github.com/uber/h3-go/v4"

	"github.com/ems120/ems120/city"
)

// CoverageCell is a cell of the service area as stored.
type CoverageCell struct {
	ID       h3.Cell
	District string
	Demand   float64
}

// SeedCoverageCells writes the service area's cells with their polygons (once: cells already
// there keep their row, their demand is updated).
func (s *Store) SeedCoverageCells(ctx context.Context, cells []CoverageCell) error {
	ids, districts := make([]string, len(cells)), make([]string, len(cells))
	demand, geoms := make([]float64, len(cells)), make([][]byte, len(cells))
	for i, c := range cells {
		ids[i], districts[i], demand[i] = c.ID.String(), c.District, c.Demand
		poly, err := cellPolygon(c.ID)
		if err != nil {
			return fmt.Errorf("cell %s: %w", c.ID, err)
		}
		if geoms[i], err = ewkb.Marshal(poly.SetSRID(SRID), binary.LittleEndian); err != nil {
			return fmt.Errorf("cell %s: %w", c.ID, err)
		}
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO coverage_cells (h3, district, demand, geom)
		SELECT u.h, NULLIF(u.d, ''), u.w, ST_GeomFromEWKB(u.g)
		FROM unnest($1::text[], $2::text[], $3::float8[], $4::bytea[]) AS u(h, d, w, g)
		ON CONFLICT (h3) DO UPDATE SET demand = EXCLUDED.demand, district = EXCLUDED.district`,
		ids, districts, demand, geoms)
	if err != nil {
		return fmt.Errorf("seed coverage cells: %w", err)
	}
	return nil
}

// cellPolygon is an H3 cell's outline.
func cellPolygon(c h3.Cell) (*geom.Polygon, error) {
	b := h3.CellToBoundary(c)
	ring := make([]geom.Coord, 0, len(b)+1)
	for _, ll := range b {
		ring = append(ring, geom.Coord{ll.Lng, ll.Lat})
	}
	ring = append(ring, ring[0])
	return geom.NewPolygon(geom.XY).SetCoords([][]geom.Coord{ring})
}

// SetSetting records a named setting (the city's time zone, for the views).
func (s *Store) SetSetting(ctx context.Context, name, value string) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO ems_settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, name, value)
	return err
}

// CoverageSnapshot is the coverage at one moment: the summary and the reach of every cell
// some unit reaches.
type CoverageSnapshot struct {
	At                time.Time
	CoveragePct       float64
	DoubleCoveragePct float64
	UnitsAvailable    int
	Reach             map[h3.Cell]int
}

// InsertCoverageSnapshot records a snapshot (COPY for the cells) and returns its id.
func (s *Store) InsertCoverageSnapshot(ctx context.Context, snap CoverageSnapshot) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if f := s.fence.Load(); f != nil {
			if _, err := tx.Exec(ctx, fenceSQL, f.name, f.epoch); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO coverage_snapshots (at, coverage_pct, double_coverage_pct, units_available)
			VALUES ($1, $2, $3, $4) RETURNING id`, snap.At, snap.CoveragePct, snap.DoubleCoveragePct, snap.UnitsAvailable).Scan(&id); err != nil {
			return err
		}
		rows := make([][]any, 0, len(snap.Reach))
		for c, r := range snap.Reach {
			if r > 0 {
				rows = append(rows, []any{id, c.String(), int32(r)})
			}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"coverage_reach"}, []string{"snapshot_id", "h3", "reach"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("coverage snapshot: %w", err)
	}
	return id, nil
}

// CallPositions returns where calls received since `since` came from, newest first, at most
// limit of them: the call history for coverage demand weights.
func (s *Store) CallPositions(ctx context.Context, since time.Time, limit int) ([]city.Point, error) {
	rows, err := s.Pool.Query(ctx, `SELECT ST_Y(geom), ST_X(geom) FROM calls WHERE received_at >= $1
		ORDER BY received_at DESC LIMIT $2`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("call positions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (city.Point, error) {
		var p city.Point
		err := r.Scan(&p.Lat, &p.Lng)
		return p, err
	})
}
