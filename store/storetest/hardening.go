package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// unreadable checks that err is an *UnreadableLinksError naming exactly want, wrapping
// ErrWrongKey, and that its text holds none of pins.
func unreadable(t *testing.T, what string, err error, want []chat.ChannelRef, pins ...string) {
	t.Helper()
	var ue *store.UnreadableLinksError
	if !errors.As(err, &ue) {
		t.Errorf("%s: err = %v, want an *UnreadableLinksError", what, err)
		return
	}
	if !errors.Is(err, store.ErrWrongKey) {
		t.Errorf("%s: %v does not wrap ErrWrongKey", what, err)
	}
	mustDiff(t, what+": unreadable channels", want, ue.Channels)
	for _, p := range pins {
		if strings.Contains(err.Error(), p) {
			t.Errorf("%s: error reveals a PIN: %v", what, err)
		}
	}
}

// testUnreadableLinks: one link sealed under another key must not hide the good ones, and can be
// unlinked.
func testUnreadableLinks(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx := h.ctx
	oldKey := NewKey(t)
	old := h.reopen(oldKey)
	bad := link(slackB, meetingA, "70707070")
	if err := old.PutLink(ctx, bad); err != nil {
		t.Fatal(err)
	}
	good := []store.Link{link(slackA, meetingA, "1111"), link(console, meetingA, ""), link(matrixA, meetingB, "3333")}
	for _, l := range good {
		if err := h.s.PutLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	s := h.s

	all, err := s.AllLinks(ctx)
	unreadable(t, "AllLinks", err, []chat.ChannelRef{slackB}, bad.PIN.Reveal())
	byChannel := func(ls []store.Link) []store.Link {
		return slices.SortedFunc(slices.Values(ls), func(a, b store.Link) int { return strings.Compare(a.Channel.String(), b.Channel.String()) })
	}
	mustDiff(t, "AllLinks beside an unreadable link", byChannel(good), byChannel(all))

	byA, err := s.LinksByMeeting(ctx, meetingA)
	unreadable(t, "LinksByMeeting", err, []chat.ChannelRef{slackB}, bad.PIN.Reveal())
	mustDiff(t, "LinksByMeeting beside an unreadable link", byChannel(good[:2]), byChannel(byA))
	if byB, err := s.LinksByMeeting(ctx, meetingB); err != nil || len(byB) != 1 {
		t.Errorf("LinksByMeeting of a meeting with only readable links = %d links, %v; want 1, nil", len(byB), err)
	}
	if _, err := s.GetLink(ctx, slackB); !errors.Is(err, store.ErrWrongKey) {
		t.Errorf("GetLink of the unreadable link: err = %v, want ErrWrongKey", err)
	}

	// Unlinking never needs the PIN.
	if err := s.DeleteLink(ctx, slackB); err != nil {
		t.Fatalf("DeleteLink of a link sealed under another key: %v", err)
	}
	if all, err := s.AllLinks(ctx); err != nil || len(all) != len(good) {
		t.Errorf("AllLinks after unlinking the unreadable link = %d links, %v; want %d, nil", len(all), err, len(good))
	}
}

// testKeyRotation: links made under an old key read under a new key given the old as previous,
// ResealLinks moves them to the new key, and then the old key is no longer needed.
func testKeyRotation(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx := h.ctx
	oldKey, newKey, lostKey := h.key, NewKey(t), NewKey(t)
	var want []store.Link
	for i := range 6 {
		ch := chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: fmt.Sprintf("C%02d", i)}
		pin := fmt.Sprintf("%06d", 100000+i*7919)
		if i == 5 {
			pin = "" // nothing sealed: nothing to reseal
		}
		want = append(want, link(ch, meetingA, pin))
		if err := h.s.PutLink(ctx, want[i]); err != nil {
			t.Fatal(err)
		}
	}
	lost := link(matrixA, meetingB, "424242") // sealed under a key nobody has any more
	if err := h.reopen(lostKey).PutLink(ctx, lost); err != nil {
		t.Fatal(err)
	}

	rotating := h.reopen(newKey, oldKey)
	for _, l := range want {
		got, err := rotating.GetLink(ctx, l.Channel)
		if err != nil {
			t.Fatalf("GetLink under the new key with the old as previous: %v", err)
		}
		mustDiff(t, "link read with a previous key", l, got)
	}
	// A link put now is sealed under the new key and needs no resealing.
	fresh := link(chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C99"}, meetingA, "999999")
	if err := rotating.PutLink(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	n, err := rotating.ResealLinks(ctx)
	unreadable(t, "ResealLinks with a link no key opens", err, []chat.ChannelRef{matrixA}, lost.PIN.Reveal())
	if n != 5 {
		t.Errorf("ResealLinks = %d, want 5 (the links with a PIN sealed under the old key)", n)
	}
	if err := rotating.DeleteLink(ctx, matrixA); err != nil {
		t.Fatal(err)
	}
	if n, err := rotating.ResealLinks(ctx); n != 0 || err != nil {
		t.Errorf("second ResealLinks = %d, %v; want 0, nil", n, err)
	}

	s := h.reopen(newKey)
	all, err := s.AllLinks(ctx)
	if err != nil {
		t.Fatalf("AllLinks under the new key alone after resealing: %v", err)
	}
	byChannel := func(a, b store.Link) int { return strings.Compare(a.Channel.String(), b.Channel.String()) }
	mustDiff(t, "links under the new key alone", slices.SortedFunc(slices.Values(append(want, fresh)), byChannel),
		slices.SortedFunc(slices.Values(all), byChannel))
	for _, l := range append(want, fresh) {
		got, err := s.GetLink(ctx, l.Channel)
		if err != nil || got.PIN.Reveal() != l.PIN.Reveal() {
			t.Errorf("PIN of %s under the new key alone does not read back (err %v)", l.Channel, err)
		}
	}
	if _, err := h.reopen(oldKey).GetLink(ctx, want[0].Channel); !errors.Is(err, store.ErrWrongKey) {
		t.Errorf("GetLink with the old key after resealing: err = %v, want ErrWrongKey", err)
	}
}

func testPauseMeeting(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	for _, l := range []store.Link{link(slackA, meetingA, "1"), link(matrixA, meetingA, "2"), link(slackB, meetingB, "3")} {
		if err := s.PutLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if l, _ := s.GetLink(ctx, slackA); l.Paused || l.PausedReason != "" {
		t.Fatalf("a new link is paused (%q)", l.PausedReason)
	}
	const reason = "a host removed meetbot from the meeting"
	if err := s.PauseMeeting(ctx, meetingA, reason); err != nil {
		t.Fatal(err)
	}
	ls, err := s.LinksByMeeting(ctx, meetingA)
	if err != nil || len(ls) != 2 {
		t.Fatalf("LinksByMeeting = %d, %v", len(ls), err)
	}
	for _, l := range ls {
		if !l.Paused || l.PausedReason != reason {
			t.Errorf("link of %s after PauseMeeting: paused %v (%q), want paused (%q)", l.Channel, l.Paused, l.PausedReason, reason)
		}
	}
	if l, _ := h.reopen(h.key).GetLink(ctx, matrixA); !l.Paused {
		t.Error("a paused link is not paused after reopening")
	}
	if l, _ := s.GetLink(ctx, slackB); l.Paused {
		t.Error("PauseMeeting paused a link of another meeting")
	}
	// Linking again resumes, whatever the link given says.
	relink := link(slackA, meetingA, "1")
	relink.Paused, relink.PausedReason = true, "ignored"
	if err := s.PutLink(ctx, relink); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.GetLink(ctx, slackA); l.Paused || l.PausedReason != "" {
		t.Errorf("link after PutLink: paused %v (%q), want unpaused", l.Paused, l.PausedReason)
	}
	if l, _ := s.GetLink(ctx, matrixA); !l.Paused {
		t.Error("relinking one channel resumed another channel's link")
	}
	if err := s.PauseMeeting(ctx, store.MeetingRef{APIServer: "https://api.example.com", Room: "none"}, reason); err != nil {
		t.Errorf("PauseMeeting of a meeting without links: %v, want nil", err)
	}
}

func testNonces(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, rs := h.ctx, h.replicas(2)
	claim := func(s store.Store, key string) bool {
		t.Helper()
		ok, err := s.ClaimNonce(ctx, key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim(rs[0], "v0=abcdef") {
		t.Fatal("first ClaimNonce = false, want true")
	}
	if claim(rs[0], "v0=abcdef") {
		t.Error("second ClaimNonce of the same key = true: a replay passes")
	}
	if claim(rs[1], "v0=abcdef") {
		t.Error("ClaimNonce of the same key on another replica = true: a replay to another replica passes")
	}
	if !claim(rs[1], "v0=abcdeF") {
		t.Error("ClaimNonce of another key = false: keys are opaque and compared exactly")
	}
	if _, err := rs[0].ClaimNonce(ctx, "k", 0); err == nil {
		t.Error("ClaimNonce with ttl 0 succeeded, want an error")
	}
}

func testNonceExpiry(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	const short = 30 * time.Millisecond
	if ok, err := s.ClaimNonce(ctx, "k", short); err != nil || !ok {
		t.Fatalf("ClaimNonce = %v, %v", ok, err)
	}
	if ok, err := s.ClaimNonce(ctx, "long", time.Hour); err != nil || !ok {
		t.Fatalf("ClaimNonce = %v, %v", ok, err)
	}
	// Wait for the nonce to lapse by the database's clock (the sleep only saves queries).
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(short)
		ok, err := s.ClaimNonce(ctx, "k", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nonce never lapsed")
		}
	}
	if ok, _ := s.ClaimNonce(ctx, "k", time.Hour); ok {
		t.Error("ClaimNonce right after reclaiming an expired nonce = true, want false")
	}
	if ok, _ := s.ClaimNonce(ctx, "long", time.Hour); ok {
		t.Error("ClaimNonce of an unexpired nonce = true after another expired")
	}
}

func testConcurrentNonces(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, rs := h.ctx, h.replicas(3)
	for round := range 10 {
		key := fmt.Sprintf("nonce-%d", round)
		n := race(t, func(w int) (bool, error) { return rs[w%len(rs)].ClaimNonce(ctx, key, time.Minute) })
		if n != 1 {
			t.Fatalf("round %d: %d claims of one nonce were fresh at once, want exactly 1", round, n)
		}
	}
}

func testPrune(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, s := h.ctx, h.s
	alice := chat.UserRef{ID: "U1", Name: "Alice"}
	for i := range 5 {
		e := store.AuditEntry{Time: created.Add(time.Duration(i) * time.Hour), Channel: slackA, User: alice, Command: "lock", OK: true}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := s.AddSchedule(ctx, schedule(slackA, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	slot := time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC)
	for i := range 3 {
		if ok, err := s.ClaimRun(ctx, sc.ID, slot.Add(time.Duration(i)*time.Hour), "r1"); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if ok, err := s.ClaimNonce(ctx, "short", time.Millisecond); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, err := s.ClaimNonce(ctx, "long", time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}

	// Audit entries before the cut go; runs claimed just now stay.
	r, err := s.Prune(ctx, created.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r.Audit != 2 || r.ScheduleRuns != 0 {
		t.Errorf("Prune(created+2h) = %+v, want 2 audit entries and no runs", r)
	}
	left, _ := s.RecentAudit(ctx, slackA, 10)
	if len(left) != 3 || !left[len(left)-1].Time.Equal(created.Add(2*time.Hour)) {
		t.Errorf("audit after pruning = %d entries (oldest %v), want 3 from created+2h", len(left), left)
	}
	if ok, _ := s.ClaimRun(ctx, sc.ID, slot, "r2"); ok {
		t.Error("a run claimed after the cut was pruned: its slot can be claimed again")
	}

	// The short nonce expires by the database's clock, and one Prune or another deletes it.
	total := store.PruneResult{Nonces: r.Nonces}
	for deadline := time.Now().Add(10 * time.Second); ; {
		r, err = s.Prune(ctx, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		total.Audit, total.ScheduleRuns, total.Nonces = total.Audit+r.Audit, total.ScheduleRuns+r.ScheduleRuns, total.Nonces+r.Nonces
		if total.Nonces > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // only saves queries
	}
	if total != (store.PruneResult{Audit: 3, ScheduleRuns: 3, Nonces: 1}) {
		t.Errorf("Prune(now+1h) deleted %+v, want 3 audit entries, 3 runs and the 1 expired nonce", total)
	}
	if ok, _ := s.ClaimNonce(ctx, "long", time.Hour); ok {
		t.Error("Prune deleted a nonce that had not expired: a replay passes")
	}
	if es, _ := s.RecentAudit(ctx, slackA, 10); len(es) != 0 {
		t.Errorf("audit after pruning everything = %d entries", len(es))
	}
	if list, _ := s.ListSchedules(ctx, slackA); len(list) != 1 {
		t.Errorf("Prune removed schedules: %d left, want 1", len(list))
	}
}

func testBotParticipants(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, rs := h.ctx, h.replicas(2)
	a, b := meetingA.Key(), meetingB.Key()
	for _, step := range []struct{ m, uuid string }{{a, "u-2"}, {a, "u-1"}, {a, "u-2"}, {b, "u-3"}} {
		if err := rs[0].AddBotParticipant(ctx, step.m, step.uuid); err != nil {
			t.Fatal(err)
		}
	}
	got, err := rs[1].BotParticipants(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "BotParticipants(A) seen by another replica", []string{"u-1", "u-2"}, got)
	if err := rs[1].RemoveBotParticipant(ctx, a, "u-2"); err != nil {
		t.Fatal(err)
	}
	if err := rs[1].RemoveBotParticipant(ctx, a, "u-unknown"); err != nil {
		t.Errorf("RemoveBotParticipant of one never added: %v, want nil", err)
	}
	got, _ = rs[0].BotParticipants(ctx, a)
	mustDiff(t, "BotParticipants(A) after removing u-2", []string{"u-1"}, got)
	got, _ = rs[0].BotParticipants(ctx, b)
	mustDiff(t, "BotParticipants(B)", []string{"u-3"}, got)
	if got, err := rs[0].BotParticipants(ctx, "https://none#0"); err != nil || len(got) != 0 {
		t.Errorf("BotParticipants of a meeting without any = %v, %v; want none", got, err)
	}
}

// CheckUnavailable calls every method of s, whose database the caller has made unreachable, and
// checks that each error wraps store.ErrUnavailable. Backends run it after cutting their database
// off (a closed port, a file that cannot be opened).
func CheckUnavailable(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	l := link(slackA, meetingA, "1234")
	checks := map[string]func() error{
		"PutLink":              func() error { return s.PutLink(ctx, l) },
		"GetLink":              func() error { _, err := s.GetLink(ctx, slackA); return err },
		"DeleteLink":           func() error { return s.DeleteLink(ctx, slackA) },
		"LinksByMeeting":       func() error { _, err := s.LinksByMeeting(ctx, meetingA); return err },
		"AllLinks":             func() error { _, err := s.AllLinks(ctx); return err },
		"PauseMeeting":         func() error { return s.PauseMeeting(ctx, meetingA, "r") },
		"ResealLinks":          func() error { _, err := s.ResealLinks(ctx); return err },
		"GetSettings":          func() error { _, err := s.GetSettings(ctx, slackA); return err },
		"PutSettings":          func() error { return s.PutSettings(ctx, slackA, store.DefaultSettings()) },
		"AddSchedule":          func() error { _, err := s.AddSchedule(ctx, schedule(slackA, "lock")); return err },
		"DeleteSchedule":       func() error { return s.DeleteSchedule(ctx, slackA, 1) },
		"ListSchedules":        func() error { _, err := s.ListSchedules(ctx, slackA); return err },
		"AllSchedules":         func() error { _, err := s.AllSchedules(ctx); return err },
		"SetNextRun":           func() error { return s.SetNextRun(ctx, 1, created) },
		"ClaimRun":             func() error { _, err := s.ClaimRun(ctx, 1, created, "r1"); return err },
		"AppendAudit":          func() error { return s.AppendAudit(ctx, store.AuditEntry{Channel: slackA, Command: "lock"}) },
		"RecentAudit":          func() error { _, err := s.RecentAudit(ctx, slackA, 5); return err },
		"ClaimLease":           func() error { _, err := s.ClaimLease(ctx, "k", "r1", time.Minute); return err },
		"RenewLease":           func() error { _, err := s.RenewLease(ctx, "k", "r1", time.Minute); return err },
		"ReleaseLease":         func() error { return s.ReleaseLease(ctx, "k", "r1") },
		"LeaseHolder":          func() error { _, _, err := s.LeaseHolder(ctx, "k"); return err },
		"SaveRoster":           func() error { return s.SaveRoster(ctx, "k", nil) },
		"LoadRoster":           func() error { _, err := s.LoadRoster(ctx, "k"); return err },
		"GetValue":             func() error { _, err := s.GetValue(ctx, "k"); return err },
		"PutValue":             func() error { return s.PutValue(ctx, "k", "v") },
		"ClaimNonce":           func() error { _, err := s.ClaimNonce(ctx, "n", time.Minute); return err },
		"Prune":                func() error { _, err := s.Prune(ctx, created); return err },
		"AddBotParticipant":    func() error { return s.AddBotParticipant(ctx, "k", "u") },
		"RemoveBotParticipant": func() error { return s.RemoveBotParticipant(ctx, "k", "u") },
		"BotParticipants":      func() error { _, err := s.BotParticipants(ctx, "k"); return err },
	}
	for _, name := range slices.Sorted(maps.Keys(checks)) {
		if err := checks[name](); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with the database unreachable: err = %v, want ErrUnavailable", name, err)
		}
	}
}
