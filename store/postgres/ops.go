package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

const linkColumns = `platform, workspace, channel, api_server, room, node, name, pin, role, cloud, cloud_set_by_user, created_by, created_at`

// PutLink creates or replaces the link of l.Channel, sealing its PIN.
func (d *DB) PutLink(ctx context.Context, l store.Link) error {
	pin, err := d.seal.Seal(l.Channel, l.PIN)
	if err != nil {
		return fmt.Errorf("put link of %s: %w", l.Channel, err)
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = time.Now()
	}
	_, err = d.pool.Exec(ctx, `INSERT INTO links (`+linkColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (platform, workspace, channel) DO UPDATE SET
			api_server = excluded.api_server, room = excluded.room, node = excluded.node,
			name = excluded.name, pin = excluded.pin, role = excluded.role, cloud = excluded.cloud,
			cloud_set_by_user = excluded.cloud_set_by_user, created_by = excluded.created_by,
			created_at = excluded.created_at`,
		l.Channel.Platform, l.Channel.Workspace, l.Channel.Channel, l.Meeting.APIServer, l.Meeting.Room,
		l.Node, l.Name, pin, l.Role, l.Cloud, l.CloudSetByUser, l.CreatedBy, l.CreatedAt)
	if err != nil {
		return fmt.Errorf("put link of %s: %w", l.Channel, err)
	}
	return nil
}

func (d *DB) scanLink(row pgx.Row) (store.Link, error) {
	var (
		l   store.Link
		pin []byte
	)
	err := row.Scan(&l.Channel.Platform, &l.Channel.Workspace, &l.Channel.Channel, &l.Meeting.APIServer,
		&l.Meeting.Room, &l.Node, &l.Name, &pin, &l.Role, &l.Cloud, &l.CloudSetByUser, &l.CreatedBy, &l.CreatedAt)
	if err != nil {
		return store.Link{}, err
	}
	l.CreatedAt = l.CreatedAt.UTC()
	if l.PIN, err = d.seal.Open(l.Channel, pin); err != nil {
		return store.Link{}, err
	}
	return l, nil
}

// GetLink returns the link of ch.
func (d *DB) GetLink(ctx context.Context, ch chat.ChannelRef) (store.Link, error) {
	row := d.pool.QueryRow(ctx, `SELECT `+linkColumns+` FROM links
		WHERE platform = $1 AND workspace = $2 AND channel = $3`, ch.Platform, ch.Workspace, ch.Channel)
	l, err := d.scanLink(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Link{}, fmt.Errorf("link of %s: %w", ch, store.ErrNotFound)
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("get link of %s: %w", ch, err)
	}
	return l, nil
}

// DeleteLink removes the link of ch.
func (d *DB) DeleteLink(ctx context.Context, ch chat.ChannelRef) error {
	tag, err := d.pool.Exec(ctx, `DELETE FROM links WHERE platform = $1 AND workspace = $2 AND channel = $3`,
		ch.Platform, ch.Workspace, ch.Channel)
	if err != nil {
		return fmt.Errorf("delete link of %s: %w", ch, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("link of %s: %w", ch, store.ErrNotFound)
	}
	return nil
}

func (d *DB) queryLinks(ctx context.Context, what, query string, args ...any) ([]store.Link, error) {
	rows, err := d.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var ls []store.Link
	for rows.Next() {
		l, err := d.scanLink(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		ls = append(ls, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ls, nil
}

// LinksByMeeting returns every link to m, ordered by channel.
func (d *DB) LinksByMeeting(ctx context.Context, m store.MeetingRef) ([]store.Link, error) {
	return d.queryLinks(ctx, "links to "+m.Key(), `SELECT `+linkColumns+` FROM links
		WHERE api_server = $1 AND room = $2 ORDER BY platform, workspace, channel`, m.APIServer, m.Room)
}

// AllLinks returns every link, ordered by meeting then channel.
func (d *DB) AllLinks(ctx context.Context) ([]store.Link, error) {
	return d.queryLinks(ctx, "all links", `SELECT `+linkColumns+` FROM links
		ORDER BY api_server, room, platform, workspace, channel`)
}

// GetSettings returns the settings of ch, or store.DefaultSettings.
func (d *DB) GetSettings(ctx context.Context, ch chat.ChannelRef) (store.ChannelSettings, error) {
	var s store.ChannelSettings
	err := d.pool.QueryRow(ctx, `SELECT joins, leaves, presentations, chat, threaded, time_zone
		FROM settings WHERE platform = $1 AND workspace = $2 AND channel = $3`,
		ch.Platform, ch.Workspace, ch.Channel).Scan(&s.Joins, &s.Leaves, &s.Presentations, &s.Chat, &s.Threaded, &s.TimeZone)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.DefaultSettings(), nil
	}
	if err != nil {
		return store.ChannelSettings{}, fmt.Errorf("get settings of %s: %w", ch, err)
	}
	return s, nil
}

// PutSettings replaces the settings of ch.
func (d *DB) PutSettings(ctx context.Context, ch chat.ChannelRef, s store.ChannelSettings) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO settings
		(platform, workspace, channel, joins, leaves, presentations, chat, threaded, time_zone)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (platform, workspace, channel) DO UPDATE SET
			joins = excluded.joins, leaves = excluded.leaves, presentations = excluded.presentations,
			chat = excluded.chat, threaded = excluded.threaded, time_zone = excluded.time_zone`,
		ch.Platform, ch.Workspace, ch.Channel, s.Joins, s.Leaves, s.Presentations, s.Chat, s.Threaded, s.TimeZone)
	if err != nil {
		return fmt.Errorf("put settings of %s: %w", ch, err)
	}
	return nil
}

