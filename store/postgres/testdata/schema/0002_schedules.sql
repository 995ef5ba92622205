-- Version 2: schedules. An identity column never gives a deleted schedule's id to another.

CREATE TABLE schedules (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	platform        text        NOT NULL,
	workspace       text        NOT NULL,
	channel         text        NOT NULL,
	spec            text        NOT NULL,
	time_zone       text        NOT NULL,
	command         text        NOT NULL,
	created_by_id   text        NOT NULL,
	created_by_name text        NOT NULL,
	rights          integer     NOT NULL,
	one_time        boolean     NOT NULL,
	next_run        timestamptz,            -- NULL = unknown or done
	created_at      timestamptz NOT NULL
);
CREATE INDEX schedules_channel ON schedules (platform, workspace, channel, id);
