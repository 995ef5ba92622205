package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// VersionedOpener opens a database a MigrationFactory made, sealing PINs under key, with its
// schema brought to version target only (0 = the newest).
type VersionedOpener func(ctx context.Context, key []byte, target int) (store.Store, error)

// Raw writes to a MigrationFactory's database directly, to seed tables whose shape at an older
// schema version the Store's methods no longer write.
type Raw struct {
	// Exec runs query, written with ? placeholders, on the database.
	Exec func(ctx context.Context, query string, args ...any) error
	// Time encodes t as the backend stores a time.
	Time func(t time.Time) any
}

// MigrationFactory makes a fresh, empty database for one test, like Factory, and gives direct
// access to it.
type MigrationFactory func(tb testing.TB) (VersionedOpener, Raw)

// Schema versions, which every backend numbers alike: what each version added.
const (
	VersionLinks     = 1 // links, settings, audit, kv
	VersionSchedules = 2 // schedules
	VersionReplicas  = 3 // leases, schedule runs, rosters
	VersionHardening = 4 // paused links, nonces, bot participants
	Versions         = 4 // the newest
)

// RunMigrations checks that a database at every earlier schema version (and an empty one) opens
// at the newest version with everything it held intact, that opening again changes nothing, and
// that replicas opening a fresh database at once all succeed.
func RunMigrations(t *testing.T, newDB MigrationFactory) {
	for from := 0; from <= Versions; from++ {
		t.Run(fmt.Sprintf("FromVersion%d", from), func(t *testing.T) {
			ctx := t.Context()
			open, raw := newDB(t)
			key := NewKey(t)
			var seeded func(*testing.T, store.Store)
			if from > 0 {
				s, err := open(ctx, key, from)
				if err != nil {
					t.Fatalf("open at version %d: %v", from, err)
				}
				seeded = seed(t, s, raw, key, from)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 2 { // the second open finds nothing to do
				s, err := open(ctx, key, 0)
				if err != nil {
					t.Fatalf("open #%d from version %d: %v", i+1, from, err)
				}
				if seeded != nil {
					seeded(t, s)
				}
				smoke(t, s)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	t.Run("ConcurrentOpen", func(t *testing.T) {
		ctx := t.Context()
		open, _ := newDB(t)
		key := NewKey(t)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				s, err := open(ctx, key, 0)
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

// seed writes, at schema version v, something into every table v has, and returns a check that
// it is all still there. It writes through the Store methods where the table's shape at v is
// still what they write, and through raw where a later migration altered it (links, before
// version 4 added the pause).
func seed(t *testing.T, s store.Store, raw Raw, key []byte, v int) func(*testing.T, store.Store) {
	t.Helper()
	ctx := t.Context()
	var checks []func(*testing.T, store.Store)
	if v >= VersionLinks {
		l := link(slackA, meetingA, "246810")
		putLink := s.PutLink(ctx, l)
		if v < VersionHardening {
			putLink = rawLinkV1(ctx, raw, key, l)
		}
		set := store.ChannelSettings{Joins: true, Chat: true, TimeZone: "Asia/Tokyo"}
		e := store.AuditEntry{Time: created, Channel: slackA, User: chat.UserRef{ID: "U1", Name: "Alice"}, Command: "lock", Outcome: "locked", OK: true}
		for _, err := range []error{putLink, s.PutSettings(ctx, slackA, set), s.AppendAudit(ctx, e), s.PutValue(ctx, "matrix.sync_token", "s1_2_3")} {
			if err != nil {
				t.Fatalf("seed version %d: %v", v, err)
			}
		}
		checks = append(checks, func(t *testing.T, s store.Store) {
			ctx := t.Context()
			got, err := s.GetLink(ctx, slackA)
			if err != nil {
				t.Fatalf("link from version %d: %v", v, err)
			}
			mustDiff(t, fmt.Sprintf("link from version %d", v), l, got)
			gotSet, _ := s.GetSettings(ctx, slackA)
			mustDiff(t, fmt.Sprintf("settings from version %d", v), set, gotSet)
			gotAudit, _ := s.RecentAudit(ctx, slackA, 10)
			mustDiff(t, fmt.Sprintf("audit from version %d", v), []store.AuditEntry{e}, gotAudit)
			if tok, err := s.GetValue(ctx, "matrix.sync_token"); err != nil || tok != "s1_2_3" {
				t.Errorf("value from version %d = %q, %v", v, tok, err)
			}
		})
	}
	if v >= VersionSchedules {
		sc, err := s.AddSchedule(ctx, schedule(slackA, "lock"))
		if err != nil {
			t.Fatalf("seed version %d: %v", v, err)
		}
		checks = append(checks, func(t *testing.T, s store.Store) {
			got, err := s.ListSchedules(t.Context(), slackA)
			if err != nil {
				t.Fatal(err)
			}
			mustDiff(t, fmt.Sprintf("schedules from version %d", v), []store.Schedule{sc}, got)
		})
	}
	if v >= VersionReplicas {
		roster := []store.RosterEntry{{UUID: "u-1", Name: "Bob", Role: "guest"}}
		if err := s.SaveRoster(ctx, meetingA.Key(), roster); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.ClaimLease(ctx, meetingA.Key(), "r1", time.Hour); err != nil || !ok {
			t.Fatalf("seed version %d: claim lease: %v, %v", v, ok, err)
		}
		checks = append(checks, func(t *testing.T, s store.Store) {
			got, _ := s.LoadRoster(t.Context(), meetingA.Key())
			mustDiff(t, fmt.Sprintf("roster from version %d", v), roster, got)
			if owner, _, _ := s.LeaseHolder(t.Context(), meetingA.Key()); owner != "r1" {
				t.Errorf("lease from version %d held by %q, want r1", v, owner)
			}
		})
	}
	if v >= VersionHardening {
		paused := link(matrixA, meetingB, "13579")
		if err := s.PutLink(ctx, paused); err != nil {
			t.Fatal(err)
		}
		if err := s.PauseMeeting(ctx, meetingB, "removed by a host"); err != nil {
			t.Fatal(err)
		}
		paused.Paused, paused.PausedReason = true, "removed by a host"
		if ok, err := s.ClaimNonce(ctx, "v0=feed", time.Hour); err != nil || !ok {
			t.Fatalf("seed version %d: claim nonce: %v, %v", v, ok, err)
		}
		if err := s.AddBotParticipant(ctx, meetingA.Key(), "bot-uuid-1"); err != nil {
			t.Fatal(err)
		}
		checks = append(checks, func(t *testing.T, s store.Store) {
			ctx := t.Context()
			got, err := s.GetLink(ctx, matrixA)
			if err != nil {
				t.Fatal(err)
			}
			mustDiff(t, fmt.Sprintf("paused link from version %d", v), paused, got)
			if ok, err := s.ClaimNonce(ctx, "v0=feed", time.Hour); err != nil || ok {
				t.Errorf("nonce from version %d claimed again = %v, %v; want false", v, ok, err)
			}
			bots, _ := s.BotParticipants(ctx, meetingA.Key())
			mustDiff(t, fmt.Sprintf("bot participants from version %d", v), []string{"bot-uuid-1"}, bots)
		})
	}
	return func(t *testing.T, s store.Store) {
		t.Helper()
		for _, c := range checks {
			c(t, s)
		}
	}
}

// smoke checks that every part of the newest schema answers.
func smoke(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	if err := s.PutLink(ctx, link(console, meetingB, "1")); err != nil {
		t.Fatal(err)
	}
	sc, err := s.AddSchedule(ctx, schedule(console, "unlock"))
	if err != nil {
		t.Fatal(err)
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
	if _, err := s.GetValue(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetValue(missing) = %v", err)
	}
}

// rawLinkV1 inserts l as schema versions 1 to 3 store a link. '1' and '0' read as true and false
// in a PostgreSQL boolean and as 1 and 0 in an SQLite integer column.
func rawLinkV1(ctx context.Context, raw Raw, key []byte, l store.Link) error {
	sealer, err := store.NewSealer(key)
	if err != nil {
		return err
	}
	pin, err := sealer.Seal(l.Channel, l.PIN)
	if err != nil {
		return err
	}
	byUser := "0"
	if l.CloudSetByUser {
		byUser = "1"
	}
	return raw.Exec(ctx, `INSERT INTO links (platform, workspace, channel, api_server, room, node, name, pin,
		role, cloud, cloud_set_by_user, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '`+byUser+`', ?, ?)`,
		l.Channel.Platform, l.Channel.Workspace, l.Channel.Channel, l.Meeting.APIServer, l.Meeting.Room, l.Node, l.Name,
		pin, l.Role, l.Cloud, l.CreatedBy, raw.Time(l.CreatedAt))
}
