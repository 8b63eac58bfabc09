-- ems120 schema, version 1: the city, the fleet, calls and their assignments, the incident
-- event log and the transactional outbox. Positions are PostGIS points in WGS84 (SRID 4326).

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE districts (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    population  integer NOT NULL CHECK (population >= 0),
    central     boolean NOT NULL,
    boundary    geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX districts_boundary ON districts USING gist (boundary);

CREATE TABLE stations (
    id        text PRIMARY KEY,
    name      text NOT NULL,
    district  text REFERENCES districts (code),
    geom      geometry(Point, 4326) NOT NULL
);

CREATE TABLE hospitals (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('designated', 'fever_clinic', 'fangcang', 'general')),
    district   text REFERENCES districts (code),
    accepting  boolean NOT NULL,
    beds       jsonb NOT NULL,   -- {"isolation":{"total":..,"occupied":..},...} as last known
    geom       geometry(Point, 4326) NOT NULL
);

CREATE TABLE units (
    id          text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('als', 'bls', 'negative_pressure')),
    station_id  text,
    status      text NOT NULL CHECK (status IN ('available', 'dispatched', 'en_route', 'on_scene',
                                               'transporting', 'at_hospital', 'out_of_service')),
    call_id     text,            -- the incident it serves
    geom        geometry(Point, 4326) NOT NULL,
    ping_at     timestamptz,     -- time of the last ping applied
    status_at   timestamptz,     -- when status last changed
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX units_geom ON units USING gist (geom);

CREATE TABLE calls (
    call_id      text PRIMARY KEY,
    received_at  timestamptz NOT NULL,
    priority     smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
    category     text NOT NULL,
    infectious   boolean NOT NULL,
    address      text NOT NULL DEFAULT '',
    geom         geometry(Point, 4326) NOT NULL,
    status       text NOT NULL CHECK (status IN ('received', 'queued', 'assigned', 'en_route', 'on_scene',
                                                'transporting', 'at_hospital', 'closed', 'cancelled')),
    unit_id      text,
    src_topic    text,            -- where the call came from, for tracing a record to its message
    src_partition integer,
    src_offset   bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_geom ON calls USING gist (geom);
CREATE INDEX calls_received_at ON calls (received_at);
CREATE INDEX calls_live ON calls (status) WHERE status NOT IN ('closed', 'cancelled');
-- A unit never serves two incidents at once, whatever the code above does.
CREATE UNIQUE INDEX calls_one_live_incident_per_unit ON calls (unit_id)
    WHERE unit_id IS NOT NULL AND status NOT IN ('received', 'queued', 'closed', 'cancelled');

CREATE TABLE assignments (
    id               bigserial PRIMARY KEY,
    call_id          text NOT NULL REFERENCES calls (call_id),
    seq              integer NOT NULL,   -- 1 for the first assignment of a call, 2 for the next…
    unit_id          text NOT NULL,
    decided_at       timestamptz NOT NULL,
    eta_s            integer NOT NULL,
    distance_m       integer NOT NULL,
    within_standard  boolean NOT NULL,
    hospital_id      text,
    reason           text NOT NULL,
    UNIQUE (call_id, seq)
);
CREATE INDEX assignments_decided_at ON assignments (decided_at);

-- The incident event log: every step of every call, append-only.
CREATE TABLE incident_events (
    id       bigserial PRIMARY KEY,
    call_id  text NOT NULL,
    at       timestamptz NOT NULL,
    type     text NOT NULL,
    state    text NOT NULL,
    unit_id  text,
    reason   text NOT NULL DEFAULT ''
);
CREATE INDEX incident_events_call ON incident_events (call_id, id);

CREATE FUNCTION ems_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER incident_events_append_only BEFORE UPDATE OR DELETE ON incident_events
    FOR EACH ROW EXECUTE FUNCTION ems_append_only();
CREATE TRIGGER incident_events_no_truncate BEFORE TRUNCATE ON incident_events
    FOR EACH STATEMENT EXECUTE FUNCTION ems_append_only();

-- Transactional outbox: messages written in the same transaction as the state they announce,
-- published to Kafka afterwards and deleted once the broker has them.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    key         bytea,
    value       bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
