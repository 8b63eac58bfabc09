-- Version 9: one active service per city, durable consumer positions, refusals kept.

-- The leadership lease. One row per service name (the consumer group, "ems120"): who holds it,
-- the HTTP address it serves, and the epoch — a fencing token raised by every takeover.
-- Times are the database's clock, so the processes' clocks never have to agree.
CREATE TABLE leases (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    http        text NOT NULL DEFAULT '',
    epoch       bigint NOT NULL,
    expires_at  timestamptz NOT NULL,
    renewed_at  timestamptz NOT NULL,
    taken_at    timestamptz NOT NULL
);

-- ems_fence runs first in every write transaction of the active service: it takes the lease's
-- advisory lock in shared mode (held to the end of the transaction) and fails the transaction
-- unless the lease still carries this epoch. A takeover takes the same lock exclusively before
-- it raises the epoch, so it waits for the writes in flight under the old epoch, and every
-- write after it fails: an old leader that wakes up after a pause cannot write. An advisory
-- lock lives in the lock manager's memory: the fence writes nothing, where a share lock on the
-- lease row would mark the row (and make a multixact of concurrent writers) at every commit.
CREATE FUNCTION ems_lease_key(lease text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT hashtext('ems120 lease ' || lease)
$$;

CREATE FUNCTION ems_fence(lease text, want bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    have bigint;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1162695474, ems_lease_key(lease));
    SELECT epoch INTO have FROM leases WHERE name = lease;
    IF have IS DISTINCT FROM want THEN
        RAISE EXCEPTION 'fenced: lease % is at epoch %, this writer holds epoch %', lease, have, want
            USING ERRCODE = 'EMS01';
    END IF;
END $$;

-- Where the service's consumers are: the next offset to read on each partition. Written only
-- after the batches before it are recorded, and fenced like every other write, so a new
-- leader starts where the old one's durable work ended.
CREATE TABLE consumer_offsets (
    grp          text NOT NULL,
    topic        text NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (grp, topic, partition)
);

-- Every refused message, once: the dead-letter topic gets it from the outbox in the same
-- transaction as the first refusal, and a message refused again (a replay) is known here.
CREATE TABLE dead_letters (
    src_topic      text NOT NULL,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL,
    at             timestamptz NOT NULL,
    reason         text NOT NULL,
    key            bytea,
    value          bytea NOT NULL,
    PRIMARY KEY (src_topic, src_partition, src_offset)
);
