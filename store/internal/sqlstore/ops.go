package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// scanner is a *sql.Rows or a row.
type scanner interface{ Scan(dest ...any) error }

const linkColumns = `platform, workspace, channel, api_server, room, node, name, pin, role, cloud, cloud_set_by_user, created_by, created_at, paused, paused_reason`

// PutLink creates or replaces the link of l.Channel, sealing its PIN; it is stored unpaused.
func (d *DB) PutLink(ctx context.Context, l store.Link) error {
	pin, err := d.seal.Seal(l.Channel, l.PIN)
	if err != nil {
		return fmt.Errorf("put link of %s: %w", l.Channel, err)
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = d.now()
	}
	_, err = d.exec(ctx, `INSERT INTO links (`+linkColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, '')
		ON CONFLICT (platform, workspace, channel) DO UPDATE SET
			api_server = excluded.api_server, room = excluded.room, node = excluded.node,
			name = excluded.name, pin = excluded.pin, role = excluded.role, cloud = excluded.cloud,
			cloud_set_by_user = excluded.cloud_set_by_user, created_by = excluded.created_by,
			created_at = excluded.created_at, paused = excluded.paused, paused_reason = ''`,
		l.Channel.Platform, l.Channel.Workspace, l.Channel.Channel, l.Meeting.APIServer, l.Meeting.Room,
		l.Node, l.Name, pin, l.Role, l.Cloud, l.CloudSetByUser, l.CreatedBy, d.dialect.Time(l.CreatedAt), false)
	if err != nil {
		return d.errorf("put link of %s: %w", l.Channel, err)
	}
	return nil
}

// scanLink reads one link. If its PIN does not unseal, the error wraps store.ErrWrongKey and the
// link returned still names its channel.
func (d *DB) scanLink(row scanner) (store.Link, error) {
	var (
		l   store.Link
		pin []byte
	)
	err := row.Scan(&l.Channel.Platform, &l.Channel.Workspace, &l.Channel.Channel, &l.Meeting.APIServer,
		&l.Meeting.Room, &l.Node, &l.Name, &pin, &l.Role, &l.Cloud, &l.CloudSetByUser, &l.CreatedBy,
		dbTime{&l.CreatedAt}, &l.Paused, &l.PausedReason)
	if err != nil {
		return store.Link{}, err
	}
	if l.PIN, err = d.seal.Open(l.Channel, pin); err != nil {
		return l, err
	}
	return l, nil
}

// GetLink returns the link of ch.
func (d *DB) GetLink(ctx context.Context, ch chat.ChannelRef) (store.Link, error) {
	row := d.queryRow(ctx, `SELECT `+linkColumns+` FROM links
		WHERE platform = $1 AND workspace = $2 AND channel = $3`, ch.Platform, ch.Workspace, ch.Channel)
	l, err := d.scanLink(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Link{}, fmt.Errorf("link of %s: %w", ch, store.ErrNotFound)
	}
	if err != nil {
		return store.Link{}, d.errorf("get link of %s: %w", ch, err)
	}
	return l, nil
}

// DeleteLink removes the link of ch without unsealing its PIN.
func (d *DB) DeleteLink(ctx context.Context, ch chat.ChannelRef) error {
	n, err := d.affected(ctx, `DELETE FROM links WHERE platform = $1 AND workspace = $2 AND channel = $3`,
		ch.Platform, ch.Workspace, ch.Channel)
	if err != nil {
		return d.errorf("delete link of %s: %w", ch, err)
	}
	if n == 0 {
		return fmt.Errorf("link of %s: %w", ch, store.ErrNotFound)
	}
	return nil
}

// queryLinks returns the readable links query selects, and an *store.UnreadableLinksError
// naming the others.
func (d *DB) queryLinks(ctx context.Context, what, query string, args ...any) ([]store.Link, error) {
	rows, err := d.query(ctx, query, args...)
	if err != nil {
		return nil, d.errorf("%s: %w", what, err)
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
			return nil, d.errorf("%s: %w", what, err)
		}
		ls = append(ls, l)
	}
	if err := rows.Err(); err != nil {
		return nil, d.errorf("%s: %w", what, err)
	}
	if unreadable != nil {
		return ls, &store.UnreadableLinksError{Channels: unreadable}
	}
	return ls, nil
}

// LinksByMeeting returns every readable link to m, ordered by channel.
func (d *DB) LinksByMeeting(ctx context.Context, m store.MeetingRef) ([]store.Link, error) {
	return d.queryLinks(ctx, "links to "+m.Key(), `SELECT `+linkColumns+` FROM links
		WHERE api_server = $1 AND room = $2 ORDER BY platform, workspace, channel`, m.APIServer, m.Room)
}

// AllLinks returns every readable link, ordered by meeting then channel.
func (d *DB) AllLinks(ctx context.Context) ([]store.Link, error) {
	return d.queryLinks(ctx, "all links", `SELECT `+linkColumns+` FROM links
		ORDER BY api_server, room, platform, workspace, channel`)
}

// PauseMeeting marks every link of m paused for reason.
func (d *DB) PauseMeeting(ctx context.Context, m store.MeetingRef, reason string) error {
	if _, err := d.exec(ctx, `UPDATE links SET paused = $1, paused_reason = $2 WHERE api_server = $3 AND room = $4`,
		true, reason, m.APIServer, m.Room); err != nil {
		return d.errorf("pause links to %s: %w", m.Key(), err)
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
		return 0, d.errorf("reseal links: %w", err)
	}
	var all []sealedPIN
	for rows.Next() {
		var p sealedPIN
		if err := rows.Scan(&p.ch.Platform, &p.ch.Workspace, &p.ch.Channel, &p.pin); err != nil {
			rows.Close()
			return 0, d.errorf("reseal links: %w", err)
		}
		all = append(all, p)
	}
	rows.Close() // before writing: an in-memory SQLite database has one connection
	if err := rows.Err(); err != nil {
		return 0, d.errorf("reseal links: %w", err)
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
			return n, fmt.Errorf("reseal link of %s: %w", p.ch, err)
		}
		// Only if the row still holds what was read: a link put meanwhile is already current.
		k, err := d.affected(ctx, `UPDATE links SET pin = $1 WHERE platform = $2 AND workspace = $3 AND channel = $4 AND pin = $5`,
			sealed, p.ch.Platform, p.ch.Workspace, p.ch.Channel, p.pin)
		if err != nil {
			return n, d.errorf("reseal link of %s: %w", p.ch, err)
		}
		n += int(k)
	}
	if unreadable != nil {
		return n, &store.UnreadableLinksError{Channels: unreadable}
	}
	return n, nil
}

// GetSettings returns the settings of ch, or store.DefaultSettings.
func (d *DB) GetSettings(ctx context.Context, ch chat.ChannelRef) (store.ChannelSettings, error) {
	var s store.ChannelSettings
	err := d.queryRow(ctx, `SELECT joins, leaves, presentations, chat, threaded, time_zone, waiting, snapshots, report
		FROM settings WHERE platform = $1 AND workspace = $2 AND channel = $3`,
		ch.Platform, ch.Workspace, ch.Channel).Scan(&s.Joins, &s.Leaves, &s.Presentations, &s.Chat, &s.Threaded, &s.TimeZone,
		&s.Waiting, &s.Snapshots, &s.Report)
	if errors.Is(err, sql.ErrNoRows) {
		return store.DefaultSettings(), nil
	}
	if err != nil {
		return store.ChannelSettings{}, d.errorf("get settings of %s: %w", ch, err)
	}
	return s, nil
}

// PutSettings replaces the settings of ch.
func (d *DB) PutSettings(ctx context.Context, ch chat.ChannelRef, s store.ChannelSettings) error {
	_, err := d.exec(ctx, `INSERT INTO settings
		(platform, workspace, channel, joins, leaves, presentations, chat, threaded, time_zone, waiting, snapshots, report)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (platform, workspace, channel) DO UPDATE SET
			joins = excluded.joins, leaves = excluded.leaves, presentations = excluded.presentations,
			chat = excluded.chat, threaded = excluded.threaded, time_zone = excluded.time_zone,
			waiting = excluded.waiting, snapshots = excluded.snapshots, report = excluded.report`,
		ch.Platform, ch.Workspace, ch.Channel, s.Joins, s.Leaves, s.Presentations, s.Chat, s.Threaded, s.TimeZone,
		s.Waiting, s.Snapshots, s.Report)
	if err != nil {
		return d.errorf("put settings of %s: %w", ch, err)
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
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		s.Channel.Platform, s.Channel.Workspace, s.Channel.Channel, s.Spec, s.TimeZone, s.Command,
		s.CreatedBy.ID, s.CreatedBy.Name, int(s.Rights), s.OneTime, d.dialect.Time(s.NextRun), d.dialect.Time(s.CreatedAt),
	).Scan(&s.ID)
	if err != nil {
		return store.Schedule{}, d.errorf("add schedule in %s: %w", s.Channel, err)
	}
	s.NextRun, s.CreatedAt = asStored(s.NextRun), asStored(s.CreatedAt)
	return s, nil
}

// DeleteSchedule removes schedule id of channel ch.
func (d *DB) DeleteSchedule(ctx context.Context, ch chat.ChannelRef, id int64) error {
	n, err := d.affected(ctx, `DELETE FROM schedules WHERE id = $1 AND platform = $2 AND workspace = $3 AND channel = $4`,
		id, ch.Platform, ch.Workspace, ch.Channel)
	if err != nil {
		return d.errorf("delete schedule %d of %s: %w", id, ch, err)
	}
	if n == 0 {
		return fmt.Errorf("schedule %d of %s: %w", id, ch, store.ErrNotFound)
	}
	return nil
}

func (d *DB) querySchedules(ctx context.Context, what, query string, args ...any) ([]store.Schedule, error) {
	rows, err := d.query(ctx, query, args...)
	if err != nil {
		return nil, d.errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var ss []store.Schedule
	for rows.Next() {
		var s store.Schedule
		if err := rows.Scan(&s.ID, &s.Channel.Platform, &s.Channel.Workspace, &s.Channel.Channel, &s.Spec,
			&s.TimeZone, &s.Command, &s.CreatedBy.ID, &s.CreatedBy.Name, &s.Rights, &s.OneTime,
			dbTime{&s.NextRun}, dbTime{&s.CreatedAt}); err != nil {
			return nil, d.errorf("%s: %w", what, err)
		}
		ss = append(ss, s)
	}
	if err := rows.Err(); err != nil {
		return nil, d.errorf("%s: %w", what, err)
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
	n, err := d.affected(ctx, `UPDATE schedules SET next_run = $1 WHERE id = $2`, d.dialect.Time(t), id)
	if err != nil {
		return d.errorf("set next run of schedule %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("schedule %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// ClaimRun claims the run of schedule id at slot for owner, once per (id, slot) across replicas.
func (d *DB) ClaimRun(ctx context.Context, id int64, slot time.Time, owner string) (bool, error) {
	n, err := d.affected(ctx, `INSERT INTO schedule_runs (schedule_id, slot, owner, claimed_at)
		SELECT $1, $2, $3, {now} WHERE EXISTS (SELECT 1 FROM schedules WHERE id = $1)
		ON CONFLICT (schedule_id, slot) DO NOTHING`, id, d.dialect.Time(slot), owner)
	if err != nil && d.dialect.IsForeignKeyViolation(err) { // deleted meanwhile
		return false, fmt.Errorf("claim run of schedule %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return false, d.errorf("claim run of schedule %d: %w", id, err)
	}
	if n == 1 {
		return true, nil
	}
	var exists bool
	if err := d.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schedules WHERE id = $1)`, id).Scan(&exists); err != nil {
		return false, d.errorf("claim run of schedule %d: %w", id, err)
	}
	if !exists {
		return false, fmt.Errorf("claim run of schedule %d: %w", id, store.ErrNotFound)
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
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		d.dialect.Time(e.Time), e.Channel.Platform, e.Channel.Workspace, e.Channel.Channel, e.User.ID, e.User.Name,
		e.Command, e.Outcome, e.OK)
	if err != nil {
		return d.errorf("append audit of %s: %w", e.Channel, err)
	}
	return nil
}

