-- Version 8: two costs of the write path that pg_stat_statements put on top during a load test
-- at 5,000 calls/s (BENCHMARKS.md, "The write path").

-- The GiST index on the units' positions. Every status change of a unit that had moved (a
-- crew's "on scene" carries the scene's position) and every position flush wrote a new entry
-- in it: the update could not stay on its page (HOT), and a fleet of a few thousand rows
-- updated thousands of times a second filled the index with dead entries between two
-- autovacuum rounds. Nothing looks units up by position: the dispatcher keeps them in its H3
-- index in memory, the analysts' views join calls to districts, and a fleet is a few hundred
-- to a few thousand rows, which a scan reads faster than the index would find them. Without
-- it every update of a unit is HOT. The units upsert went from 17.9 to 10.1 µs a row.
DROP INDEX IF EXISTS units_geom;

-- An outbox row carries a group commit's messages, about 10 kB of JSON, stored uncompressed
-- (version 5) and so out of line: each row was five TOAST chunks written, indexed, then
-- deleted a fraction of a second later — 84 µs a row and a quarter of the write path's WAL.
-- lz4 compresses JSON about three to one for little CPU; the insert went to 22 µs a row.
-- A server built without lz4 keeps PostgreSQL's own compression.
ALTER TABLE outbox ALTER COLUMN value SET STORAGE EXTENDED;
DO $$
BEGIN
    ALTER TABLE outbox ALTER COLUMN value SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no lz4: the outbox keeps pglz';
END $$;
