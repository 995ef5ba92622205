package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

const linkColumns = `platform, workspace, channel, api_server, room, node, name, pin, role, cloud, cloud_set_by_user, created_by, created_at, paused, paused_reason`

// PutLink creates or replaces the link of l.Channel, sealing its PIN.
func (d *DB) PutLink(ctx context.Context, l store.Link) error {
	pin, err := d.seal.Seal(l.Channel, l.PIN)
	if err != nil {
		return errorf("put link of %s: %w", l.Channel, err)
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = d.now()
	}
	_, err = d.exec(ctx, `INSERT INTO links (`+linkColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '')
		ON CONFLICT (platform, workspace, channel) DO UPDATE SET
			api_server = excluded.api_server, room = excluded.room, node = excluded.node,
			name = excluded.name, pin = excluded.pin, role = excluded.role, cloud = excluded.cloud,
			cloud_set_by_user = excluded.cloud_set_by_user, created_by = excluded.created_by,
			created_at = excluded.created_at, paused = 0, paused_reason = ''`,
		l.Channel.Platform, l.Channel.Workspace, l.Channel.Channel, l.Meeting.APIServer, l.Meeting.Room,
		l.Node, l.Name, pin, l.Role, l.Cloud, b2i(l.CloudSetByUser), l.CreatedBy, l.CreatedAt.UnixMicro())
	if err != nil {
		return errorf("put link of %s: %w", l.Channel, err)
	}
	return nil
}

func (d *DB) scanLink(row scanner) (store.Link, error) {
	var (
		l       store.Link
		pin     []byte
		byUser  int
		paused  int
		created sql.NullInt64
	)
	err := row.Scan(&l.Channel.Platform, &l.Channel.Workspace, &l.Channel.Channel, &l.Meeting.APIServer,
		&l.Meeting.Room, &l.Node, &l.Name, &pin, &l.Role, &l.Cloud, &byUser, &l.CreatedBy, &created,
		&paused, &l.PausedReason)
	if err != nil {
		return store.Link{}, err
	}
	l.CloudSetByUser, l.Paused = byUser != 0, paused != 0
	l.CreatedAt = fromMicros(created)
	if l.PIN, err = d.seal.Open(l.Channel, pin); err != nil {
		return l, err // l.Channel names the unreadable link
	}
	return l, nil
}

// GetLink returns the link of ch.
func (d *DB) GetLink(ctx context.Context, ch chat.ChannelRef) (store.Link, error) {
	row := d.queryRow(ctx, `SELECT `+linkColumns+` FROM links
		WHERE platform = ? AND workspace = ? AND channel = ?`, ch.Platform, ch.Workspace, ch.Channel)
	l, err := d.scanLink(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Link{}, errorf("link of %s: %w", ch, store.ErrNotFound)
	}
	if err != nil {
		return store.Link{}, errorf("get link of %s: %w", ch, err)
	}
	return l, nil
}

// DeleteLink removes the link of ch.
func (d *DB) DeleteLink(ctx context.Context, ch chat.ChannelRef) error {
	res, err := d.exec(ctx, `DELETE FROM links WHERE platform = ? AND workspace = ? AND channel = ?`,
		ch.Platform, ch.Workspace, ch.Channel)
	if err != nil {
		return errorf("delete link of %s: %w", ch, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return errorf("delete link of %s: %w", ch, err)
	} else if n == 0 {
		return errorf("link of %s: %w", ch, store.ErrNotFound)
	}
	return nil
}

func (d *DB) queryLinks(ctx context.Context, what, query string, args ...any) ([]store.Link, error) {
	rows, err := d.query(ctx, query, args...)
	if err != nil {
		return nil, errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var ls []store.Link
	var unreadable []chat.ChannelRef
	for rows.Next() {
		l, err := d.scanLink(rows)
		if errors.Is(err, store.ErrWrongKey) {
			unreadable = append(unreadable, l.Channel)
			continue
		}
		if err != nil {
			return nil, errorf("%s: %w", what, err)
		}
		ls = append(ls, l)
	}
	if err := rows.Err(); err != nil {
		return nil, errorf("%s: %w", what, err)
	}
	if unreadable != nil {
		return ls, &store.UnreadableLinksError{Channels: unreadable}
	}
	return ls, nil
}

// LinksByMeeting returns every link to m, ordered by channel.
func (d *DB) LinksByMeeting(ctx context.Context, m store.MeetingRef) ([]store.Link, error) {
	return d.queryLinks(ctx, "links to "+m.Key(), `SELECT `+linkColumns+` FROM links
		WHERE api_server = ? AND room = ? ORDER BY platform, workspace, channel`, m.APIServer, m.Room)
}

// AllLinks returns every link, ordered by meeting then channel.
func (d *DB) AllLinks(ctx context.Context) ([]store.Link, error) {
	return d.queryLinks(ctx, "all links", `SELECT `+linkColumns+` FROM links
		ORDER BY api_server, room, platform, workspace, channel`)
}

// GetSettings returns the settings of ch, or store.DefaultSettings.
func (d *DB) GetSettings(ctx context.Context, ch chat.ChannelRef) (store.ChannelSettings, error) {
	var s store.ChannelSettings
	var joins, leaves, pres, chatOn, threaded int
	err := d.queryRow(ctx, `SELECT joins, leaves, presentations, chat, threaded, time_zone
		FROM settings WHERE platform = ? AND workspace = ? AND channel = ?`,
		ch.Platform, ch.Workspace, ch.Channel).Scan(&joins, &leaves, &pres, &chatOn, &threaded, &s.TimeZone)
	if errors.Is(err, sql.ErrNoRows) {
		return store.DefaultSettings(), nil
	}
	if err != nil {
		return store.ChannelSettings{}, errorf("get settings of %s: %w", ch, err)
	}
	s.Joins, s.Leaves, s.Presentations, s.Chat, s.Threaded = joins != 0, leaves != 0, pres != 0, chatOn != 0, threaded != 0
	return s, nil
}

// PutSettings replaces the settings of ch.
func (d *DB) PutSettings(ctx context.Context, ch chat.ChannelRef, s store.ChannelSettings) error {
	_, err := d.exec(ctx, `INSERT INTO settings
		(platform, workspace, channel, joins, leaves, presentations, chat, threaded, time_zone)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (platform, workspace, channel) DO UPDATE SET
			joins = excluded.joins, leaves = excluded.leaves, presentations = excluded.presentations,
			chat = excluded.chat, threaded = excluded.threaded, time_zone = excluded.time_zone`,
		ch.Platform, ch.Workspace, ch.Channel, b2i(s.Joins), b2i(s.Leaves), b2i(s.Presentations),
		b2i(s.Chat), b2i(s.Threaded), s.TimeZone)
	if err != nil {
		return errorf("put settings of %s: %w", ch, err)
	}
	return nil
}

const scheduleColumns = `id, platform, workspace, channel, spec, time_zone, command, created_by_id, created_by_name, rights, one_time, next_run, created_at`

// AddSchedule stores s with a new ID.
func (d *DB) AddSchedule(ctx context.Context, s store.Schedule) (store.Schedule, error) {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = d.now()
	}
	err := d.queryRow(ctx, `INSERT INTO schedules
		(platform, workspace, channel, spec, time_zone, command, created_by_id, created_by_name, rights, one_time, next_run, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		s.Channel.Platform, s.Channel.Workspace, s.Channel.Channel, s.Spec, s.TimeZone, s.Command,
		s.CreatedBy.ID, s.CreatedBy.Name, int(s.Rights), b2i(s.OneTime), micros(s.NextRun), s.CreatedAt.UnixMicro(),
	).Scan(&s.ID)
	if err != nil {
		return store.Schedule{}, errorf("add schedule in %s: %w", s.Channel, err)
	}
	s.NextRun, s.CreatedAt = asStored(s.NextRun), asStored(s.CreatedAt)
	return s, nil
}

