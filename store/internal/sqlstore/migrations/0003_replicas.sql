-- Version 3: what several replicas share: listener leases (expiry by the database's clock),
-- claimed schedule runs, saved rosters.

CREATE TABLE leases (
	key        TEXT    PRIMARY KEY,
	owner      TEXT    NOT NULL,
-- only: sqlite
	expires_at INTEGER NOT NULL
-- only: postgres
	expires_at timestamptz NOT NULL
);

CREATE TABLE schedule_runs (
-- only: sqlite for next 4 lines
	schedule_id INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
	slot        INTEGER NOT NULL,
	owner       TEXT    NOT NULL,
	claimed_at  INTEGER NOT NULL,
-- only: postgres for next 4 lines
	schedule_id bigint      NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
	slot        timestamptz NOT NULL,
	owner       text        NOT NULL,
	claimed_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (schedule_id, slot)
);

CREATE TABLE rosters (
	meeting_key TEXT    PRIMARY KEY,
-- only: sqlite for next 2 lines
	entries     TEXT    NOT NULL,     -- JSON array
	saved_at    INTEGER NOT NULL
-- only: postgres for next 2 lines
	entries     jsonb       NOT NULL,
	saved_at    timestamptz NOT NULL DEFAULT now()
);
