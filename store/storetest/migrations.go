package storetest

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// Raw reaches a MigrationFactory's database beneath the store, to build it as an older release
// of meetbot left it.
type Raw struct {
	// Exec runs query, with $1-style placeholders, or a script of several statements without
	// arguments.
	Exec func(ctx context.Context, query string, args ...any) error
	// Count returns how many rows table has.
	Count func(ctx context.Context, table string) (int64, error)
	// Time encodes t as the backend stores a time.
	Time func(t time.Time) any
	// Released holds the schema migrations as released for this backend, NNNN_name.sql at its
	// root: the schemas existing databases have.
	Released fs.FS
	// Describe lists the database's tables, columns and indexes, one sorted line each, as
	// equal for equal schemas however their SQL was written.
	Describe func(ctx context.Context) ([]string, error)
}

// MigrationFactory makes a fresh, empty database for one test, like Factory, and gives raw
// access to it.
type MigrationFactory func(tb testing.TB) (Opener, Raw)

// Schema versions, which every backend numbers alike: what each version added.
const (
	VersionLinks      = 1 // links, settings, audit, kv
	VersionSchedules  = 2 // schedules
	VersionReplicas   = 3 // leases, schedule runs, rosters
	VersionHardening  = 4 // paused links, nonces, bot participants
	VersionSurfaces   = 5 // settings for waiting-room alerts, snapshots and reports
	VersionAttendance = 6 // attendance intervals
	Versions          = 6 // the newest
)