const scheduleColumns = `id, platform, workspace, channel, spec, time_zone, command, created_by_id, created_by_name, rights, one_time, next_run, created_at`

// AddSchedule stores s with a new ID.
func (d *DB) AddSchedule(ctx context.Context, s store.Schedule) (store.Schedule, error) {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now()
	}
	err := d.pool.QueryRow(ctx, `INSERT INTO schedules
		(platform, workspace, channel, spec, time_zone, command, created_by_id, created_by_name, rights, one_time, next_run, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		s.Channel.Platform, s.Channel.Workspace, s.Channel.Channel, s.Spec, s.TimeZone, s.Command,
		s.CreatedBy.ID, s.CreatedBy.Name, int(s.Rights), s.OneTime, nullTime(s.NextRun), s.CreatedAt,
	).Scan(&s.ID)
	if err != nil {
		return store.Schedule{}, fmt.Errorf("add schedule in %s: %w", s.Channel, err)
	}
	s.NextRun, s.CreatedAt = asStored(s.NextRun), asStored(s.CreatedAt)
	return s, nil
}

// DeleteSchedule removes schedule id of channel ch.
func (d *DB) DeleteSchedule(ctx context.Context, ch chat.ChannelRef, id int64) error {
	tag, err := d.pool.Exec(ctx, `DELETE FROM schedules WHERE id = $1 AND platform = $2 AND workspace = $3 AND channel = $4`,
		id, ch.Platform, ch.Workspace, ch.Channel)
	if err != nil {
		return fmt.Errorf("delete schedule %d of %s: %w", id, ch, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("schedule %d of %s: %w", id, ch, store.ErrNotFound)
	}
	return nil
}

func (d *DB) querySchedules(ctx context.Context, what, query string, args ...any) ([]store.Schedule, error) {
	rows, err := d.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var ss []store.Schedule
	for rows.Next() {
		var (
			s      store.Schedule
			rights int
			next   *time.Time
		)
		if err := rows.Scan(&s.ID, &s.Channel.Platform, &s.Channel.Workspace, &s.Channel.Channel, &s.Spec,
			&s.TimeZone, &s.Command, &s.CreatedBy.ID, &s.CreatedBy.Name, &rights, &s.OneTime, &next, &s.CreatedAt); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		s.Rights = chat.Rights(rights)
		s.NextRun, s.CreatedAt = fromNull(next), s.CreatedAt.UTC()
		ss = append(ss, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ss, nil
}

// ListSchedules returns the schedules of ch, ordered by ID.
func (d *DB) ListSchedules(ctx context.Context, ch chat.ChannelRef) ([]store.Schedule, error) {
	return d.querySchedules(ctx, "schedules of "+ch.String(), `SELECT `+scheduleColumns+` FROM schedules
		WHERE platform = $1 AND workspace = $2 AND channel = $3 ORDER BY id`, ch.Platform, ch.Workspace, ch.Channel)
}

// AllSchedules returns every schedule, ordered by ID.
func (d *DB) AllSchedules(ctx context.Context) ([]store.Schedule, error) {
	return d.querySchedules(ctx, "all schedules", `SELECT `+scheduleColumns+` FROM schedules ORDER BY id`)
}

// SetNextRun records when schedule id runs next.
func (d *DB) SetNextRun(ctx context.Context, id int64, t time.Time) error {
	tag, err := d.pool.Exec(ctx, `UPDATE schedules SET next_run = $1 WHERE id = $2`, nullTime(t), id)
	if err != nil {
		return fmt.Errorf("set next run of schedule %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("schedule %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// ClaimRun claims the run of schedule id at slot for owner, once per (id, slot) across replicas.
func (d *DB) ClaimRun(ctx context.Context, id int64, slot time.Time, owner string) (bool, error) {
	tag, err := d.pool.Exec(ctx, `INSERT INTO schedule_runs (schedule_id, slot, owner)
		SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM schedules WHERE id = $1)
		ON CONFLICT (schedule_id, slot) DO NOTHING`, id, slot, owner)
	if isFKViolation(err) { // deleted meanwhile
		return false, fmt.Errorf("claim run of schedule %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("claim run of schedule %d: %w", id, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	var exists bool
	if err := d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schedules WHERE id = $1)`, id).Scan(&exists); err != nil {
		return false, fmt.Errorf("claim run of schedule %d: %w", id, err)
	}
	if !exists {
		return false, fmt.Errorf("claim run of schedule %d: %w", id, store.ErrNotFound)
	}
	return false, nil
}

