-- Version 2: schedules. AUTOINCREMENT (SQLite) and an identity column (PostgreSQL) never give a
-- deleted schedule's id to another.

CREATE TABLE schedules (
-- only: sqlite
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
-- only: postgres
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	platform        TEXT    NOT NULL,
	workspace       TEXT    NOT NULL,
	channel         TEXT    NOT NULL,
	spec            TEXT    NOT NULL,
	time_zone       TEXT    NOT NULL,
	command         TEXT    NOT NULL,
	created_by_id   TEXT    NOT NULL,
	created_by_name TEXT    NOT NULL,
	rights          INTEGER NOT NULL,
-- only: sqlite for next 3 lines
	one_time        INTEGER NOT NULL,
	next_run        INTEGER,          -- NULL = unknown or done
	created_at      INTEGER NOT NULL
-- only: postgres for next 3 lines
	one_time        boolean     NOT NULL,
	next_run        timestamptz,            -- NULL = unknown or done
	created_at      timestamptz NOT NULL
);
CREATE INDEX schedules_channel ON schedules (platform, workspace, channel, id);
