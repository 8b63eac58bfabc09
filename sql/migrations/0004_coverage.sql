-- Version 4: coverage for analysts. The service area's cells (H3 resolution 8) with their
-- polygons and demand weights; periodic snapshots of how many available units reach each
-- cell within 5 km and 15 minutes; and views of response compliance by district and by hour.

CREATE TABLE ems_settings (
    name   text PRIMARY KEY,
    value  text NOT NULL
);

CREATE TABLE coverage_cells (
    h3        text PRIMARY KEY,           -- H3 index, hexadecimal
    district  text REFERENCES districts (code),
    demand    double precision NOT NULL,  -- share of the city's expected calls
    geom      geometry(Polygon, 4326) NOT NULL
);
CREATE INDEX coverage_cells_geom ON coverage_cells USING gist (geom);

CREATE TABLE coverage_snapshots (
    id                   bigserial PRIMARY KEY,
    at                   timestamptz NOT NULL,
    coverage_pct         double precision NOT NULL,
    double_coverage_pct  double precision NOT NULL,
    units_available      integer NOT NULL
);
CREATE INDEX coverage_snapshots_at ON coverage_snapshots (at);

-- Reach per cell per snapshot; a cell absent from a snapshot is reached by no unit.
CREATE TABLE coverage_reach (
    snapshot_id  bigint NOT NULL REFERENCES coverage_snapshots (id) ON DELETE CASCADE,
    h3           text NOT NULL REFERENCES coverage_cells (h3),
    reach        integer NOT NULL CHECK (reach > 0),
    PRIMARY KEY (snapshot_id, h3)
);

-- The latest snapshot, every cell, ready for QGIS: polygon, district, demand, units in reach.
CREATE VIEW v_coverage_latest AS
SELECT c.h3, c.district, c.demand, coalesce(r.reach, 0) AS reach, s.at, c.geom
FROM coverage_cells c
CROSS JOIN (SELECT id, at FROM coverage_snapshots ORDER BY at DESC, id DESC LIMIT 1) s
LEFT JOIN coverage_reach r ON r.snapshot_id = s.id AND r.h3 = c.h3;

-- Coverage by district over time: the demand-weighted share reached by ≥ 1 and ≥ 2 units.
CREATE VIEW v_coverage_by_district AS
SELECT s.at, c.district, d.name,
       round((100 * sum(c.demand) FILTER (WHERE coalesce(r.reach, 0) >= 1) / sum(c.demand))::numeric, 1) AS coverage_pct,
       round((100 * coalesce(sum(c.demand) FILTER (WHERE coalesce(r.reach, 0) >= 2), 0) / sum(c.demand))::numeric, 1) AS double_coverage_pct
FROM coverage_snapshots s
CROSS JOIN coverage_cells c
JOIN districts d ON d.code = c.district
LEFT JOIN coverage_reach r ON r.snapshot_id = s.id AND r.h3 = c.h3
GROUP BY s.at, c.district, d.name;

-- Response compliance. "Within standard" is the first assignment's promise (5 km and a
-- 15-minute ETA); "arrived within 15 min" is what happened (receipt to the first on-scene).
CREATE VIEW v_call_response AS
WITH first AS (
    SELECT DISTINCT ON (call_id) call_id, eta_s, distance_m, within_standard
    FROM assignments ORDER BY call_id, seq),
arrived AS (
    SELECT call_id, min(at) AS at FROM incident_events WHERE type = 'on_scene' GROUP BY call_id)
SELECT c.call_id, c.received_at, c.priority, c.category, c.status,
       (SELECT d.code FROM districts d WHERE ST_Contains(d.boundary, c.geom) ORDER BY d.code LIMIT 1) AS district,
       extract(hour FROM c.received_at AT TIME ZONE coalesce(
           (SELECT value FROM ems_settings WHERE name = 'timezone'), 'UTC'))::int AS local_hour,
       f.eta_s, f.distance_m, f.within_standard,
       extract(epoch FROM a.at - c.received_at) AS response_s
FROM calls c LEFT JOIN first f USING (call_id) LEFT JOIN arrived a USING (call_id);

CREATE VIEW v_response_by_district AS
SELECT r.district, d.name, count(*) AS calls, count(r.eta_s) AS assigned,
       round(100.0 * avg(r.within_standard::int), 1) AS within_standard_pct,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.eta_s) AS eta_s_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY r.eta_s) AS eta_s_p90,
       count(r.response_s) AS arrived,
       round(100.0 * avg((r.response_s <= 900)::int), 1) AS arrived_within_15min_pct,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.response_s) AS response_s_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY r.response_s) AS response_s_p90
FROM v_call_response r LEFT JOIN districts d ON d.code = r.district
GROUP BY r.district, d.name;

CREATE VIEW v_response_by_hour AS
SELECT r.local_hour, count(*) AS calls, count(r.eta_s) AS assigned,
       round(100.0 * avg(r.within_standard::int), 1) AS within_standard_pct,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.eta_s) AS eta_s_p50,
       count(r.response_s) AS arrived,
       round(100.0 * avg((r.response_s <= 900)::int), 1) AS arrived_within_15min_pct,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.response_s) AS response_s_p50
FROM v_call_response r
GROUP BY r.local_hour;
