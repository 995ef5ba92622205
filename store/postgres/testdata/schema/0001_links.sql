-- Version 1: links, per-channel settings, the audit log, small values.
-- A channel is (platform, workspace, channel).

CREATE TABLE links (
	platform          text        NOT NULL,
	workspace         text        NOT NULL,
	channel           text        NOT NULL,
	api_server        text        NOT NULL,
	room              text        NOT NULL,
	node              text        NOT NULL,
	name              text        NOT NULL,
	pin               bytea,                -- AES-GCM sealed, bound to the channel; NULL = no PIN
	role              text        NOT NULL,
	cloud             text        NOT NULL,
	cloud_set_by_user boolean     NOT NULL,
	created_by        text        NOT NULL,
	created_at        timestamptz NOT NULL,
	PRIMARY KEY (platform, workspace, channel)
);
CREATE INDEX links_meeting ON links (api_server, room);

CREATE TABLE settings (
	platform      text    NOT NULL,
	workspace     text    NOT NULL,
	channel       text    NOT NULL,
	joins         boolean NOT NULL,
	leaves        boolean NOT NULL,
	presentations boolean NOT NULL,
	chat          boolean NOT NULL,
	threaded      boolean NOT NULL,
	time_zone     text    NOT NULL,
	PRIMARY KEY (platform, workspace, channel)
);

CREATE TABLE audit (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at        timestamptz NOT NULL,
	platform  text        NOT NULL,
	workspace text        NOT NULL,
	channel   text        NOT NULL,
	user_id   text        NOT NULL,
	user_name text        NOT NULL,
	command   text        NOT NULL,
	outcome   text        NOT NULL,
	ok        boolean     NOT NULL
);
CREATE INDEX audit_channel ON audit (platform, workspace, channel, at DESC, id DESC);

CREATE TABLE kv (
	key   text PRIMARY KEY,
	value text NOT NULL
);
