-- Version 11: public health. A unit's decontamination after a fever or infectious patient,
-- and the fever-call cluster alerts of the surveillance.

ALTER TABLE units ADD COLUMN decon_until timestamptz;

-- One row per cluster alert and hour: a cluster that keeps alerting keeps its alert_id, and
-- each hour's test is a row of its own (observed and expected then).
CREATE TABLE alerts (
    alert_id      text NOT NULL,
    hour          timestamptz NOT NULL,                  -- the hour tested (its start)
    method        text NOT NULL CHECK (method IN ('ears_c2', 'cusum')),
    level         text NOT NULL CHECK (level IN ('cell', 'district')),
    cells         text[] NOT NULL DEFAULT '{}',          -- H3 cells (resolution 7 by default)
    district      text,
    observed      double precision NOT NULL,
    expected      double precision NOT NULL,
    threshold     double precision NOT NULL,
    score         double precision NOT NULL,
    first_hour    timestamptz NOT NULL,
    window_hours  integer NOT NULL,
    geom          geometry(MultiPolygon, 4326),          -- the cells' outlines, for PostGIS
    PRIMARY KEY (alert_id, hour)
);
CREATE INDEX alerts_hour ON alerts (hour);

-- The KPIs of China's 2020 pre-hospital guidance, by local day: calls with a unit en route
-- within 3 minutes of receipt (target 95%), and first units inside 5 km / 15 min.
CREATE VIEW v_guidance_by_day AS
WITH er AS (
    SELECT call_id, min(at) AS at FROM incident_events WHERE type = 'en_route' GROUP BY call_id)
SELECT (r.received_at AT TIME ZONE coalesce((SELECT value FROM ems_settings WHERE name = 'timezone'), 'UTC'))::date AS day,
       count(*) AS calls,
       round(100.0 * avg(coalesce(er.at - r.received_at <= interval '3 minutes', false)::int), 1) AS en_route_within_3min_pct,
       round(100.0 * avg(r.within_standard::int), 1) AS within_5km_15min_pct
FROM v_call_response r LEFT JOIN er USING (call_id)
GROUP BY 1;

-- Fever-call clusters for analysts: each cluster as of its latest hour, with its outline.
CREATE VIEW v_alert_clusters AS
SELECT DISTINCT ON (alert_id) alert_id, method, level, cells, district, first_hour, hour AS last_hour,
       observed, expected, threshold, score, geom
FROM alerts ORDER BY alert_id, hour DESC;
