-- Version 6: attendance: who was in each run of a meeting and when, one row per interval a
-- participant was in it. Rows are written on joins and leaves only (an idle meeting costs
-- nothing), keyed by the participant's uuid and join time, so a replica that takes over and sees
-- the same join again continues the interval instead of counting it twice.

CREATE TABLE attendance (
	meeting_key TEXT    NOT NULL,
	occurrence  TEXT    NOT NULL,
	uuid        TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	role        TEXT    NOT NULL,
	protocol    TEXT    NOT NULL,
-- only: sqlite for next 2 lines
	joined_at   INTEGER NOT NULL,
	left_at     INTEGER,
-- only: postgres for next 2 lines
	joined_at   timestamptz NOT NULL,
	left_at     timestamptz,
	PRIMARY KEY (meeting_key, occurrence, uuid, joined_at)
);

-- The last occurrence of a meeting, for `report` when none is running.
CREATE INDEX attendance_by_meeting ON attendance (meeting_key, joined_at);
