package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"time"

	"github.com/meetbot/meetbot/store"
)

// RecordJoin stores iv as an open interval; the same uuid and join time again updates only the
// name, role and protocol, so a listener that takes over and sees the join again counts nothing twice.
func (d *DB) RecordJoin(ctx context.Context, meetingKey, occurrence string, iv store.AttendanceInterval) error {
	if iv.Joined.IsZero() {
		return errors.New("record join: no join time")
	}
	_, err := d.exec(ctx, `INSERT INTO attendance (meeting_key, occurrence, uuid, name, role, protocol, joined_at, left_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
		ON CONFLICT (meeting_key, occurrence, uuid, joined_at) DO UPDATE
		SET name = excluded.name, role = excluded.role, protocol = excluded.protocol`,
		meetingKey, occurrence, iv.UUID, iv.Name, iv.Role, iv.Protocol, d.dialect.Time(iv.Joined))
	if err != nil {
		return d.errorf("record join of %s in %s: %w", iv.UUID, meetingKey, err)
	}
	return nil
}

// RecordLeave closes uuid's open intervals in occurrence at left.
func (d *DB) RecordLeave(ctx context.Context, meetingKey, occurrence, uuid string, left time.Time) error {
	_, err := d.exec(ctx, `UPDATE attendance SET left_at = $4
		WHERE meeting_key = $1 AND occurrence = $2 AND uuid = $3 AND left_at IS NULL`,
		meetingKey, occurrence, uuid, d.dialect.Time(left))
	if err != nil {
		return d.errorf("record leave of %s in %s: %w", uuid, meetingKey, err)
	}
	return nil
}

// CloseAttendance closes every open interval of occurrence at left.
func (d *DB) CloseAttendance(ctx context.Context, meetingKey, occurrence string, left time.Time) (int64, error) {
	n, err := d.affected(ctx, `UPDATE attendance SET left_at = $3
		WHERE meeting_key = $1 AND occurrence = $2 AND left_at IS NULL`,
		meetingKey, occurrence, d.dialect.Time(left))
	if err != nil {
		return 0, d.errorf("close attendance of %s: %w", meetingKey, err)
	}
	return n, nil
}

// AttendanceOf returns occurrence's intervals by join time, then uuid.
func (d *DB) AttendanceOf(ctx context.Context, meetingKey, occurrence string) ([]store.AttendanceInterval, error) {
	rows, err := d.query(ctx, `SELECT uuid, name, role, protocol, joined_at, left_at FROM attendance
		WHERE meeting_key = $1 AND occurrence = $2 ORDER BY joined_at, uuid`, meetingKey, occurrence)
	if err != nil {
		return nil, d.errorf("attendance of %s: %w", meetingKey, err)
	}
	defer rows.Close()
	ivs := []store.AttendanceInterval{}
	for rows.Next() {
		var iv store.AttendanceInterval
		if err := rows.Scan(&iv.UUID, &iv.Name, &iv.Role, &iv.Protocol, dbTime{&iv.Joined}, dbTime{&iv.Left}); err != nil {
			return nil, d.errorf("attendance of %s: %w", meetingKey, err)
		}
		ivs = append(ivs, iv)
	}
	if err := rows.Err(); err != nil {
		return nil, d.errorf("attendance of %s: %w", meetingKey, err)
	}
	return ivs, nil
}

// LastOccurrence returns the occurrence of meetingKey with the latest join, "" when none.
func (d *DB) LastOccurrence(ctx context.Context, meetingKey string) (string, error) {
	var occ string
	err := d.queryRow(ctx, `SELECT occurrence FROM attendance WHERE meeting_key = $1
		ORDER BY joined_at DESC, occurrence DESC LIMIT 1`, meetingKey).Scan(&occ)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", d.errorf("last occurrence of %s: %w", meetingKey, err)
	}
	return occ, nil
}
