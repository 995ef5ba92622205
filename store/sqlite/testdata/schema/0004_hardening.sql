-- Version 4: paused links, replay nonces, the bot's own participants, and indexes for pruning.

ALTER TABLE links ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN paused_reason TEXT NOT NULL DEFAULT '';

CREATE TABLE nonces (
	key        TEXT    PRIMARY KEY,
	expires_at INTEGER NOT NULL
);
CREATE INDEX nonces_expiry ON nonces (expires_at);

CREATE TABLE bot_participants (
	meeting_key TEXT    NOT NULL,
	uuid        TEXT    NOT NULL,
	added_at    INTEGER NOT NULL,
	PRIMARY KEY (meeting_key, uuid)
);

CREATE INDEX audit_at ON audit (at);
CREATE INDEX schedule_runs_claimed ON schedule_runs (claimed_at);
