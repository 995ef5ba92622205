-- Version 3: what several replicas share: listener leases (expiry by the database's clock),
-- claimed schedule runs, saved rosters.

CREATE TABLE leases (
	key        text        PRIMARY KEY,
	owner      text        NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE TABLE schedule_runs (
	schedule_id bigint      NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
	slot        timestamptz NOT NULL,
	owner       text        NOT NULL,
	claimed_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (schedule_id, slot)
);

CREATE TABLE rosters (
	meeting_key text        PRIMARY KEY,
	entries     jsonb       NOT NULL,
	saved_at    timestamptz NOT NULL DEFAULT now()
);
