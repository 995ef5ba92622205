-- Version 1: links, per-channel settings, the audit log, small values.
-- A channel is (platform, workspace, channel). SQLite keeps times as Unix microseconds (UTC) and
-- booleans as 0 or 1; lines marked "only" are where the two databases really differ.

CREATE TABLE links (
	platform          TEXT    NOT NULL,
	workspace         TEXT    NOT NULL,
	channel           TEXT    NOT NULL,
	api_server        TEXT    NOT NULL,
	room              TEXT    NOT NULL,
	node              TEXT    NOT NULL,
	name              TEXT    NOT NULL,
-- only: sqlite
	pin               BLOB,             -- AES-GCM sealed, bound to the channel; NULL = no PIN
-- only: postgres
	pin               bytea,            -- AES-GCM sealed, bound to the channel; NULL = no PIN
	role              TEXT    NOT NULL,
	cloud             TEXT    NOT NULL,
-- only: sqlite for next 3 lines
	cloud_set_by_user INTEGER NOT NULL,
	created_by        TEXT    NOT NULL,
	created_at        INTEGER NOT NULL,
-- only: postgres for next 3 lines
	cloud_set_by_user boolean     NOT NULL,
	created_by        text        NOT NULL,
	created_at        timestamptz NOT NULL,
	PRIMARY KEY (platform, workspace, channel)
);
CREATE INDEX links_meeting ON links (api_server, room);

CREATE TABLE settings (
	platform      TEXT    NOT NULL,
	workspace     TEXT    NOT NULL,
	channel       TEXT    NOT NULL,
-- only: sqlite for next 5 lines
	joins         INTEGER NOT NULL,
	leaves        INTEGER NOT NULL,
	presentations INTEGER NOT NULL,
	chat          INTEGER NOT NULL,
	threaded      INTEGER NOT NULL,
-- only: postgres for next 5 lines
	joins         boolean NOT NULL,
	leaves        boolean NOT NULL,
	presentations boolean NOT NULL,
	chat          boolean NOT NULL,
	threaded      boolean NOT NULL,
	time_zone     TEXT    NOT NULL,
	PRIMARY KEY (platform, workspace, channel)
);

CREATE TABLE audit (
-- only: sqlite for next 2 lines
	id        INTEGER PRIMARY KEY,
	at        INTEGER NOT NULL,
-- only: postgres for next 2 lines
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at        timestamptz NOT NULL,
	platform  TEXT    NOT NULL,
	workspace TEXT    NOT NULL,
	channel   TEXT    NOT NULL,
	user_id   TEXT    NOT NULL,
	user_name TEXT    NOT NULL,
	command   TEXT    NOT NULL,
	outcome   TEXT    NOT NULL,
-- only: sqlite
	ok        INTEGER NOT NULL
-- only: postgres
	ok        boolean NOT NULL
);
-- only: sqlite
CREATE INDEX audit_channel ON audit (platform, workspace, channel, at, id);
-- only: postgres
CREATE INDEX audit_channel ON audit (platform, workspace, channel, at DESC, id DESC);

CREATE TABLE kv (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
