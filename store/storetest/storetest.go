// Package storetest is the conformance suite every store.Store implementation passes. It is
// written once against the interface and run by each backend's tests:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, newTestDB) }
//	func BenchmarkHotReads(b *testing.B) { storetest.Bench(b, newTestDB) }
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// Opener opens the database a Factory made, sealing PINs under key and still reading those sealed
// under any of previous. It may be called several times for the same database: to reopen it, or
// to open it with other keys.
type Opener func(ctx context.Context, key []byte, previous ...[]byte) (store.Store, error)

// Factory makes a fresh, empty database for one test or benchmark, removed by tb.Cleanup, and
// returns how to open it. Each call must give a database no other call shares, so tests can run
// in parallel and runs do not collide.
type Factory func(tb testing.TB) Opener

// RequireAll reports whether MEETBOT_TEST_REQUIRE_ALL=true asks that tests needing an outside
// server fail instead of skipping when it is missing (set under CI).
func RequireAll() bool { return os.Getenv("MEETBOT_TEST_REQUIRE_ALL") == "true" }

// NewKey returns a random secret key.
func NewKey(tb testing.TB) []byte {
	k := make([]byte, store.KeySize)
	if _, err := rand.Read(k); err != nil {
		tb.Fatal(err)
	}
	return k
}

// harness opens one fresh database for a subtest.
type harness struct {
	t    *testing.T
	ctx  context.Context
	open Opener
	key  []byte
	s    store.Store
}

func newHarness(t *testing.T, newDB Factory) *harness {
	t.Helper()
	h := &harness{t: t, ctx: t.Context(), open: newDB(t), key: NewKey(t)}
	h.s = h.reopen(h.key)
	return h
}

// reopen opens the database again with key (and previous keys); the store is closed by t.Cleanup.
func (h *harness) reopen(key []byte, previous ...[]byte) store.Store {
	h.t.Helper()
	s, err := h.open(h.ctx, key, previous...)
	if err != nil {
		h.t.Fatalf("open store: %v", err)
	}
	h.t.Cleanup(func() {
		if err := s.Close(); err != nil {
			h.t.Errorf("close store: %v", err)
		}
	})
	return s
}

// Run runs the conformance suite against the databases newDB makes.
func Run(t *testing.T, newDB Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"Links", testLinks},
		{"LinksByMeeting", testLinksByMeeting},
		{"PIN", testPIN},
		{"Settings", testSettings},
		{"Schedules", testSchedules},
		{"ClaimRun", testClaimRun},
		{"Audit", testAudit},
		{"Leases", testLeases},
		{"LeaseExpiry", testLeaseExpiry},
		{"RenewLeases", testRenewLeases},
		{"Rosters", testRosters},
		{"KV", testKV},
		{"Reopen", testReopen},
		{"ConcurrentLinks", testConcurrentLinks},
		{"ConcurrentLeases", testConcurrentLeases},
		{"ConcurrentClaimRun", testConcurrentClaimRun},
		{"UnreadableLinks", testUnreadableLinks},
		{"KeyRotation", testKeyRotation},
		{"PauseMeeting", testPauseMeeting},
		{"Nonces", testNonces},
		{"NonceExpiry", testNonceExpiry},
		{"ConcurrentNonces", testConcurrentNonces},
		{"Prune", testPrune},
		{"BotParticipants", testBotParticipants},
		{"Attendance", testAttendance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newDB) })
	}
}

var (
	slackA  = chat.ChannelRef{Platform: "slack", Workspace: "T123", Channel: "C456"}
	slackB  = chat.ChannelRef{Platform: "slack", Workspace: "T999", Channel: "C456"} // same channel id, other workspace
	matrixA = chat.ChannelRef{Platform: "matrix", Channel: "!room:example.org"}
	console = chat.ChannelRef{Platform: "console", Channel: "console"}

	meetingA = store.MeetingRef{APIServer: "https://api.example.com", Room: "1234"}
	meetingB = store.MeetingRef{APIServer: "https://api.example.com", Room: "team@example.com"}

	// created is a fixed time with microseconds, which every backend keeps.
	created = time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
)

func link(ch chat.ChannelRef, m store.MeetingRef, pin string) store.Link {
	return store.Link{
		Channel: ch, Meeting: m, Node: "mcu1.example.com:443", Name: "Weekly " + m.Room,
		PIN: chat.Secret(pin), Role: "HOST", Cloud: "private", CloudSetByUser: true,
		CreatedBy: "U1", CreatedAt: created,
	}
}

