-- Version 10: who may do what. Accounts with one role each (a reporter speaks for one
-- hospital), their API tokens and console sessions (both stored only as SHA-256 hashes of
-- random secrets), the audit trail, and the actor on incident events and capacity reports.

CREATE TABLE accounts (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
    role           text NOT NULL CHECK (role IN ('operator', 'supervisor', 'reporter', 'analyst')),
    hospital_id    text REFERENCES hospitals (id),
    password_hash  text NOT NULL,                 -- argon2id, PHC string
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL DEFAULT '',
    CHECK ((role = 'reporter') = (hospital_id IS NOT NULL))
);

CREATE TABLE api_tokens (
    hash        bytea PRIMARY KEY,                -- SHA-256 of the token
    account_id  bigint NOT NULL REFERENCES accounts (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

CREATE TABLE sessions (
    hash        bytea PRIMARY KEY,                -- SHA-256 of the cookie's value
    account_id  bigint NOT NULL REFERENCES accounts (id),
    csrf        text NOT NULL,                    -- the token state-changing requests must echo
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Every state-changing request, done or refused, and every refused read: append-only.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,                   -- the account, or the name tried at a refused sign-in; '' for none
    role         text NOT NULL DEFAULT '',
    action       text NOT NULL,                   -- the route: "POST /v1/calls/{id}/cancel"
    call_id      text,
    hospital_id  text,
    status       integer NOT NULL,                -- the HTTP status answered
    reason       text NOT NULL DEFAULT '',        -- why it was refused
    address      text NOT NULL DEFAULT ''         -- the client's IP address
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);
CREATE INDEX audit_log_call ON audit_log (call_id) WHERE call_id IS NOT NULL;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION ems_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ems_append_only();

ALTER TABLE incident_events ADD COLUMN actor text;  -- NULL: the engine's own decision, or a call from the topic
ALTER TABLE capacity_reports ADD COLUMN actor text; -- NULL: a report straight from the topic
