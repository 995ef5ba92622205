-- Version 6: attendance intervals per meeting occurrence.

CREATE TABLE attendance (
	meeting_key TEXT    NOT NULL,
	occurrence  TEXT    NOT NULL,
	uuid        TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	role        TEXT    NOT NULL,
	protocol    TEXT    NOT NULL,
	joined_at   INTEGER NOT NULL,
	left_at     INTEGER,
	PRIMARY KEY (meeting_key, occurrence, uuid, joined_at)
);
CREATE INDEX attendance_by_meeting ON attendance (meeting_key, joined_at);
