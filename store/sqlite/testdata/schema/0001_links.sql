-- Version 1: links, per-channel settings, the audit log, small values.
-- Times are Unix microseconds (UTC). A channel is (platform, workspace, channel).

CREATE TABLE links (
	platform          TEXT    NOT NULL,
	workspace         TEXT    NOT NULL,
	channel           TEXT    NOT NULL,
	api_server        TEXT    NOT NULL,
	room              TEXT    NOT NULL,
	node              TEXT    NOT NULL,
	name              TEXT    NOT NULL,
	pin               BLOB,             -- AES-GCM sealed, bound to the channel; NULL = no PIN
	role              TEXT    NOT NULL,
	cloud             TEXT    NOT NULL,
	cloud_set_by_user INTEGER NOT NULL,
	created_by        TEXT    NOT NULL,
	created_at        INTEGER NOT NULL,
	PRIMARY KEY (platform, workspace, channel)
);
CREATE INDEX links_meeting ON links (api_server, room);

CREATE TABLE settings (
	platform      TEXT    NOT NULL,
	workspace     TEXT    NOT NULL,
	channel       TEXT    NOT NULL,
	joins         INTEGER NOT NULL,
	leaves        INTEGER NOT NULL,
	presentations INTEGER NOT NULL,
	chat          INTEGER NOT NULL,
	threaded      INTEGER NOT NULL,
	time_zone     TEXT    NOT NULL,
	PRIMARY KEY (platform, workspace, channel)
);

CREATE TABLE audit (
	id        INTEGER PRIMARY KEY,
	at        INTEGER NOT NULL,
	platform  TEXT    NOT NULL,
	workspace TEXT    NOT NULL,
	channel   TEXT    NOT NULL,
	user_id   TEXT    NOT NULL,
	user_name TEXT    NOT NULL,
	command   TEXT    NOT NULL,
	outcome   TEXT    NOT NULL,
	ok        INTEGER NOT NULL
);
CREATE INDEX audit_channel ON audit (platform, workspace, channel, at, id);

CREATE TABLE kv (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
