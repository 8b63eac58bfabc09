-- Version 5: a cheaper write path for a surge. Measured with BenchmarkRecordDecisions (a batch
-- of calls each received and assigned: the call, its assignment, two incident events, the
-- unit, the outbox row); the numbers are in BENCHMARKS.md.

-- Room on each page for HOT updates. A unit's row changes with every status change and every
-- position flush, a call's with every step of its life; with pages filled to the brim each
-- update writes a new tuple elsewhere and new entries in every index (the PostGIS GiST index
-- included). Free space on the page lets an update that does not touch an indexed column stay
-- there without touching any index.
ALTER TABLE units SET (fillfactor = 75);
ALTER TABLE calls SET (fillfactor = 85);

-- Calls are found by id, by time (calls_received_at) and by district (the views join each
-- call to the small districts table through its GiST index). Nothing searches the calls by
-- their own geometry, and keeping a GiST entry for every call cost a fifth of the write path.
-- An analyst who needs ad-hoc spatial search over years of calls can create it on a replica.
DROP INDEX calls_geom;

-- The foreign key from assignments to calls goes: it cost a row lookup per assignment. The
-- database no longer refuses an assignment whose call is missing; only the write path keeps
-- the two together, inserting a new call and its first assignment in one transaction
-- (sql.Tx.Apply).
ALTER TABLE assignments DROP CONSTRAINT assignments_call_id_fkey;

-- An outbox row holds a batch's messages for seconds; compressing it on the way in costs more
-- than the few kilobytes it would save.
ALTER TABLE outbox ALTER COLUMN value SET STORAGE EXTERNAL;
