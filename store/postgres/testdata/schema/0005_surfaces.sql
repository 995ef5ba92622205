-- Version 5: settings for waiting-room alerts, slide snapshots and attendance reports.

ALTER TABLE settings ADD COLUMN waiting boolean NOT NULL DEFAULT true;
ALTER TABLE settings ADD COLUMN snapshots boolean NOT NULL DEFAULT false;
ALTER TABLE settings ADD COLUMN report boolean NOT NULL DEFAULT false;
