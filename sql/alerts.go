package sql

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"
	"github.com/uber/h3-go/v4"
)

// CallPoint is a call's time and place, for the surveillance.
type CallPoint struct {
	At       time.Time
	Lat, Lng float64
}

// FeverCalls returns the fever and infectious calls received in [from, to), by time.
func (s *Store) FeverCalls(ctx context.Context, from, to time.Time) ([]CallPoint, error) {
	rows, err := s.Pool.Query(ctx, `SELECT received_at, ST_Y(geom), ST_X(geom) FROM calls
		WHERE received_at >= $1 AND received_at < $2 AND (category = 'fever' OR infectious) ORDER BY received_at`, from, to)
	if err != nil {
		return nil, fmt.Errorf("fever calls: %w", err)
	}
	defer rows.Close()
	var out []CallPoint
	for rows.Next() {
		var c CallPoint
		if err := rows.Scan(&c.At, &c.Lat, &c.Lng); err != nil {
			return nil, fmt.Errorf("fever calls: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// InsertAlerts records an hour's alerts, fenced by the lease (only the active service
// writes them), and returns those not recorded before: an hour observed again after a
// takeover adds nothing. A cell cluster's outline is its cells'; a district's is the
// district's.
func (s *Store) InsertAlerts(ctx context.Context, alerts []contract.Alert) ([]contract.Alert, error) {
	var fresh []contract.Alert
	err := s.InTx(ctx, func(t *Tx) error {
		for _, a := range alerts {
			g, err := cellsGeom(a.Cells)
			if err != nil {
				return err
			}
			br, _, err := t.send(ctx, `INSERT INTO alerts (alert_id, hour, method, level, cells, district, observed, expected,
				threshold, score, first_hour, window_hours, geom)
				VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8, $9, $10, $11, $12,
					coalesce(ST_GeomFromEWKB($13), (SELECT boundary FROM districts WHERE code = $6)))
				ON CONFLICT (alert_id, hour) DO NOTHING`,
				a.AlertID, a.Hour, a.Method, a.Level, nonNilStrings(a.Cells), a.District, a.Observed, a.Expected, a.Threshold,
				a.Score, a.FirstHour, a.WindowHours, g)
			if err != nil {
				return err
			}
			tag, err := br.Exec()
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				fresh = append(fresh, a)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert alerts: %w", err)
	}
	return fresh, nil
}

func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func cellsGeom(cells []string) ([]byte, error) {
	if len(cells) == 0 {
		return nil, nil
	}
	mp := geom.NewMultiPolygon(geom.XY)
	for _, c := range cells {
		var cell h3.Cell
		if err := cell.UnmarshalText([]byte(c)); err != nil {
			return nil, fmt.Errorf("alert cell %q: %w", c, err)
		}
		p, err := cellPolygon(cell)
		if err != nil {
			return nil, err
		}
		if err := mp.Push(p); err != nil {
			return nil, err
		}
	}
	return ewkb.Marshal(mp.SetSRID(SRID), binary.LittleEndian)
}

// AlertRow is a recorded alert with the outline it was recorded with, as GeoJSON: a cell
// cluster's hexagons, or the district's boundary.
type AlertRow struct {
	contract.Alert
	Geometry json.RawMessage `json:"geometry,omitempty"`
}

// Alerts returns each cluster that alerted since `since`, as of its latest hour, newest
// first.
func (s *Store) Alerts(ctx context.Context, since time.Time, limit int) ([]AlertRow, error) {
	rows, err := s.Pool.Query(ctx, `SELECT * FROM (SELECT DISTINCT ON (alert_id) alert_id, hour, method, level, cells,
			coalesce(district, ''), observed, expected, threshold, score, first_hour, window_hours, ST_AsGeoJSON(geom, 6)
		FROM alerts WHERE hour >= $1 ORDER BY alert_id, hour DESC) a ORDER BY hour DESC, alert_id LIMIT $2`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer rows.Close()
	var out []AlertRow
	for rows.Next() {
		var a AlertRow
		var g *string
		if err := rows.Scan(&a.AlertID, &a.Hour, &a.Method, &a.Level, &a.Cells, &a.District, &a.Observed, &a.Expected,
			&a.Threshold, &a.Score, &a.FirstHour, &a.WindowHours, &g); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		if g != nil {
			a.Geometry = json.RawMessage(*g)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