// RecentAudit returns the latest n entries of ch, newest first.
func (d *DB) RecentAudit(ctx context.Context, ch chat.ChannelRef, n int) ([]store.AuditEntry, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := d.query(ctx, `SELECT at, user_id, user_name, command, outcome, ok FROM audit
		WHERE platform = $1 AND workspace = $2 AND channel = $3 ORDER BY at DESC, id DESC LIMIT $4`,
		ch.Platform, ch.Workspace, ch.Channel, n)
	if err != nil {
		return nil, d.errorf("recent audit of %s: %w", ch, err)
	}
	defer rows.Close()
	var es []store.AuditEntry
	for rows.Next() {
		e := store.AuditEntry{Channel: ch}
		if err := rows.Scan(dbTime{&e.Time}, &e.User.ID, &e.User.Name, &e.Command, &e.Outcome, &e.OK); err != nil {
			return nil, d.errorf("recent audit of %s: %w", ch, err)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, d.errorf("recent audit of %s: %w", ch, err)
	}
	return es, nil
}

func checkTTL(what string, ttl time.Duration) error {
	if ttl < time.Microsecond {
		return fmt.Errorf("%s ttl %s: want at least 1µs", what, ttl)
	}
	return nil
}

// ClaimLease takes key for owner for ttl if it is free, lapsed or already owner's; expiry is
// judged by the database's clock.
func (d *DB) ClaimLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := checkTTL("lease", ttl); err != nil {
		return false, err
	}
	var got string
	err := d.queryRow(ctx, `INSERT INTO leases (key, owner, expires_at)
		VALUES ($1, $2, {now} + CAST($3 AS BIGINT) * {µs})
		ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
		WHERE leases.owner = excluded.owner OR leases.expires_at <= {now}
		RETURNING owner`, key, owner, ttl.Microseconds()).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, d.errorf("claim lease %s: %w", key, err)
	}
	return got == owner, nil
}

