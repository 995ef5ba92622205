-- Version 2: schedules. AUTOINCREMENT so a deleted schedule's id is never given to another.

CREATE TABLE schedules (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	platform        TEXT    NOT NULL,
	workspace       TEXT    NOT NULL,
	channel         TEXT    NOT NULL,
	spec            TEXT    NOT NULL,
	time_zone       TEXT    NOT NULL,
	command         TEXT    NOT NULL,
	created_by_id   TEXT    NOT NULL,
	created_by_name TEXT    NOT NULL,
	rights          INTEGER NOT NULL,
	one_time        INTEGER NOT NULL,
	next_run        INTEGER,          -- NULL = unknown or done
	created_at      INTEGER NOT NULL
);
CREATE INDEX schedules_channel ON schedules (platform, workspace, channel, id);
