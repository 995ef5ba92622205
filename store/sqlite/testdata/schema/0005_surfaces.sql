-- Version 5: settings for waiting-room alerts, slide snapshots and attendance reports.

ALTER TABLE settings ADD COLUMN waiting INTEGER NOT NULL DEFAULT 1;
ALTER TABLE settings ADD COLUMN snapshots INTEGER NOT NULL DEFAULT 0;
ALTER TABLE settings ADD COLUMN report INTEGER NOT NULL DEFAULT 0;
