-- Version 4: paused links, replay nonces (expiry by the database's clock), the bot's own
-- participants, and indexes for pruning.

ALTER TABLE links ADD COLUMN paused boolean NOT NULL DEFAULT false;
ALTER TABLE links ADD COLUMN paused_reason text NOT NULL DEFAULT '';

CREATE TABLE nonces (
	key        text        PRIMARY KEY,
	expires_at timestamptz NOT NULL
);
CREATE INDEX nonces_expiry ON nonces (expires_at);

CREATE TABLE bot_participants (
	meeting_key text        NOT NULL,
	uuid        text        NOT NULL,
	added_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (meeting_key, uuid)
);

CREATE INDEX audit_at ON audit (at);
CREATE INDEX schedule_runs_claimed ON schedule_runs (claimed_at);