// AppendAudit adds e to the log.
func (d *DB) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	_, err := d.pool.Exec(ctx, `INSERT INTO audit
		(at, platform, workspace, channel, user_id, user_name, command, outcome, ok)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.Time, e.Channel.Platform, e.Channel.Workspace, e.Channel.Channel, e.User.ID, e.User.Name,
		e.Command, e.Outcome, e.OK)
	if err != nil {
		return fmt.Errorf("append audit of %s: %w", e.Channel, err)
	}
	return nil
}

// RecentAudit returns the latest n entries of ch, newest first.
func (d *DB) RecentAudit(ctx context.Context, ch chat.ChannelRef, n int) ([]store.AuditEntry, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := d.pool.Query(ctx, `SELECT at, user_id, user_name, command, outcome, ok FROM audit
		WHERE platform = $1 AND workspace = $2 AND channel = $3 ORDER BY at DESC, id DESC LIMIT $4`,
		ch.Platform, ch.Workspace, ch.Channel, n)
	if err != nil {
		return nil, fmt.Errorf("recent audit of %s: %w", ch, err)
	}
	defer rows.Close()
	var es []store.AuditEntry
	for rows.Next() {
		e := store.AuditEntry{Channel: ch}
		if err := rows.Scan(&e.Time, &e.User.ID, &e.User.Name, &e.Command, &e.Outcome, &e.OK); err != nil {
			return nil, fmt.Errorf("recent audit of %s: %w", ch, err)
		}
		e.Time = e.Time.UTC()
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent audit of %s: %w", ch, err)
	}
	return es, nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < time.Microsecond {
		return fmt.Errorf("lease ttl %s: want at least 1µs", ttl)
	}
	return nil
}

// ClaimLease takes key for owner for ttl if it is free, lapsed or already owner's; expiry is
// judged by the database's clock.
func (d *DB) ClaimLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	var got string
	err := d.pool.QueryRow(ctx, `INSERT INTO leases (key, owner, expires_at)
		VALUES ($1, $2, now() + $3::bigint * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
		WHERE leases.owner = excluded.owner OR leases.expires_at <= now()
		RETURNING owner`, key, owner, ttl.Microseconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim lease %s: %w", key, err)
	}
	return got == owner, nil
}

// RenewLease extends owner's lease on key by ttl from the database's now; false means it was lost.
func (d *DB) RenewLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	tag, err := d.pool.Exec(ctx, `UPDATE leases SET expires_at = now() + $3::bigint * interval '1 microsecond'
		WHERE key = $1 AND owner = $2`, key, owner, ttl.Microseconds())
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", key, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseLease gives up owner's lease on key.
func (d *DB) ReleaseLease(ctx context.Context, key, owner string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM leases WHERE key = $1 AND owner = $2`, key, owner); err != nil {
		return fmt.Errorf("release lease %s: %w", key, err)
	}
	return nil
}

// LeaseHolder returns who holds key and until when, or "" when nobody does.
func (d *DB) LeaseHolder(ctx context.Context, key string) (string, time.Time, error) {
	var owner string
	var until time.Time
	err := d.pool.QueryRow(ctx, `SELECT owner, expires_at FROM leases WHERE key = $1 AND expires_at > now()`,
		key).Scan(&owner, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("lease holder of %s: %w", key, err)
	}
	return owner, until.UTC(), nil
}

// SaveRoster replaces the saved roster of meetingKey.
func (d *DB) SaveRoster(ctx context.Context, meetingKey string, entries []store.RosterEntry) error {
	if entries == nil {
		entries = []store.RosterEntry{} // saved empty, unlike never saved
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return fmt.Errorf("save roster of %s: %w", meetingKey, err)
	}
	_, err = d.pool.Exec(ctx, `INSERT INTO rosters (meeting_key, entries, saved_at) VALUES ($1, $2, now())
		ON CONFLICT (meeting_key) DO UPDATE SET entries = excluded.entries, saved_at = excluded.saved_at`,
		meetingKey, string(b))
	if err != nil {
		return fmt.Errorf("save roster of %s: %w", meetingKey, err)
	}
	return nil
}

// LoadRoster returns the saved roster of meetingKey, nil when none.
func (d *DB) LoadRoster(ctx context.Context, meetingKey string) ([]store.RosterEntry, error) {
	var b []byte
	err := d.pool.QueryRow(ctx, `SELECT entries::text FROM rosters WHERE meeting_key = $1`, meetingKey).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load roster of %s: %w", meetingKey, err)
	}
	es := []store.RosterEntry{}
	if err := json.Unmarshal(b, &es); err != nil {
		return nil, fmt.Errorf("load roster of %s: %w", meetingKey, err)
	}
	if es == nil {
		es = []store.RosterEntry{}
	}
	return es, nil
}

// GetValue returns the value of key.
func (d *DB) GetValue(ctx context.Context, key string) (string, error) {
	var v string
	err := d.pool.QueryRow(ctx, `SELECT value FROM kv WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("value %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("get value %s: %w", key, err)
	}
	return v, nil
}

// PutValue sets key to value.
func (d *DB) PutValue(ctx context.Context, key, value string) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO kv (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("put value %s: %w", key, err)
	}
	return nil
}