// RenewLease extends owner's lease on key by ttl from the database's now; false means it was lost.
func (d *DB) RenewLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := checkTTL("lease", ttl); err != nil {
		return false, err
	}
	n, err := d.affected(ctx, `UPDATE leases SET expires_at = {now} + CAST($3 AS BIGINT) * {µs}
		WHERE key = $1 AND owner = $2`, key, owner, ttl.Microseconds())
	if err != nil {
		return false, d.errorf("renew lease %s: %w", key, err)
	}
	return n == 1, nil
}

// RenewLeases extends by ttl, in one statement, every lease of keys that owner holds, and
// returns those it holds; the others it lost. One statement per replica and round, not one per
// meeting, keeps the database's idle work flat in the meetings a replica holds.
func (d *DB) RenewLeases(ctx context.Context, owner string, keys []string, ttl time.Duration) ([]string, error) {
	if err := checkTTL("lease", ttl); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return nil, d.errorf("renew leases: %w", err)
	}
	in := `SELECT value FROM json_each($2)`
	if d.dialect.Name == "postgres" {
		in = `SELECT jsonb_array_elements_text(CAST($2 AS jsonb))`
	}
	rows, err := d.query(ctx, `UPDATE leases SET expires_at = {now} + CAST($3 AS BIGINT) * {µs}
		WHERE owner = $1 AND key IN (`+in+`) RETURNING key`, owner, string(list), ttl.Microseconds())
	if err != nil {
		return nil, d.errorf("renew %d leases: %w", len(keys), err)
	}
	defer rows.Close()
	held := make([]string, 0, len(keys))
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, d.errorf("renew %d leases: %w", len(keys), err)
		}
		held = append(held, k)
	}
	if err := rows.Err(); err != nil {
		return nil, d.errorf("renew %d leases: %w", len(keys), err)
	}
	return held, nil
}

