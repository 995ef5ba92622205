-- Version 5: the channel settings of the new surfaces: waiting-room alerts (on for existing
-- channels, as for new ones), slide snapshots and attendance reports (off: slides can be
-- confidential and attendance is personal data).

-- only: sqlite for next 3 lines
ALTER TABLE settings ADD COLUMN waiting INTEGER NOT NULL DEFAULT 1;
ALTER TABLE settings ADD COLUMN snapshots INTEGER NOT NULL DEFAULT 0;
ALTER TABLE settings ADD COLUMN report INTEGER NOT NULL DEFAULT 0;
-- only: postgres for next 3 lines
ALTER TABLE settings ADD COLUMN waiting boolean NOT NULL DEFAULT true;
ALTER TABLE settings ADD COLUMN snapshots boolean NOT NULL DEFAULT false;
ALTER TABLE settings ADD COLUMN report boolean NOT NULL DEFAULT false;
