-- Version 2: the full incident lifecycle. Calls gain the "acknowledged" state; units record
-- when they were flagged for not acknowledging a dispatch.

ALTER TABLE calls DROP CONSTRAINT calls_status_check;
ALTER TABLE calls ADD CONSTRAINT calls_status_check CHECK (status IN ('received', 'queued', 'assigned',
    'acknowledged', 'en_route', 'on_scene', 'transporting', 'at_hospital', 'closed', 'cancelled'));

ALTER TABLE units ADD COLUMN flagged_at timestamptz;  -- NULL unless silent after a dispatch
