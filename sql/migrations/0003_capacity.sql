-- Version 3: hospital capacity reports. Every accepted report is kept as history; the
-- hospitals table holds the last accepted one.

ALTER TABLE hospitals ADD COLUMN reported_at timestamptz;  -- NULL until the first report

CREATE TABLE capacity_reports (
    id           bigserial PRIMARY KEY,
    hospital_id  text NOT NULL REFERENCES hospitals (id),
    reported_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    accepting    boolean NOT NULL,
    beds         jsonb NOT NULL,
    source       text NOT NULL,    -- 'ems.capacity' or 'http'
    UNIQUE (hospital_id, reported_at)
);
CREATE INDEX capacity_reports_time ON capacity_reports (reported_at);