// RunMigrations checks that a database built by every earlier release's schema (and an empty
// one), with rows in every table, opens at the newest version with every row intact; that
// opening again changes nothing; that a fresh database has exactly the released newest schema;
// and that replicas opening a fresh database at once all succeed.
func RunMigrations(t *testing.T, newDB MigrationFactory) {
	for from := 0; from <= Versions; from++ {
		t.Run(fmt.Sprintf("FromVersion%d", from), func(t *testing.T) {
			ctx := t.Context()
			open, raw := newDB(t)
			key := NewKey(t)
			released(t, raw, from)
			check := seedRaw(t, raw, key, from)
			for i := range 2 { // the second open finds nothing to do
				s, err := open(ctx, key)
				if err != nil {
					t.Fatalf("open #%d from version %d: %v", i+1, from, err)
				}
				check(t, s)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			s, err := open(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			smoke(t, s, from)
		})
	}

	t.Run("SameSchemaAsReleased", func(t *testing.T) {
		ctx := t.Context()
		open, fresh := newDB(t)
		s, err := open(ctx, NewKey(t))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, old := newDB(t)
		released(t, old, Versions)
		want, err := old.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fresh.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("schema of a fresh database differs from the released one (-released +fresh):\n%s", d)
		}
	})

	t.Run("ConcurrentOpen", func(t *testing.T) {
		ctx := t.Context()
		open, _ := newDB(t)
		key := NewKey(t)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				s, err := open(ctx, key)
				if err != nil {
					t.Errorf("replicas opening a fresh database at once: %v", err)
					return
				}
				defer s.Close()
				if err := s.PutValue(ctx, "k", "v"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	})
}

// released builds raw's database at schema version v as the released migrations and the
// released runner left it: each file, then schema_version holding v.
func released(t *testing.T, raw Raw, v int) {
	t.Helper()
	if v == 0 {
		return
	}
	ctx := t.Context()
	files, err := fs.Glob(raw.Released, "*.sql")
	if err != nil || len(files) < v {
		t.Fatalf("released schema: %d files for version %d, %v", len(files), v, err)
	}
	sort.Strings(files)
	for _, f := range files[:v] {
		b, err := fs.ReadFile(raw.Released, f)
		if err != nil {
			t.Fatal(err)
		}
		if err := raw.Exec(ctx, string(b)); err != nil {
			t.Fatalf("released schema %s: %v", f, err)
		}
	}
	if err := raw.Exec(ctx, fmt.Sprintf("CREATE TABLE schema_version (version INTEGER NOT NULL);\nINSERT INTO schema_version (version) VALUES (%d)", v)); err != nil {
		t.Fatal(err)
	}
}

// seedRaw writes, with the SQL of schema version v, rows into every table v has, and returns a
// check that the store reads back every one of them, and no more.
func seedRaw(t *testing.T, raw Raw, key []byte, v int) func(*testing.T, store.Store) {
	t.Helper()
	ctx := t.Context()
	exec := func(query string, args ...any) {
		t.Helper()
		if err := raw.Exec(ctx, query, args...); err != nil {
			t.Fatalf("seed version %d: %v", v, err)
		}
	}
	sealer, err := store.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	var (
		links    []store.Link
		settings = map[chat.ChannelRef]store.ChannelSettings{}
		audit    []store.AuditEntry
		values   = map[string]string{}
		scheds   []store.Schedule
		runs     []time.Time
		leases   = map[string]string{} // key → live owner, "" when lapsed
		rosters  = map[string][]store.RosterEntry{}
		bots     []string
		nonces   []string
		present  []store.AttendanceInterval
		counts   = map[string]int64{}
	)
	putLink := func(l store.Link) {
		pin, err := sealer.Seal(l.Channel, l.PIN)
		if err != nil {
			t.Fatal(err)
		}
		cols, vals := "", ""
		args := []any{l.Channel.Platform, l.Channel.Workspace, l.Channel.Channel, l.Meeting.APIServer, l.Meeting.Room,
			l.Node, l.Name, pin, l.Role, l.Cloud, l.CloudSetByUser, l.CreatedBy, raw.Time(l.CreatedAt)}
		if v >= VersionHardening {
			cols, vals = ", paused, paused_reason", ", $14, $15"
			args = append(args, l.Paused, l.PausedReason)
		}
		exec(`INSERT INTO links (platform, workspace, channel, api_server, room, node, name, pin, role, cloud,
			cloud_set_by_user, created_by, created_at`+cols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13`+vals+`)`, args...)
		links = append(links, l)
	}
	if v >= VersionLinks {
		putLink(link(slackA, meetingA, "246810"))
		noPIN := link(matrixA, meetingA, "")
		noPIN.CloudSetByUser, noPIN.Cloud, noPIN.Role = false, "public", "GUEST"
		putLink(noPIN)
		odd := link(slackB, meetingB, "13579")
		odd.Name, odd.CreatedBy = "Zoë's 'weekly' \"sync\" — 王", "U'1"
		putLink(odd)
		counts["links"] = 3

		for ch, s := range map[chat.ChannelRef]store.ChannelSettings{
			slackA:  {Joins: true, Chat: true, TimeZone: "Asia/Tokyo", Snapshots: true},
			matrixA: {Leaves: true, Presentations: true, Threaded: true, Report: true},
		} {
			if v >= VersionSurfaces {
				exec(`INSERT INTO settings (platform, workspace, channel, joins, leaves, presentations, chat, threaded, time_zone,
					waiting, snapshots, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
					ch.Platform, ch.Workspace, ch.Channel, s.Joins, s.Leaves, s.Presentations, s.Chat, s.Threaded, s.TimeZone,
					s.Waiting, s.Snapshots, s.Report)
			} else {
				exec(`INSERT INTO settings (platform, workspace, channel, joins, leaves, presentations, chat, threaded, time_zone)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, ch.Platform, ch.Workspace, ch.Channel,
					s.Joins, s.Leaves, s.Presentations, s.Chat, s.Threaded, s.TimeZone)
				// What version 5 gives a channel that had settings: alerts on, the rest off.
				s.Waiting, s.Snapshots, s.Report = true, false, false
			}
			settings[ch] = s
		}
		counts["settings"] = 2

		alice := chat.UserRef{ID: "U1", Name: "Alice"}
		for _, e := range []store.AuditEntry{
			{Time: created, Channel: slackA, User: alice, Command: "lock", Outcome: "locked", OK: true},
			{Time: created.Add(time.Minute), Channel: slackA, User: alice, Command: "mute Bob", Outcome: "no one called Bob", OK: false},
			{Time: created.Add(time.Minute), Channel: slackA, User: alice, Command: "unlock", Outcome: "unlocked", OK: true},
			{Time: created, Channel: matrixA, User: chat.UserRef{ID: "@b:x", Name: "Bob"}, Command: "who", Outcome: "3 people", OK: true},
		} {
			exec(`INSERT INTO audit (at, platform, workspace, channel, user_id, user_name, command, outcome, ok)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, raw.Time(e.Time), e.Channel.Platform, e.Channel.Workspace,
				e.Channel.Channel, e.User.ID, e.User.Name, e.Command, e.Outcome, e.OK)
			audit = append(audit, e)
		}
		counts["audit"] = 4

		for k, val := range map[string]string{"matrix.sync_token": "s1_2_3", "empty": ""} {
			exec(`INSERT INTO kv (key, value) VALUES ($1, $2)`, k, val)
			values[k] = val
		}
		counts["kv"] = 2
	}
	if v >= VersionSchedules {
		once := schedule(slackA, "end confirm")
		once.Spec, once.OneTime, once.NextRun = "2026-03-06 17:00", true, time.Time{}
		for i, s := range []store.Schedule{schedule(slackA, "lock"), schedule(matrixA, "mute guests"), once} {
			s.ID = int64(i + 1)
			// The released schema gives ids itself; ask for them in order.
			exec(`INSERT INTO schedules (platform, workspace, channel, spec, time_zone, command, created_by_id,
				created_by_name, rights, one_time, next_run, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				s.Channel.Platform, s.Channel.Workspace, s.Channel.Channel, s.Spec, s.TimeZone, s.Command,
				s.CreatedBy.ID, s.CreatedBy.Name, int(s.Rights), s.OneTime, raw.Time(s.NextRun), raw.Time(s.CreatedAt))
			scheds = append(scheds, s)
		}
		// A deleted schedule's id must stay used after migrating.
		exec(`DELETE FROM schedules WHERE id = 3`)
		scheds = scheds[:2]
		counts["schedules"] = 2
	}
	if v >= VersionReplicas {
		slot := time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC)
		for i := range 2 {
			at := slot.Add(time.Duration(i) * 24 * time.Hour)
			exec(`INSERT INTO schedule_runs (schedule_id, slot, owner, claimed_at) VALUES (1, $1, 'r1', $2)`, raw.Time(at), raw.Time(at))
			runs = append(runs, at)
		}
		counts["schedule_runs"] = 2
		now := time.Now()
		exec(`INSERT INTO leases (key, owner, expires_at) VALUES ($1, 'r1', $2), ($3, 'r2', $4)`,
			meetingA.Key(), raw.Time(now.Add(time.Hour)), meetingB.Key(), raw.Time(now.Add(-time.Hour)))
		leases[meetingA.Key()], leases[meetingB.Key()] = "r1", ""
		counts["leases"] = 2
		for k, r := range map[string][]store.RosterEntry{
			meetingA.Key(): {{UUID: "u-2", Name: "Zoë", Role: "chair", Presenting: true}, {UUID: "u-1", Name: "王小明", Role: "guest"}},
			meetingB.Key(): {},
		} {
			exec(`INSERT INTO rosters (meeting_key, entries, saved_at) VALUES ($1, $2, $3)`, k, rosterJSON(t, r), raw.Time(created))
			rosters[k] = r
		}
		counts["rosters"] = 2
	}
	if v >= VersionHardening {
		paused := link(console, meetingB, "8642")
		paused.Paused, paused.PausedReason = true, "a host removed meetbot"
		putLink(paused)
		counts["links"]++
		exec(`INSERT INTO nonces (key, expires_at) VALUES ('v0=feed', $1)`, raw.Time(time.Now().Add(time.Hour)))
		nonces = append(nonces, "v0=feed")
		counts["nonces"] = 1
		exec(`INSERT INTO bot_participants (meeting_key, uuid, added_at) VALUES ($1, 'bot-2', $2), ($1, 'bot-1', $2)`, meetingA.Key(), raw.Time(created))
		bots = []string{"bot-1", "bot-2"}
		counts["bot_participants"] = 2
	}
	if v >= VersionAttendance {
		left := store.AttendanceInterval{UUID: "u-1", Name: "王小明", Role: "guest", Protocol: "sip", Joined: created, Left: created.Add(time.Hour)}
		open := store.AttendanceInterval{UUID: "u-2", Name: "Zoë", Role: "chair", Protocol: "webrtc", Joined: created.Add(time.Minute)}
		exec(`INSERT INTO attendance (meeting_key, occurrence, uuid, name, role, protocol, joined_at, left_at)
			VALUES ($1, 'occ-1', $2, $3, $4, $5, $6, $7), ($1, 'occ-1', $8, $9, $10, $11, $12, NULL)`, meetingA.Key(),
			left.UUID, left.Name, left.Role, left.Protocol, raw.Time(left.Joined), raw.Time(left.Left),
			open.UUID, open.Name, open.Role, open.Protocol, raw.Time(open.Joined))
		present = []store.AttendanceInterval{left, open}
		counts["attendance"] = 2
	}

	return func(t *testing.T, s store.Store) {
		t.Helper()
		ctx := t.Context()
		for table, want := range counts {
			if got, err := raw.Count(ctx, table); err != nil || got != want {
				t.Errorf("from version %d: table %s has %d rows (%v), want %d", v, table, got, err, want)
			}
		}
		for _, l := range links {
			got, err := s.GetLink(ctx, l.Channel)
			if err != nil {
				t.Errorf("link of %s from version %d: %v", l.Channel, v, err)
				continue
			}
			mustDiff(t, fmt.Sprintf("link of %s from version %d", l.Channel, v), l, got)
		}
		if all, err := s.AllLinks(ctx); err != nil || len(all) != len(links) {
			t.Errorf("AllLinks from version %d = %d links, %v; want %d", v, len(all), err, len(links))
		}
		for ch, want := range settings {
			got, err := s.GetSettings(ctx, ch)
			if err != nil {
				t.Fatal(err)
			}
			mustDiff(t, fmt.Sprintf("settings of %s from version %d", ch, v), want, got)
		}
		for _, ch := range []chat.ChannelRef{slackA, matrixA} {
			var want []store.AuditEntry
			for i := len(audit) - 1; i >= 0; i-- { // newest first; equal times: last inserted first
				if audit[i].Channel == ch {
					want = append(want, audit[i])
				}
			}
			sort.SliceStable(want, func(i, j int) bool { return want[i].Time.After(want[j].Time) })
			got, err := s.RecentAudit(ctx, ch, 10)
			if err != nil {
				t.Fatal(err)
			}
			mustDiff(t, fmt.Sprintf("audit of %s from version %d", ch, v), want, got)
		}
		for k, want := range values {
			if got, err := s.GetValue(ctx, k); err != nil || got != want {
				t.Errorf("value %s from version %d = %q, %v; want %q", k, v, got, err, want)
			}
		}
		if v >= VersionSchedules {
			got, err := s.AllSchedules(ctx)
			if err != nil {
				t.Fatal(err)
			}
			mustDiff(t, fmt.Sprintf("schedules from version %d", v), scheds, got)
		}
		for _, slot := range runs {
			if ok, err := s.ClaimRun(ctx, 1, slot, "r9"); err != nil || ok {
				t.Errorf("run at %v claimed before version %d claimed again = %v, %v; want false", slot, v, ok, err)
			}
		}
		for k, want := range leases {
			if owner, _, err := s.LeaseHolder(ctx, k); err != nil || owner != want {
				t.Errorf("lease %s from version %d held by %q (%v), want %q", k, v, owner, err, want)
			}
		}
		for k, want := range rosters {
			got, err := s.LoadRoster(ctx, k)
			if err != nil || got == nil {
				t.Errorf("roster of %s from version %d = %v, %v", k, v, got, err)
				continue
			}
			mustDiff(t, fmt.Sprintf("roster of %s from version %d", k, v), want, got)
		}
		for _, n := range nonces {
			if ok, err := s.ClaimNonce(ctx, n, time.Hour); err != nil || ok {
				t.Errorf("nonce %s from version %d claimed again = %v, %v; want false", n, v, ok, err)
			}
		}
		if v >= VersionHardening {
			got, _ := s.BotParticipants(ctx, meetingA.Key())
			mustDiff(t, fmt.Sprintf("bot participants from version %d", v), bots, got)
		}
		if v >= VersionAttendance {
			got, err := s.AttendanceOf(ctx, meetingA.Key(), "occ-1")
			if err != nil {
				t.Fatal(err)
			}
			mustDiff(t, fmt.Sprintf("attendance from version %d", v), present, got)
		}
	}
}

func rosterJSON(t *testing.T, r []store.RosterEntry) string {
	t.Helper()
	b := "["
	for i, e := range r {
		if i > 0 {
			b += ","
		}
		b += fmt.Sprintf(`{"uuid":%q,"name":%q,"role":%q,"presenting":%v}`, e.UUID, e.Name, e.Role, e.Presenting)
	}
	return b + "]"
}

// smoke checks that every part of the newest schema answers, and that a schedule made after
// migrating does not get the id of one deleted before.
func smoke(t *testing.T, s store.Store, from int) {
	t.Helper()
	ctx := t.Context()
	if err := s.PutLink(ctx, link(console, meetingB, "1")); err != nil {
		t.Fatal(err)
	}
	sc, err := s.AddSchedule(ctx, schedule(console, "unlock"))
	if err != nil {
		t.Fatal(err)
	}
	if from >= VersionSchedules && sc.ID <= 3 {
		t.Errorf("AddSchedule after migrating gave id %d, want one never used (> 3)", sc.ID)
	}
	if _, err := s.ClaimRun(ctx, sc.ID, created, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimLease(ctx, meetingB.Key(), "r1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRoster(ctx, meetingB.Key(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimNonce(ctx, "n", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.AddBotParticipant(ctx, meetingB.Key(), "u"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordJoin(ctx, meetingB.Key(), "o", store.AttendanceInterval{UUID: "u", Joined: created}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(ctx, created); err != nil {
		t.Fatal(err)
	}
}
