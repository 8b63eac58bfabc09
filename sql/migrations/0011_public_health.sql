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

-- Surge mode's switches, each with its reason: a supervisor's (actor) or automatic. The last
-- row is the mode now; a rebuilt engine starts from it.
CREATE TABLE surge_switches (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,
    surge_on  boolean NOT NULL,
    reason    text NOT NULL CHECK (reason <> ''),
    actor     text,
    auto      boolean NOT NULL
);

-- The fever patient's closed loop: a transfer (from a fever clinic to a designated hospital
-- or a Fangcang shelter) is a call of its own that names the call it carries on. No foreign
-- key: a call from another producer naming an unknown call must not fail the batch it
-- arrives in. The screening at the clinic, one per call, decides the transfer.
ALTER TABLE calls ADD COLUMN linked_to text;
CREATE INDEX calls_linked_to ON calls (linked_to) WHERE linked_to IS NOT NULL;
CREATE TABLE screenings (
    call_id           text PRIMARY KEY,             -- the fever call whose patient was screened
    outcome           text NOT NULL CHECK (outcome IN ('confirmed', 'mild', 'cleared')),
    at                timestamptz NOT NULL,
    actor             text NOT NULL,
    clinic_id         text NOT NULL,
    transfer_call_id  text                           -- the linked transfer, for confirmed and mild
);

-- The loop of each screened fever patient: call → fever clinic → screening → designated
-- hospital or Fangcang shelter, with its times in seconds.
CREATE VIEW v_fever_loop AS
WITH at_hosp AS (
    SELECT call_id, min(at) AS at FROM incident_events WHERE type = 'at_hospital' GROUP BY call_id)
SELECT s.call_id, r.district, c.received_at, s.clinic_id, a1.at AS at_clinic, s.outcome, s.at AS screened_at,
       s.transfer_call_id, t.hospital_id AS destination_id, a2.at AS admitted_at,
       extract(epoch FROM a1.at - c.received_at) AS to_clinic_s,
       extract(epoch FROM s.at - a1.at) AS screening_s,
       extract(epoch FROM a2.at - s.at) AS transfer_s,
       extract(epoch FROM a2.at - c.received_at) AS loop_s
FROM screenings s JOIN calls c USING (call_id) JOIN v_call_response r USING (call_id)
LEFT JOIN at_hosp a1 ON a1.call_id = s.call_id
LEFT JOIN at_hosp a2 ON a2.call_id = s.transfer_call_id
LEFT JOIN LATERAL (SELECT hospital_id FROM assignments WHERE call_id = s.transfer_call_id ORDER BY seq DESC LIMIT 1) t ON true;

CREATE VIEW v_fever_loop_by_district AS
SELECT l.district, d.name, count(*) AS screened,
       count(*) FILTER (WHERE l.outcome = 'confirmed') AS confirmed,
       count(*) FILTER (WHERE l.outcome = 'mild') AS mild,
       count(l.admitted_at) AS admitted,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY l.to_clinic_s) AS to_clinic_s_p50,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY l.screening_s) AS screening_s_p50,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY l.transfer_s) AS transfer_s_p50,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY l.loop_s) AS loop_s_p50
FROM v_fever_loop l LEFT JOIN districts d ON d.code = l.district
GROUP BY l.district, d.name;