// asStored returns t as reading it back gives it: UTC, to the microsecond.
func asStored(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// DeleteSchedule removes schedule id of channel ch.
func (d *DB) DeleteSchedule(ctx context.Context, ch chat.ChannelRef, id int64) error {
	res, err := d.exec(ctx, `DELETE FROM schedules WHERE id = ? AND platform = ? AND workspace = ? AND channel = ?`,
		id, ch.Platform, ch.Workspace, ch.Channel)
	if err != nil {
		return errorf("delete schedule %d of %s: %w", id, ch, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return errorf("delete schedule %d of %s: %w", id, ch, err)
	} else if n == 0 {
		return errorf("schedule %d of %s: %w", id, ch, store.ErrNotFound)
	}
	return nil
}

func (d *DB) querySchedules(ctx context.Context, what, query string, args ...any) ([]store.Schedule, error) {
	rows, err := d.query(ctx, query, args...)
	if err != nil {
		return nil, errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var ss []store.Schedule
	for rows.Next() {
		var (
			s               store.Schedule
			rights, oneTime int
			next, created   sql.NullInt64
		)
		if err := rows.Scan(&s.ID, &s.Channel.Platform, &s.Channel.Workspace, &s.Channel.Channel, &s.Spec,
			&s.TimeZone, &s.Command, &s.CreatedBy.ID, &s.CreatedBy.Name, &rights, &oneTime, &next, &created); err != nil {
			return nil, errorf("%s: %w", what, err)
		}
		s.Rights, s.OneTime = chat.Rights(rights), oneTime != 0
		s.NextRun, s.CreatedAt = fromMicros(next), fromMicros(created)
		ss = append(ss, s)
	}
	if err := rows.Err(); err != nil {
		return nil, errorf("%s: %w", what, err)
	}
	return ss, nil
}

// ListSchedules returns the schedules of ch, ordered by ID.
func (d *DB) ListSchedules(ctx context.Context, ch chat.ChannelRef) ([]store.Schedule, error) {
	return d.querySchedules(ctx, "schedules of "+ch.String(), `SELECT `+scheduleColumns+` FROM schedules
		WHERE platform = ? AND workspace = ? AND channel = ? ORDER BY id`, ch.Platform, ch.Workspace, ch.Channel)
}

// AllSchedules returns every schedule, ordered by ID.
func (d *DB) AllSchedules(ctx context.Context) ([]store.Schedule, error) {
	return d.querySchedules(ctx, "all schedules", `SELECT `+scheduleColumns+` FROM schedules ORDER BY id`)
}

// SetNextRun records when schedule id runs next.
func (d *DB) SetNextRun(ctx context.Context, id int64, t time.Time) error {
	res, err := d.exec(ctx, `UPDATE schedules SET next_run = ? WHERE id = ?`, micros(t), id)
	if err != nil {
		return errorf("set next run of schedule %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return errorf("set next run of schedule %d: %w", id, err)
	} else if n == 0 {
		return errorf("schedule %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// ClaimRun claims the run of schedule id at slot for owner, once per (id, slot).
func (d *DB) ClaimRun(ctx context.Context, id int64, slot time.Time, owner string) (bool, error) {
	res, err := d.exec(ctx, `INSERT INTO schedule_runs (schedule_id, slot, owner, claimed_at)
		SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM schedules WHERE id = ?)
		ON CONFLICT (schedule_id, slot) DO NOTHING`,
		id, slot.UnixMicro(), owner, d.now().UnixMicro(), id)
	if err != nil {
		return false, errorf("claim run of schedule %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, errorf("claim run of schedule %d: %w", id, err)
	}
	if n == 1 {
		return true, nil
	}
	var exists bool
	if err := d.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schedules WHERE id = ?)`, id).Scan(&exists); err != nil {
		return false, errorf("claim run of schedule %d: %w", id, err)
	}
	if !exists {
		return false, errorf("claim run of schedule %d: %w", id, store.ErrNotFound)
	}
	return false, nil
}

// AppendAudit adds e to the log.
func (d *DB) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = d.now()
	}
	_, err := d.exec(ctx, `INSERT INTO audit
		(at, platform, workspace, channel, user_id, user_name, command, outcome, ok)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Time.UnixMicro(), e.Channel.Platform, e.Channel.Workspace, e.Channel.Channel, e.User.ID, e.User.Name,
		e.Command, e.Outcome, b2i(e.OK))
	if err != nil {
		return errorf("append audit of %s: %w", e.Channel, err)
	}
	return nil
}

// RecentAudit returns the latest n entries of ch, newest first.
func (d *DB) RecentAudit(ctx context.Context, ch chat.ChannelRef, n int) ([]store.AuditEntry, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := d.query(ctx, `SELECT at, user_id, user_name, command, outcome, ok FROM audit
		WHERE platform = ? AND workspace = ? AND channel = ? ORDER BY at DESC, id DESC LIMIT ?`,
		ch.Platform, ch.Workspace, ch.Channel, n)
	if err != nil {
		return nil, errorf("recent audit of %s: %w", ch, err)
	}
	defer rows.Close()
	var es []store.AuditEntry
	for rows.Next() {
		e := store.AuditEntry{Channel: ch}
		var at sql.NullInt64
		var ok int
		if err := rows.Scan(&at, &e.User.ID, &e.User.Name, &e.Command, &e.Outcome, &ok); err != nil {
			return nil, errorf("recent audit of %s: %w", ch, err)
		}
		e.Time, e.OK = fromMicros(at), ok != 0
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, errorf("recent audit of %s: %w", ch, err)
	}
	return es, nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < time.Microsecond {
		return errorf("lease ttl %s: want at least 1µs", ttl)
	}
	return nil
}

// ClaimLease takes key for owner for ttl if it is free, lapsed or already owner's.
func (d *DB) ClaimLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	now := d.now()
	var got string
	err := d.queryRow(ctx, `INSERT INTO leases (key, owner, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
		WHERE leases.owner = excluded.owner OR leases.expires_at <= ?
		RETURNING owner`, key, owner, now.Add(ttl).UnixMicro(), now.UnixMicro()).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, errorf("claim lease %s: %w", key, err)
	}
	return got == owner, nil
}

// RenewLease extends owner's lease on key by ttl from now; false means it was lost.
func (d *DB) RenewLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	res, err := d.exec(ctx, `UPDATE leases SET expires_at = ? WHERE key = ? AND owner = ?`,
		d.now().Add(ttl).UnixMicro(), key, owner)
	if err != nil {
		return false, errorf("renew lease %s: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, errorf("renew lease %s: %w", key, err)
	}
	return n == 1, nil
}

// ReleaseLease gives up owner's lease on key.
func (d *DB) ReleaseLease(ctx context.Context, key, owner string) error {
	if _, err := d.exec(ctx, `DELETE FROM leases WHERE key = ? AND owner = ?`, key, owner); err != nil {
		return errorf("release lease %s: %w", key, err)
	}
	return nil
}

// LeaseHolder returns who holds key and until when, or "" when nobody does.
func (d *DB) LeaseHolder(ctx context.Context, key string) (string, time.Time, error) {
	var owner string
	var until sql.NullInt64
	err := d.queryRow(ctx, `SELECT owner, expires_at FROM leases WHERE key = ? AND expires_at > ?`,
		key, d.now().UnixMicro()).Scan(&owner, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, errorf("lease holder of %s: %w", key, err)
	}
	return owner, fromMicros(until), nil
}

// SaveRoster replaces the saved roster of meetingKey.
func (d *DB) SaveRoster(ctx context.Context, meetingKey string, entries []store.RosterEntry) error {
	b, err := encodeRoster(entries)
	if err != nil {
		return errorf("save roster of %s: %w", meetingKey, err)
	}
	_, err = d.exec(ctx, `INSERT INTO rosters (meeting_key, entries, saved_at) VALUES (?, ?, ?)
		ON CONFLICT (meeting_key) DO UPDATE SET entries = excluded.entries, saved_at = excluded.saved_at`,
		meetingKey, string(b), d.now().UnixMicro())
	if err != nil {
		return errorf("save roster of %s: %w", meetingKey, err)
	}
	return nil
}

// LoadRoster returns the saved roster of meetingKey, nil when none.
func (d *DB) LoadRoster(ctx context.Context, meetingKey string) ([]store.RosterEntry, error) {
	var b string
	err := d.queryRow(ctx, `SELECT entries FROM rosters WHERE meeting_key = ?`, meetingKey).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, errorf("load roster of %s: %w", meetingKey, err)
	}
	es, err := decodeRoster([]byte(b))
	if err != nil {
		return nil, errorf("load roster of %s: %w", meetingKey, err)
	}
	return es, nil
}

func encodeRoster(entries []store.RosterEntry) ([]byte, error) {
	if entries == nil {
		entries = []store.RosterEntry{} // saved empty, unlike never saved
	}
	return json.Marshal(entries)
}

func decodeRoster(b []byte) ([]store.RosterEntry, error) {
	es := []store.RosterEntry{}
	if err := json.Unmarshal(b, &es); err != nil {
		return nil, err
	}
	if es == nil {
		es = []store.RosterEntry{}
	}
	return es, nil
}

// GetValue returns the value of key.
func (d *DB) GetValue(ctx context.Context, key string) (string, error) {
	var v string
	err := d.queryRow(ctx, `SELECT value FROM kv WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errorf("value %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", errorf("get value %s: %w", key, err)
	}
	return v, nil
}

// PutValue sets key to value.
func (d *DB) PutValue(ctx context.Context, key, value string) error {
	_, err := d.exec(ctx, `INSERT INTO kv (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return errorf("put value %s: %w", key, err)
	}
	return nil
}

// PauseMeeting marks every link of m paused for reason.
func (d *DB) PauseMeeting(ctx context.Context, m store.MeetingRef, reason string) error {
	if _, err := d.exec(ctx, `UPDATE links SET paused = 1, paused_reason = ? WHERE api_server = ? AND room = ?`,
		reason, m.APIServer, m.Room); err != nil {
		return errorf("pause links to %s: %w", m.Key(), err)
	}
	return nil
}

// sealedPIN is one link's sealed PIN as read for resealing.
type sealedPIN struct {
	ch  chat.ChannelRef
	pin []byte
}

// ResealLinks reseals under the current key every PIN sealed under a previous one.
func (d *DB) ResealLinks(ctx context.Context) (int, error) {
	rows, err := d.query(ctx, `SELECT platform, workspace, channel, pin FROM links WHERE pin IS NOT NULL
		ORDER BY api_server, room, platform, workspace, channel`)
	if err != nil {
		return 0, errorf("reseal links: %w", err)
	}
	var all []sealedPIN
	for rows.Next() {
		var p sealedPIN
		if err := rows.Scan(&p.ch.Platform, &p.ch.Workspace, &p.ch.Channel, &p.pin); err != nil {
			rows.Close()
			return 0, errorf("reseal links: %w", err)
		}
		all = append(all, p)
	}
	rows.Close() // before writing: an in-memory database has one connection
	if err := rows.Err(); err != nil {
		return 0, errorf("reseal links: %w", err)
	}
	n := 0
	var unreadable []chat.ChannelRef
	for _, p := range all {
		pin, previous, err := d.seal.OpenKey(p.ch, p.pin)
		if err != nil {
			unreadable = append(unreadable, p.ch)
			continue
		}
		if !previous {
			continue
		}
		sealed, err := d.seal.Seal(p.ch, pin)
		if err != nil {
			return n, errorf("reseal link of %s: %w", p.ch, err)
		}
		// Only if the row still holds what was read: a link put meanwhile is already current.
		res, err := d.exec(ctx, `UPDATE links SET pin = ? WHERE platform = ? AND workspace = ? AND channel = ? AND pin = ?`,
			sealed, p.ch.Platform, p.ch.Workspace, p.ch.Channel, p.pin)
		if err != nil {
			return n, errorf("reseal link of %s: %w", p.ch, err)
		}
		if k, err := res.RowsAffected(); err != nil {
			return n, errorf("reseal link of %s: %w", p.ch, err)
		} else {
			n += int(k)
		}
	}
	if unreadable != nil {
		return n, &store.UnreadableLinksError{Channels: unreadable}
	}
	return n, nil
}

// nonceSweepEvery is how many claims pass between deletions of expired nonces.
const nonceSweepEvery = 128

// ClaimNonce reports whether key is claimed for the first time within ttl.
func (d *DB) ClaimNonce(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < time.Microsecond {
		return false, fmt.Errorf("nonce ttl %s: want at least 1µs", ttl)
	}
	now := d.now()
	if d.claims.Add(1)%nonceSweepEvery == 0 {
		if _, err := d.exec(ctx, `DELETE FROM nonces WHERE expires_at <= ?`, now.UnixMicro()); err != nil {
			return false, errorf("claim nonce: sweep: %w", err)
		}
	}
	var got string
	err := d.queryRow(ctx, `INSERT INTO nonces (key, expires_at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?
		RETURNING key`, key, now.Add(ttl).UnixMicro(), now.UnixMicro()).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, errorf("claim nonce: %w", err)
	}
	return true, nil
}

// Prune deletes audit entries and schedule runs from before before, and expired nonces.
func (d *DB) Prune(ctx context.Context, before time.Time) (store.PruneResult, error) {
	var r store.PruneResult
	for _, q := range []struct {
		what  string
		query string
		arg   int64
		n     *int64
	}{
		{"audit", `DELETE FROM audit WHERE at < ?`, before.UnixMicro(), &r.Audit},
		{"schedule runs", `DELETE FROM schedule_runs WHERE claimed_at < ?`, before.UnixMicro(), &r.ScheduleRuns},
		{"nonces", `DELETE FROM nonces WHERE expires_at <= ?`, d.now().UnixMicro(), &r.Nonces},
	} {
		res, err := d.exec(ctx, q.query, q.arg)
		if err != nil {
			return r, errorf("prune %s: %w", q.what, err)
		}
		if *q.n, err = res.RowsAffected(); err != nil {
			return r, errorf("prune %s: %w", q.what, err)
		}
	}
	return r, nil
}

// AddBotParticipant records uuid as the bot's in meetingKey.
func (d *DB) AddBotParticipant(ctx context.Context, meetingKey, uuid string) error {
	if _, err := d.exec(ctx, `INSERT INTO bot_participants (meeting_key, uuid, added_at) VALUES (?, ?, ?)
		ON CONFLICT (meeting_key, uuid) DO NOTHING`, meetingKey, uuid, d.now().UnixMicro()); err != nil {
		return errorf("add bot participant in %s: %w", meetingKey, err)
	}
	return nil
}

// RemoveBotParticipant forgets uuid in meetingKey.
func (d *DB) RemoveBotParticipant(ctx context.Context, meetingKey, uuid string) error {
	if _, err := d.exec(ctx, `DELETE FROM bot_participants WHERE meeting_key = ? AND uuid = ?`, meetingKey, uuid); err != nil {
		return errorf("remove bot participant in %s: %w", meetingKey, err)
	}
	return nil
}

// BotParticipants returns the uuids recorded in meetingKey, ordered.
func (d *DB) BotParticipants(ctx context.Context, meetingKey string) ([]string, error) {
	rows, err := d.query(ctx, `SELECT uuid FROM bot_participants WHERE meeting_key = ? ORDER BY uuid`, meetingKey)
	if err != nil {
		return nil, errorf("bot participants in %s: %w", meetingKey, err)
	}
	defer rows.Close()
	var uuids []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, errorf("bot participants in %s: %w", meetingKey, err)
		}
		uuids = append(uuids, u)
	}
	if err := rows.Err(); err != nil {
		return nil, errorf("bot participants in %s: %w", meetingKey, err)
	}
	return uuids, nil
}
