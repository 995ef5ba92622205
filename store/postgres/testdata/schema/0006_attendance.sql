-- Version 6: attendance intervals per meeting occurrence.

CREATE TABLE attendance (
	meeting_key text        NOT NULL,
	occurrence  text        NOT NULL,
	uuid        text        NOT NULL,
	name        text        NOT NULL,
	role        text        NOT NULL,
	protocol    text        NOT NULL,
	joined_at   timestamptz NOT NULL,
	left_at     timestamptz,
	PRIMARY KEY (meeting_key, occurrence, uuid, joined_at)
);
CREATE INDEX attendance_by_meeting ON attendance (meeting_key, joined_at);