// HeldLeases returns the keys starting with prefix whose lease someone holds now, in one
// statement: a replica asks it once per resync rather than LeaseHolder once per meeting it
// does not hold.
func (d *DB) HeldLeases(ctx context.Context, prefix string) (map[string]bool, error) {
	rows, err := d.query(ctx, `SELECT key FROM leases WHERE expires_at > {now} AND substr(key, 1, $2) = $1`,
		prefix, len(prefix))
	if err != nil {
		return nil, d.errorf("list held leases: %w", err)
	}
	defer rows.Close()
	held := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, d.errorf("list held leases: %w", err)
		}
		held[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, d.errorf("list held leases: %w", err)
	}
	return held, nil
}

// ReleaseLease gives up owner's lease on key.
func (d *DB) ReleaseLease(ctx context.Context, key, owner string) error {
	if _, err := d.exec(ctx, `DELETE FROM leases WHERE key = $1 AND owner = $2`, key, owner); err != nil {
		return d.errorf("release lease %s: %w", key, err)
	}
	return nil
}

// LeaseHolder returns who holds key and until when, or "" when nobody does.
func (d *DB) LeaseHolder(ctx context.Context, key string) (string, time.Time, error) {
	var owner string
	var until time.Time
	err := d.queryRow(ctx, `SELECT owner, expires_at FROM leases WHERE key = $1 AND expires_at > {now}`,
		key).Scan(&owner, dbTime{&until})
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, d.errorf("lease holder of %s: %w", key, err)
	}
	return owner, until, nil
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
	_, err = d.exec(ctx, `INSERT INTO rosters (meeting_key, entries, saved_at) VALUES ($1, $2, {now})
		ON CONFLICT (meeting_key) DO UPDATE SET entries = excluded.entries, saved_at = excluded.saved_at`,
		meetingKey, string(b))
	if err != nil {
		return d.errorf("save roster of %s: %w", meetingKey, err)
	}
	return nil
}