// timeEqual compares instants, whatever their location.
var timeEqual = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

func mustDiff(t *testing.T, what string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, append(opts, timeEqual)...); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

func testLinks(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s

	if _, err := s.GetLink(ctx, slackA); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetLink of an unlinked channel: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteLink(ctx, slackA); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteLink of an unlinked channel: err = %v, want ErrNotFound", err)
	}

	want := link(slackA, meetingA, "987654")
	if err := s.PutLink(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetLink(ctx, slackA)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "GetLink after PutLink", want, got)

	// Same channel id in another workspace is another channel.
	if _, err := s.GetLink(ctx, slackB); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLink(%s) = %v, want ErrNotFound: only %s was linked", slackB, err, slackA)
	}

	// PutLink replaces the channel's link: one channel, one meeting.
	relinked := link(slackA, meetingB, "")
	relinked.Role, relinked.Cloud, relinked.CloudSetByUser, relinked.CreatedAt = "GUEST", "public", false, time.Time{}
	before := time.Now().Add(-time.Second)
	if err := s.PutLink(ctx, relinked); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetLink(ctx, slackA)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("PutLink with zero CreatedAt stored %v, want about now", got.CreatedAt)
	}
	relinked.CreatedAt = got.CreatedAt
	mustDiff(t, "GetLink after relinking", relinked, got)
	all, err := s.AllLinks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Errorf("AllLinks after relinking one channel = %d links, want 1", len(all))
	}

	if err := s.DeleteLink(ctx, slackA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLink(ctx, slackA); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLink after DeleteLink: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteLink(ctx, slackA); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteLink: err = %v, want ErrNotFound", err)
	}
}

func testLinksByMeeting(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	links := []store.Link{
		link(slackA, meetingA, "1111"),
		link(slackB, meetingB, "2222"),
		link(matrixA, meetingA, "3333"),
		link(console, meetingA, ""),
	}
	for _, l := range links {
		if err := s.PutLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	byChannel := cmpopts.SortSlices(func(a, b store.Link) bool { return a.Channel.String() < b.Channel.String() })

	got, err := s.LinksByMeeting(ctx, meetingA)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "LinksByMeeting(A)", []store.Link{links[0], links[2], links[3]}, got, byChannel)

	got, err = s.LinksByMeeting(ctx, meetingB)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "LinksByMeeting(B)", []store.Link{links[1]}, got)

	got, err = s.LinksByMeeting(ctx, store.MeetingRef{APIServer: "https://other.example.com", Room: "1234"})
	if err != nil || len(got) != 0 {
		t.Errorf("LinksByMeeting of the same room on another server = %v, %v; want none", got, err)
	}

	all, err := s.AllLinks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "AllLinks", links, all, byChannel)
}

func testPIN(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx := h.ctx
	const pin = "40917253"
	if err := h.s.PutLink(ctx, link(slackA, meetingA, pin)); err != nil {
		t.Fatal(err)
	}
	if err := h.s.PutLink(ctx, link(matrixA, meetingA, "")); err != nil {
		t.Fatal(err)
	}

	t.Run("SameKey", func(t *testing.T) {
		s := h.reopen(h.key)
		l, err := s.GetLink(ctx, slackA)
		if err != nil {
			t.Fatal(err)
		}
		if l.PIN.Reveal() != pin {
			t.Errorf("PIN after reopening with the same key is wrong (len %d, want %d)", len(l.PIN.Reveal()), len(pin))
		}
	})

	t.Run("WrongKey", func(t *testing.T) {
		s := h.reopen(NewKey(t))
		checks := map[string]func() error{
			"GetLink":        func() error { _, err := s.GetLink(ctx, slackA); return err },
			"LinksByMeeting": func() error { _, err := s.LinksByMeeting(ctx, meetingA); return err },
			"AllLinks":       func() error { _, err := s.AllLinks(ctx); return err },
		}
		for name, check := range checks {
			err := check()
			if !errors.Is(err, store.ErrWrongKey) {
				t.Errorf("%s with another key: err = %v, want ErrWrongKey", name, err)
				continue
			}
			if strings.Contains(err.Error(), pin) {
				t.Errorf("%s error reveals the PIN: %v", name, err)
			}
		}
		// A link without a PIN has nothing sealed, so it still reads.
		if _, err := s.GetLink(ctx, matrixA); err != nil {
			t.Errorf("GetLink of a link without PIN under another key: %v", err)
		}
		// Relinking under the new key makes the link readable again.
		if err := s.PutLink(ctx, link(slackA, meetingA, "5555")); err != nil {
			t.Fatal(err)
		}
		if l, err := s.GetLink(ctx, slackA); err != nil || l.PIN.Reveal() != "5555" {
			t.Errorf("GetLink after relinking under the new key: err %v", err)
		}
	})
}

