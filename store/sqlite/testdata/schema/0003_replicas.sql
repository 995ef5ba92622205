-- Version 3: what several replicas share: listener leases, claimed schedule runs, saved rosters.

CREATE TABLE leases (
	key        TEXT    PRIMARY KEY,
	owner      TEXT    NOT NULL,
	expires_at INTEGER NOT NULL
);

CREATE TABLE schedule_runs (
	schedule_id INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
	slot        INTEGER NOT NULL,
	owner       TEXT    NOT NULL,
	claimed_at  INTEGER NOT NULL,
	PRIMARY KEY (schedule_id, slot)
);

CREATE TABLE rosters (
	meeting_key TEXT    PRIMARY KEY,
	entries     TEXT    NOT NULL,     -- JSON array
	saved_at    INTEGER NOT NULL
);
