-- Version 6: one index fewer on each append-only table of the write path. Every call writes an
-- assignment and two incident events in the group commit; each index is one more tuple to
-- insert per row. Nothing looks either table up by its serial id alone: assignments are read
-- by (call_id, seq), events by (call_id, id). So those become the primary keys, and the
-- separate indexes on the serial ids go. The ids stay, as the order of writing.
ALTER TABLE assignments DROP CONSTRAINT assignments_pkey;
ALTER TABLE assignments DROP CONSTRAINT assignments_call_id_seq_key;
ALTER TABLE assignments ADD CONSTRAINT assignments_pkey PRIMARY KEY (call_id, seq);

ALTER TABLE incident_events DROP CONSTRAINT incident_events_pkey;
DROP INDEX incident_events_call;
ALTER TABLE incident_events ADD CONSTRAINT incident_events_pkey PRIMARY KEY (call_id, id);