func testSettings(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	got, err := s.GetSettings(ctx, slackA)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "settings of a new channel", store.DefaultSettings(), got)
	want := store.ChannelSettings{Joins: false, Leaves: true, Presentations: false, Chat: true, Threaded: false, TimeZone: "Europe/Paris",
		Waiting: false, Snapshots: true, Report: true}
	if err := s.PutSettings(ctx, slackA, want); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetSettings(ctx, slackA)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "settings after PutSettings", want, got)
	if got, _ := s.GetSettings(ctx, slackB); got != store.DefaultSettings() {
		t.Errorf("settings of another channel changed: %+v", got)
	}
	want.Joins, want.TimeZone = true, ""
	if err := s.PutSettings(ctx, slackA, want); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetSettings(ctx, slackA)
	mustDiff(t, "settings after a second PutSettings", want, got)
}

func schedule(ch chat.ChannelRef, cmd string) store.Schedule {
	return store.Schedule{
		Channel: ch, Spec: "0 9 * * 1-5", TimeZone: "Europe/Berlin", Command: cmd,
		CreatedBy: chat.UserRef{ID: "U1", Name: "Alice"}, Rights: chat.Host,
		NextRun: time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC), CreatedAt: created,
	}
}

func testSchedules(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	a1, err := s.AddSchedule(ctx, schedule(slackA, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	once := schedule(slackA, "end confirm")
	once.Spec, once.OneTime, once.NextRun, once.CreatedAt = "2026-03-06 17:00", true, time.Time{}, time.Time{}
	a2, err := s.AddSchedule(ctx, once)
	if err != nil {
		t.Fatal(err)
	}
	b1, err := s.AddSchedule(ctx, schedule(matrixA, "mute guests"))
	if err != nil {
		t.Fatal(err)
	}
	if a1.ID == 0 || a1.ID == a2.ID || a2.ID == b1.ID || a1.ID == b1.ID {
		t.Fatalf("AddSchedule IDs %d, %d, %d: want distinct and non-zero", a1.ID, a2.ID, b1.ID)
	}
	if a2.CreatedAt.IsZero() {
		t.Errorf("AddSchedule left CreatedAt zero")
	}
	want := schedule(slackA, "lock")
	want.ID = a1.ID
	mustDiff(t, "AddSchedule result", want, a1)

	list, err := s.ListSchedules(ctx, slackA)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "ListSchedules(A)", []store.Schedule{a1, a2}, list)
	all, err := s.AllSchedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "AllSchedules", []store.Schedule{a1, a2, b1}, all)

	next := time.Date(2026, 3, 6, 8, 0, 0, 0, time.UTC)
	if err := s.SetNextRun(ctx, a1.ID, next); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNextRun(ctx, b1.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNextRun(ctx, 1<<40, next); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetNextRun of an unknown schedule: err = %v, want ErrNotFound", err)
	}
	all, _ = s.AllSchedules(ctx)
	a1.NextRun, b1.NextRun = next, time.Time{}
	mustDiff(t, "AllSchedules after SetNextRun", []store.Schedule{a1, a2, b1}, all)

	// One channel cannot remove another's schedule.
	if err := s.DeleteSchedule(ctx, matrixA, a1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteSchedule from another channel: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteSchedule(ctx, slackA, a1.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSchedule(ctx, slackA, a1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteSchedule: err = %v, want ErrNotFound", err)
	}
	list, _ = s.ListSchedules(ctx, slackA)
	mustDiff(t, "ListSchedules(A) after delete", []store.Schedule{a2}, list)

	// A deleted schedule's ID is never given to a new one.
	a3, err := s.AddSchedule(ctx, schedule(slackA, "unlock"))
	if err != nil {
		t.Fatal(err)
	}
	if a3.ID == a1.ID {
		t.Errorf("AddSchedule reused deleted ID %d", a1.ID)
	}
}

func testClaimRun(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	sc, err := s.AddSchedule(ctx, schedule(slackA, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	slot := time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC)
	claim := func(slot time.Time, owner string) bool {
		t.Helper()
		ok, err := s.ClaimRun(ctx, sc.ID, slot, owner)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim(slot, "replica-1") {
		t.Fatal("first ClaimRun of a slot = false, want true")
	}
	if claim(slot, "replica-2") {
		t.Error("ClaimRun of a claimed slot by another replica = true, want false")
	}
	if claim(slot.In(time.FixedZone("CET", 3600)), "replica-1") {
		t.Error("ClaimRun of the same instant in another zone = true, want false")
	}
	if !claim(slot.Add(24*time.Hour), "replica-2") {
		t.Error("ClaimRun of the next slot = false, want true")
	}
	if ok, err := s.ClaimRun(ctx, 1<<40, slot, "replica-1"); ok || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ClaimRun of an unknown schedule = %v, %v; want false, ErrNotFound", ok, err)
	}
	if err := s.DeleteSchedule(ctx, slackA, sc.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ClaimRun(ctx, sc.ID, slot.Add(48*time.Hour), "replica-1"); ok || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ClaimRun of a deleted schedule = %v, %v; want false, ErrNotFound", ok, err)
	}
}

func testAudit(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	if es, err := s.RecentAudit(ctx, slackA, 10); err != nil || len(es) != 0 {
		t.Fatalf("RecentAudit of an empty log = %v, %v", es, err)
	}
	alice := chat.UserRef{ID: "U1", Name: "Alice"}
	var want []store.AuditEntry
	for i := range 5 {
		e := store.AuditEntry{
			Time: created.Add(time.Duration(i) * time.Minute), Channel: slackA, User: alice,
			Command: fmt.Sprintf("mute Bob %d", i), Outcome: "muted Bob", OK: i%2 == 0,
		}
		if i == 4 {
			e.Time = want[0].Time // same instant as the one before: insertion order decides
		}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append([]store.AuditEntry{e}, want...)
	}
	other := store.AuditEntry{Time: created.Add(time.Hour), Channel: slackB, User: alice, Command: "lock", Outcome: "locked", OK: true}
	if err := s.AppendAudit(ctx, other); err != nil {
		t.Fatal(err)
	}

	got, err := s.RecentAudit(ctx, slackA, 3)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "RecentAudit(A, 3)", want[:3], got)
	got, _ = s.RecentAudit(ctx, slackA, 100)
	mustDiff(t, "RecentAudit(A, 100)", want, got)
	got, _ = s.RecentAudit(ctx, slackB, 100)
	mustDiff(t, "RecentAudit(B, 100)", []store.AuditEntry{other}, got)
	if got, _ := s.RecentAudit(ctx, slackA, 0); len(got) != 0 {
		t.Errorf("RecentAudit(A, 0) = %d entries, want none", len(got))
	}

	before := time.Now().Add(-time.Second)
	if err := s.AppendAudit(ctx, store.AuditEntry{Channel: console, User: alice, Command: "who", OK: true}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.RecentAudit(ctx, console, 1)
	if len(got) != 1 || got[0].Time.Before(before) {
		t.Errorf("AppendAudit with zero Time: got %+v, want one entry stamped now", got)
	}
}

func testLeases(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	key := meetingA.Key()
	const ttl = time.Minute
	must := func(ok bool, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if owner, _, err := s.LeaseHolder(ctx, key); err != nil || owner != "" {
		t.Fatalf("LeaseHolder of a free lease = %q, %v; want \"\"", owner, err)
	}
	if !must(s.ClaimLease(ctx, key, "r1", ttl)) {
		t.Fatal("ClaimLease of a free lease = false")
	}
	if must(s.ClaimLease(ctx, key, "r2", ttl)) {
		t.Fatal("ClaimLease of a held lease by another owner = true: two owners")
	}
	if !must(s.ClaimLease(ctx, key, "r1", ttl)) {
		t.Error("ClaimLease by the owner again = false, want true")
	}
	owner, until, err := s.LeaseHolder(ctx, key)
	if err != nil || owner != "r1" {
		t.Fatalf("LeaseHolder = %q, %v; want r1", owner, err)
	}
	if d := time.Until(until); d < ttl/2 || d > 2*ttl {
		t.Errorf("lease runs until %v (in %v), want about %v from now", until, d, ttl)
	}
	if !must(s.ClaimLease(ctx, meetingB.Key(), "r2", ttl)) {
		t.Error("ClaimLease of another meeting = false: leases must be per key")
	}
	if must(s.RenewLease(ctx, key, "r2", ttl)) {
		t.Error("RenewLease by a non-owner = true")
	}
	if !must(s.RenewLease(ctx, key, "r1", ttl)) {
		t.Error("RenewLease by the owner = false")
	}
	if err := s.ReleaseLease(ctx, key, "r2"); err != nil {
		t.Fatal(err)
	}
	if owner, _, _ := s.LeaseHolder(ctx, key); owner != "r1" {
		t.Errorf("after a non-owner's ReleaseLease the holder is %q, want r1", owner)
	}
	if err := s.ReleaseLease(ctx, key, "r1"); err != nil {
		t.Fatal(err)
	}
	if owner, _, _ := s.LeaseHolder(ctx, key); owner != "" {
		t.Errorf("after ReleaseLease the holder is %q, want none", owner)
	}
	if must(s.RenewLease(ctx, key, "r1", ttl)) {
		t.Error("RenewLease after ReleaseLease = true, want false (lost)")
	}
	if !must(s.ClaimLease(ctx, key, "r2", ttl)) {
		t.Error("ClaimLease after release = false")
	}
	if _, err := s.ClaimLease(ctx, key, "r2", 0); err == nil {
		t.Error("ClaimLease with ttl 0 succeeded, want an error")
	}
}

// testRenewLeases checks the batch renewal a store may offer (one statement for all of a
// replica's leases): it renews exactly the owner's leases among the keys and says which.
func testRenewLeases(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	b, ok := s.(interface {
		RenewLeases(ctx context.Context, owner string, keys []string, ttl time.Duration) ([]string, error)
	})
	if !ok {
		t.Skip("the store renews leases one by one")
	}
	const short = 30 * time.Millisecond
	mine, theirs, gone := meetingA.Key(), meetingB.Key(), "nobody@example.com"
	if ok, err := s.ClaimLease(ctx, mine, "r1", short); err != nil || !ok {
		t.Fatalf("ClaimLease = %v, %v", ok, err)
	}
	if ok, err := s.ClaimLease(ctx, theirs, "r2", time.Minute); err != nil || !ok {
		t.Fatalf("ClaimLease = %v, %v", ok, err)
	}
	held, err := b.RenewLeases(ctx, "r1", []string{mine, theirs, gone}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || held[0] != mine {
		t.Errorf("RenewLeases = %q, want only %q (the others are another's or no one's)", held, mine)
	}
	if _, until, _ := s.LeaseHolder(ctx, mine); time.Until(until) < 30*time.Second {
		t.Errorf("after RenewLeases the lease runs until %v, want about a minute from now", until)
	}
	if owner, _, _ := s.LeaseHolder(ctx, theirs); owner != "r2" {
		t.Errorf("another owner's lease is held by %q after RenewLeases, want r2", owner)
	}
	if held, err := b.RenewLeases(ctx, "r1", nil, time.Minute); err != nil || len(held) != 0 {
		t.Errorf("RenewLeases of no keys = %q, %v", held, err)
	}
	if _, err := b.RenewLeases(ctx, "r1", []string{mine}, 0); err == nil {
		t.Error("RenewLeases with ttl 0 succeeded, want an error")
	}
}

func testLeaseExpiry(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	key := meetingA.Key()
	const short = 30 * time.Millisecond
	if ok, err := s.ClaimLease(ctx, key, "r1", short); err != nil || !ok {
		t.Fatalf("ClaimLease = %v, %v", ok, err)
	}
	// Wait for the lease to lapse by the database's clock (the sleep only saves queries).
	for {
		time.Sleep(short)
		owner, _, err := s.LeaseHolder(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if owner == "" {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("lease never lapsed")
		}
	}
	if ok, err := s.ClaimLease(ctx, key, "r2", time.Minute); err != nil || !ok {
		t.Fatalf("ClaimLease of a lapsed lease = %v, %v; want true", ok, err)
	}
	if ok, err := s.RenewLease(ctx, key, "r1", time.Minute); err != nil || ok {
		t.Errorf("RenewLease by the old owner after another claimed = %v, %v; want false (lost)", ok, err)
	}
	if ok, err := s.ClaimLease(ctx, key, "r1", time.Minute); err != nil || ok {
		t.Errorf("ClaimLease by the old owner = %v, %v; want false", ok, err)
	}
	if owner, _, _ := s.LeaseHolder(ctx, key); owner != "r2" {
		t.Errorf("holder = %q, want r2", owner)
	}
}

func testRosters(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	key := meetingA.Key()
	if got, err := s.LoadRoster(ctx, key); err != nil || got != nil {
		t.Fatalf("LoadRoster of a meeting never saved = %v, %v; want nil", got, err)
	}
	want := []store.RosterEntry{
		{UUID: "u-2", Name: "Zoë", Role: "chair", Presenting: true},
		{UUID: "u-1", Name: "王小明", Role: "guest"},
	}
	if err := s.SaveRoster(ctx, key, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadRoster(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "LoadRoster", want, got)
	if got, _ := s.LoadRoster(ctx, meetingB.Key()); got != nil {
		t.Errorf("LoadRoster of another meeting = %v, want nil", got)
	}
	// An empty meeting is a saved roster too, unlike one never saved.
	if err := s.SaveRoster(ctx, key, nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.LoadRoster(ctx, key)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("LoadRoster after saving an empty roster = %#v, %v; want empty, not nil", got, err)
	}
}

func testKV(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	if _, err := s.GetValue(ctx, "matrix.sync_token"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetValue of a missing key: err = %v, want ErrNotFound", err)
	}
	for _, v := range []string{"s72594_4483_1934", "", "s72600_4490_1934"} {
		if err := s.PutValue(ctx, "matrix.sync_token", v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetValue(ctx, "matrix.sync_token"); err != nil || got != v {
			t.Errorf("GetValue after PutValue(%q) = %q, %v", v, got, err)
		}
	}
}

func testReopen(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	l := link(slackA, meetingA, "1234")
	sc := schedule(slackA, "lock")
	e := store.AuditEntry{Time: created, Channel: slackA, User: chat.UserRef{ID: "U1"}, Command: "lock", Outcome: "locked", OK: true}
	set := store.ChannelSettings{Chat: true, TimeZone: "UTC"}
	roster := []store.RosterEntry{{UUID: "u-1", Name: "Bob"}}
	steps := []error{
		s.PutLink(ctx, l), s.PutSettings(ctx, slackA, set), s.AppendAudit(ctx, e),
		s.SaveRoster(ctx, meetingA.Key(), roster), s.PutValue(ctx, "k", "v"),
	}
	sc, err := s.AddSchedule(ctx, sc)
	for _, err := range append(steps, err) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.ClaimLease(ctx, "lease", "r1", time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}

	s = h.reopen(h.key)
	gotLink, err := s.GetLink(ctx, slackA)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "link after reopen", l, gotLink)
	gotSet, _ := s.GetSettings(ctx, slackA)
	mustDiff(t, "settings after reopen", set, gotSet)
	gotSc, _ := s.AllSchedules(ctx)
	mustDiff(t, "schedules after reopen", []store.Schedule{sc}, gotSc)
	gotAudit, _ := s.RecentAudit(ctx, slackA, 10)
	mustDiff(t, "audit after reopen", []store.AuditEntry{e}, gotAudit)
	gotRoster, _ := s.LoadRoster(ctx, meetingA.Key())
	mustDiff(t, "roster after reopen", roster, gotRoster)
	if v, err := s.GetValue(ctx, "k"); err != nil || v != "v" {
		t.Errorf("value after reopen = %q, %v", v, err)
	}
	if owner, _, _ := s.LeaseHolder(ctx, "lease"); owner != "r1" {
		t.Errorf("lease holder after reopen = %q, want r1", owner)
	}
}

// workers is how many goroutines the concurrency tests run at once.
const workers = 8

func testConcurrentLinks(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	const perWorker = 24
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				ch := chat.ChannelRef{Platform: "slack", Workspace: fmt.Sprintf("T%d", w), Channel: fmt.Sprintf("C%d", i)}
				m := meetingA
				if i%2 == 1 {
					m = meetingB
				}
				if err := s.PutLink(ctx, link(ch, m, fmt.Sprintf("%04d", i))); err != nil {
					errs <- err
					return
				}
				if i%3 == 0 { // unlink every third channel again
					if err := s.DeleteLink(ctx, ch); err != nil {
						errs <- err
						return
					}
				}
				if _, err := s.LinksByMeeting(ctx, m); err != nil {
					errs <- err
					return
				}
				if _, err := s.ClaimLease(ctx, m.Key(), fmt.Sprintf("w%d", w), time.Minute); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := s.AllLinks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	perMeeting := map[store.MeetingRef]int{}
	for _, l := range all {
		perMeeting[l.Meeting]++
		var w, i int
		if _, err := fmt.Sscanf(l.Channel.Workspace+" "+l.Channel.Channel, "T%d C%d", &w, &i); err != nil || i%3 == 0 {
			t.Errorf("unexpected link of %s", l.Channel)
		}
		if l.PIN.Reveal() != fmt.Sprintf("%04d", i) {
			t.Errorf("link of %s has another channel's PIN", l.Channel)
		}
	}
	kept := workers * (perWorker - perWorker/3)
	if len(all) != kept {
		t.Errorf("after concurrent linking: %d links, want %d (lost %d)", len(all), kept, kept-len(all))
	}
	// Channels 0..23: odd ones on B (12, of which 1,3,...: 4 multiples of 3), even on A.
	if perMeeting[meetingA]+perMeeting[meetingB] != len(all) || perMeeting[meetingA] != workers*8 || perMeeting[meetingB] != workers*8 {
		t.Errorf("links per meeting = %v, want %d each", perMeeting, workers*8)
	}
}

// replicas opens the harness's database n times, as n bot replicas would; worker w uses
// replicas[w%n].
func (h *harness) replicas(n int) []store.Store {
	rs := []store.Store{h.s}
	for len(rs) < n {
		rs = append(rs, h.reopen(h.key))
	}
	return rs
}

// race starts workers claimers at the same instant and returns how many of them won.
func race(t *testing.T, claim func(worker int) (bool, error)) int32 {
	var winners atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			ok, err := claim(w)
			if err != nil {
				t.Error(err)
			}
			if ok {
				winners.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return winners.Load()
}

func testConcurrentLeases(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, rs := h.ctx, h.replicas(3)

	t.Run("FirstClaim", func(t *testing.T) {
		// Many replicas claim a fresh lease at once: exactly one wins.
		for round := range 10 {
			key := fmt.Sprintf("first-%d", round)
			n := race(t, func(w int) (bool, error) {
				return rs[w%len(rs)].ClaimLease(ctx, key, fmt.Sprintf("r%d", w), time.Minute)
			})
			if n != 1 {
				t.Fatalf("round %d: %d replicas won a fresh lease at once, want exactly 1", round, n)
			}
		}
	})

	t.Run("Handover", func(t *testing.T) {
		// Replicas claim, hold, renew and release one lease in a loop; at no moment do two of
		// them believe they own it.
		const key = "handover"
		var holders, maxHolders, wins atomic.Int32
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				me, s := fmt.Sprintf("r%d", w), rs[w%len(rs)]
				for range 30 {
					ok, err := s.ClaimLease(ctx, key, me, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						continue
					}
					wins.Add(1)
					n := holders.Add(1)
					for {
						m := maxHolders.Load()
						if n <= m || maxHolders.CompareAndSwap(m, n) {
							break
						}
					}
					if ok, err := s.RenewLease(ctx, key, me, time.Minute); err != nil || !ok {
						t.Errorf("%s: RenewLease of a held lease = %v, %v", me, ok, err)
					}
					holders.Add(-1)
					if err := s.ReleaseLease(ctx, key, me); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if m := maxHolders.Load(); m != 1 {
			t.Errorf("at most %d replicas held the lease at once, want 1", m)
		}
		if wins.Load() == 0 {
			t.Error("no replica ever won the lease")
		}
	})
}

func testConcurrentClaimRun(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, rs := h.ctx, h.replicas(3)
	sc, err := rs[0].AddSchedule(ctx, schedule(slackA, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	slot := time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC)
	for round := range 10 {
		n := race(t, func(w int) (bool, error) {
			return rs[w%len(rs)].ClaimRun(ctx, sc.ID, slot.Add(time.Duration(round)*time.Minute), fmt.Sprintf("r%d", w))
		})
		if n != 1 {
			t.Fatalf("slot %d ran %d times across replicas, want exactly once", round, n)
		}
	}
}