// LoadRoster returns the saved roster of meetingKey, nil when none.
func (d *DB) LoadRoster(ctx context.Context, meetingKey string) ([]store.RosterEntry, error) {
	var b string
	err := d.queryRow(ctx, `SELECT entries FROM rosters WHERE meeting_key = $1`, meetingKey).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, d.errorf("load roster of %s: %w", meetingKey, err)
	}
	es := []store.RosterEntry{}
	if err := json.Unmarshal([]byte(b), &es); err != nil {
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
	err := d.queryRow(ctx, `SELECT value FROM kv WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("value %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", d.errorf("get value %s: %w", key, err)
	}
	return v, nil
}

// PutValue sets key to value.
func (d *DB) PutValue(ctx context.Context, key, value string) error {
	_, err := d.exec(ctx, `INSERT INTO kv (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return d.errorf("put value %s: %w", key, err)
	}
	return nil
}

// nonceSweepEvery is how many claims pass between deletions of expired nonces.
const nonceSweepEvery = 128

// ClaimNonce reports whether key is claimed for the first time within ttl, by the database's clock.
func (d *DB) ClaimNonce(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkTTL("nonce", ttl); err != nil {
		return false, err
	}
	if d.claims.Add(1)%nonceSweepEvery == 0 {
		if _, err := d.exec(ctx, `DELETE FROM nonces WHERE expires_at <= {now}`); err != nil {
			return false, d.errorf("claim nonce: sweep: %w", err)
		}
	}
	var got string
	err := d.queryRow(ctx, `INSERT INTO nonces (key, expires_at) VALUES ($1, {now} + CAST($2 AS BIGINT) * {µs})
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= {now}
		RETURNING key`, key, ttl.Microseconds()).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, d.errorf("claim nonce: %w", err)
	}
	return true, nil
}

// Prune deletes audit entries and schedule runs from before before, and expired nonces.
func (d *DB) Prune(ctx context.Context, before time.Time) (store.PruneResult, error) {
	var r store.PruneResult
	for _, q := range []struct {
		what, query string
		args        []any
		n           *int64
	}{
		{"audit", `DELETE FROM audit WHERE at < $1`, []any{d.dialect.Time(before)}, &r.Audit},
		{"schedule runs", `DELETE FROM schedule_runs WHERE claimed_at < $1`, []any{d.dialect.Time(before)}, &r.ScheduleRuns},
		{"nonces", `DELETE FROM nonces WHERE expires_at <= {now}`, nil, &r.Nonces},
	} {
		n, err := d.affected(ctx, q.query, q.args...)
		if err != nil {
			return r, d.errorf("prune %s: %w", q.what, err)
		}
		*q.n = n
	}
	return r, nil
}

// AddBotParticipant records uuid as the bot's in meetingKey.
func (d *DB) AddBotParticipant(ctx context.Context, meetingKey, uuid string) error {
	if _, err := d.exec(ctx, `INSERT INTO bot_participants (meeting_key, uuid, added_at) VALUES ($1, $2, {now})
		ON CONFLICT (meeting_key, uuid) DO NOTHING`, meetingKey, uuid); err != nil {
		return d.errorf("add bot participant in %s: %w", meetingKey, err)
	}
	return nil
}

// RemoveBotParticipant forgets uuid in meetingKey.
func (d *DB) RemoveBotParticipant(ctx context.Context, meetingKey, uuid string) error {
	if _, err := d.exec(ctx, `DELETE FROM bot_participants WHERE meeting_key = $1 AND uuid = $2`, meetingKey, uuid); err != nil {
		return d.errorf("remove bot participant in %s: %w", meetingKey, err)
	}
	return nil
}

// BotParticipants returns the uuids recorded in meetingKey, in byte order (sorted here, since the
// databases' collations differ).
func (d *DB) BotParticipants(ctx context.Context, meetingKey string) ([]string, error) {
	rows, err := d.query(ctx, `SELECT uuid FROM bot_participants WHERE meeting_key = $1`, meetingKey)
	if err != nil {
		return nil, d.errorf("bot participants in %s: %w", meetingKey, err)
	}
	defer rows.Close()
	var uuids []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, d.errorf("bot participants in %s: %w", meetingKey, err)
		}
		uuids = append(uuids, u)
	}
	if err := rows.Err(); err != nil {
		return nil, d.errorf("bot participants in %s: %w", meetingKey, err)
	}
	slices.Sort(uuids)
	return uuids, nil
}
