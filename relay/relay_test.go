package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings/sim"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/sqlite"
)

// follow links channel name to room number and hands the link command's session to r.Follow,
// then waits until r listens with the meeting's baseline.
func (h *harness) follow(r *running, name, number string) store.Link {
	h.t.Helper()
	l := h.link(name, number)
	if err := r.Follow(context.Background(), l, h.open(l)); err != nil {
		h.t.Fatal(err)
	}
	eventually(h.t, "listener primed", func() bool { return r.listens(l) })
	return l
}

// expect waits until ch's lines are want, then checks that nothing more arrives in a short while.
func (h *harness) expect(c chat.ChannelRef, want ...string) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(h.lines(c)) < len(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := h.lines(c); !sameLines(got, want) {
		h.t.Fatalf("lines posted to %s:\n got %q\nwant %q", c, got, want)
	}
}

func TestLinkAnnouncesNothingThenExactNotifications(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1001")
	alice := join1(room, "Alice")
	bob := join1(room, "Bob")
	r := h.supervisor("r1", nil, nil)
	l := h.follow(r, "team", "1001")

	carol := room.Join(sim.ParticipantSpec{Name: "Carol", Role: "chair"})
	h.expect(l.Channel, "Carol joined (host)")
	room.Leave(bob)
	h.expect(l.Channel, "Carol joined (host)", "Bob left")
	room.Present(alice, true)
	h.expect(l.Channel, "Carol joined (host)", "Bob left", "Alice started presenting")
	room.Present(alice, false)
	h.expect(l.Channel, "Carol joined (host)", "Bob left", "Alice started presenting", "Alice stopped presenting")

	ps, err := r.Roster(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.DisplayName)
	}
	if fmt.Sprint(names) != "[Alice Carol]" {
		t.Errorf("roster for commands = %v, want [Alice Carol] (no bot)", names)
	}

	room.Leave(alice)
	room.Leave(carol)
	eventually(t, "meeting ended", func() bool {
		ls := h.lines(l.Channel)
		return len(ls) > 0 && strings.HasPrefix(ls[len(ls)-1], "The meeting ended")
	})
	ls := h.lines(l.Channel)
	counts, _ := tally(ls)
	if counts["left"] != 3 {
		t.Errorf("lines %q: want Bob, Alice and Carol to have left", ls)
	}
	end := ls[len(ls)-1]
	if !strings.Contains(end, "3 at most, 3 people in all; Alice presented") {
		t.Errorf("summary = %q, want 3 at most, 3 people, Alice presented", end)
	}
}

func TestSettingsAndChat(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1002")
	alice := join1(room, "Alice")
	r := h.supervisor("r1", nil, nil)
	l := h.follow(r, "team", "1002")
	ctx := context.Background()
	if err := h.store.PutSettings(ctx, l.Channel, store.ChannelSettings{Joins: false, Leaves: true, Chat: true, Threaded: true}); err != nil {
		t.Fatal(err)
	}
	join1(room, "Bob") // joins are off: not posted
	room.Chat(alice, "hello <!channel>")
	h.expect(l.Channel, "Alice: hello <!channel>")

	// The bot's own `say` is not echoed back.
	sess, err := r.Session(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.SendMessage(ctx, "from the bot"); err != nil {
		t.Fatal(err)
	}
	room.Chat(alice, "after")
	h.expect(l.Channel, "Alice: hello <!channel>", "Alice: after")
	h.rec.mu.Lock()
	threaded := h.rec.posts[l.Channel][0].Threaded
	h.rec.mu.Unlock()
	if !threaded {
		t.Error("Threaded not copied from the channel's settings")
	}
}

func TestJoinStormOfFiveHundred(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1003")
	h.rec.hook = func(ctx context.Context, _ chat.ChannelRef, _ int, _ chat.Notification) error {
		time.Sleep(50 * time.Millisecond) // a slow chat service
		return nil
	}
	r := h.supervisor("r1", nil, func(s *Supervisor) { s.Pace = time.Second })
	l := h.follow(r, "team", "1003")
	const n = 500
	for i := range n {
		join1(room, fmt.Sprintf("Person %03d", i))
	}
	eventually(t, "every join posted", func() bool {
		counts, _ := tally(h.lines(l.Channel))
		return counts["joined"] >= n
	})
	h.flush(r, room, l)
	texts := h.rec.texts(l.Channel)
	counts, shown := tally(texts)
	if counts["joined"] != n {
		t.Errorf("posts account for %d joins, want exactly %d", counts["joined"], n)
	}
	for name, k := range shown["joined"] {
		if k != 1 {
			t.Errorf("%s named %d times", name, k)
		}
	}
	if len(texts) > 10 {
		t.Errorf("a storm of %d joins took %d messages, want a few", n, len(texts))
	}
	t.Logf("%d joins in %d messages: %q", n, len(texts), texts)
}

func TestRateLimitedChannelDelaysAndCoalesces(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1004")
	h.rec.hook = func(ctx context.Context, _ chat.ChannelRef, call int, _ chat.Notification) error {
		if call <= 2 {
			return &chat.RateLimitError{RetryAfter: 150 * time.Millisecond, Err: errors.New("ratelimited")}
		}
		return nil
	}
	r := h.supervisor("r1", nil, nil)
	l := h.follow(r, "team", "1004")
	ids := []string{join1(room, "Alice"), join1(room, "Bob"), join1(room, "Carol")}
	room.Leave(ids[1])
	eventually(t, "posted", func() bool {
		counts, _ := tally(h.lines(l.Channel))
		return counts["joined"] == 3 && counts["left"] == 1
	})
	h.flush(r, room, l)
	counts, shown := tally(h.lines(l.Channel))
	if counts["joined"] != 3 || counts["left"] != 1 || shown["joined"]["Bob"] != 1 || shown["left"]["Bob"] != 1 {
		t.Errorf("lines %q: want Alice, Bob, Carol joined once and Bob left once", h.lines(l.Channel))
	}
	if h.rec.callCount(l.Channel) < 3 {
		t.Errorf("Post called %d times, want the two refusals then the post", h.rec.callCount(l.Channel))
	}
}

// Clarification 4: a reconnect's sync reports who joined and left during the gap, once.
func TestDroppedStreamReportsTheGapOnce(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1005")
	join1(room, "Alice")
	bob := join1(room, "Bob")
	r := h.supervisor("r1", nil, nil)
	l := h.follow(r, "team", "1005")
	before := h.obs.reconnects.Load()

	h.sim.FailNext("events", 503, 3) // keep the stream down a while
	room.DropStreams()
	join1(room, "Carol")
	room.Leave(bob)
	eventually(t, "stream back", func() bool { return h.obs.reconnects.Load() > before })
	eventually(t, "gap reported", func() bool { return len(h.lines(l.Channel)) >= 2 })
	h.flush(r, room, l)
	counts, shown := tally(h.lines(l.Channel))
	if counts["joined"] != 1 || shown["joined"]["Carol"] != 1 || counts["left"] != 1 || shown["left"]["Bob"] != 1 {
		t.Errorf("lines %q: want Carol joined and Bob left, once each, Alice not re-announced", h.lines(l.Channel))
	}
}

func TestRestartReportsOnlyTheGap(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1006")
	join1(room, "Alice")
	bob := join1(room, "Bob")
	r1 := h.supervisor("r1", nil, func(s *Supervisor) { s.LeaseTTL = time.Minute })
	l := h.follow(r1, "team", "1006")
	eventually(t, "roster saved", func() bool { return len(h.savedRoster(l)) == 2 })
	r1.stop()
	if owner, _, _ := h.store.LeaseHolder(context.Background(), leasePrefix+l.Meeting.Key()); owner != "" {
		t.Errorf("lease still held by %q after a graceful stop", owner)
	}

	join1(room, "Carol")
	room.Leave(bob)
	r2 := h.supervisor("r2", nil, func(s *Supervisor) { s.LeaseTTL = time.Minute })
	eventually(t, "resumed", func() bool { return r2.listens(l) })
	eventually(t, "gap reported", func() bool { return len(h.lines(l.Channel)) >= 2 })
	h.flush(r2, room, l)
	if got, want := h.lines(l.Channel), []string{"Carol joined (guest)", "Bob left"}; !sameLines(got, want) {
		t.Errorf("after restart posted %q, want %q", got, want)
	}
}

func TestResumeOfStoredLinkWithoutRosterIsSilent(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1007")
	join1(room, "Alice")
	l := h.link("team", "1007") // linked by an earlier run that never listened
	r := h.supervisor("r1", nil, nil)
	eventually(t, "resumed", func() bool { return r.listens(l) })
	join1(room, "Bob")
	h.expect(l.Channel, "Bob joined (guest)")
}

func TestTwoChannelsShareOneListener(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1008")
	r := h.supervisor("r1", nil, nil)
	a := h.follow(r, "a", "1008")
	b := h.follow(r, "b", "1008")
	join1(room, "Alice")
	h.expect(a.Channel, "Alice joined (guest)")
	h.expect(b.Channel, "Alice joined (guest)")

	ctx := context.Background()
	if err := h.store.DeleteLink(ctx, a.Channel); err != nil {
		t.Fatal(err)
	}
	if err := r.Unfollow(ctx, a); err != nil {
		t.Fatal(err)
	}
	join1(room, "Bob")
	h.expect(b.Channel, "Alice joined (guest)", "Bob joined (guest)")
	h.expect(a.Channel, "Alice joined (guest)")

	if err := h.store.DeleteLink(ctx, b.Channel); err != nil {
		t.Fatal(err)
	}
	if err := r.Unfollow(ctx, b); err != nil {
		t.Fatal(err)
	}
	if len(r.Listening()) != 0 {
		t.Errorf("still listening to %v after the last unlink", r.Listening())
	}
	if owner, _, _ := h.store.LeaseHolder(ctx, leasePrefix+b.Meeting.Key()); owner != "" {
		t.Errorf("lease still held by %q after the last unlink", owner)
	}
}

func TestNonOwnerServesCommands(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1009")
	join1(room, "Alice")
	owner := h.supervisor("owner", nil, func(s *Supervisor) { s.LeaseTTL = time.Minute })
	l := h.follow(owner, "team", "1009")
	other := h.supervisor("other", nil, func(s *Supervisor) { s.LeaseTTL = time.Minute })
	ctx := context.Background()
	ps, err := other.Roster(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].DisplayName != "Alice" {
		t.Errorf("non-owner roster = %v, want Alice alone", ps)
	}
	s1, err := other.Session(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := other.Session(ctx, l)
	if s1 != s2 {
		t.Error("the pooled session was not reused")
	}
	if err := s1.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if !room.State().Locked {
		t.Error("a command through the non-owner's session did not reach the meeting")
	}
	if len(other.Listening()) != 0 {
		t.Errorf("non-owner listens to %v", other.Listening())
	}
}

func TestGracefulShutdownHandsOver(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1010")
	join1(room, "Alice")
	// A lease this long would block a takeover for a minute unless it is handed back.
	a := h.supervisor("a", nil, func(s *Supervisor) { s.LeaseTTL = time.Minute })
	l := h.follow(a, "team", "1010")
	b := h.supervisor("b", nil, func(s *Supervisor) { s.LeaseTTL = time.Minute })
	eventually(t, "roster saved", func() bool { return len(h.savedRoster(l)) == 1 })
	h.sim.ResetRequests()
	a.stop()
	ended := 0
	for _, rq := range h.sim.Requests() {
		if rq.Op == "end_session" {
			ended++
		}
	}
	if ended == 0 {
		t.Error("shutdown ended no session (end_session)")
	}
	eventually(t, "b takes over", func() bool { return b.listens(l) })
	join1(room, "Bob")
	h.expect(l.Channel, "Bob joined (guest)")
}

func TestRelinkMovesTheChannel(t *testing.T) {
	h := newHarness(t, nil)
	first, second := h.room("1011"), h.room("1012")
	r := h.supervisor("r1", nil, nil)
	h.follow(r, "team", "1011")
	l := h.follow(r, "team", "1012") // the same channel, linked to another meeting
	join1(first, "Alice")
	join1(second, "Bob")
	h.expect(l.Channel, "Bob joined (guest)")
	eventually(t, "the first meeting's listener stops", func() bool { return len(r.Listening()) == 1 })
}

// A replica that dies after seeing a change but before posting it loses nothing: the roster it
// saved does not include the change, so the replica that takes over reports it.
func TestCrashBeforePostingLosesNothing(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1013")
	join1(room, "Alice")
	stuck := newRecorder()
	stuck.hook = func(ctx context.Context, _ chat.ChannelRef, _ int, _ chat.Notification) error {
		<-ctx.Done() // the chat service never answers
		return ctx.Err()
	}
	tune := func(s *Supervisor) { s.LeaseTTL = 300 * time.Millisecond }
	a := h.supervisor("a", nil, func(s *Supervisor) { tune(s); s.Poster = stuck })
	l := h.follow(a, "team", "1013")
	eventually(t, "roster saved", func() bool { return len(h.savedRoster(l)) == 1 })
	join1(room, "Carol")
	eventually(t, "a posting Carol's join", func() bool { return stuck.callCount(l.Channel) == 1 })
	li := a.listener(l)
	target := li.saves.Load() + 3
	eventually(t, "three more rounds of roster saving", func() bool { return li.saves.Load() >= target })
	if got := h.savedRoster(l); fmt.Sprint(got) != "[Alice]" {
		t.Fatalf("saved roster %v includes a change no channel was told of", got)
	}
	a.kill()
	b := h.supervisor("b", nil, tune)
	eventually(t, "b takes over", func() bool { return b.listens(l) })
	h.expect(l.Channel, "Carol joined (guest)")
}

func TestLostLeaseStopsListening(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1014")
	a := h.supervisor("a", nil, func(s *Supervisor) { s.LeaseTTL = 300 * time.Millisecond })
	l := h.follow(a, "team", "1014")
	ctx := context.Background()
	key := leasePrefix + l.Meeting.Key()
	// Another replica holds the lease now (as after a long pause of a's).
	if err := h.store.ReleaseLease(ctx, key, "a"); err != nil {
		t.Fatal(err)
	}
	if ok, err := h.store.ClaimLease(ctx, key, "intruder", time.Minute); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	li := a.listener(l)
	eventually(t, "a stops listening", func() bool { return len(a.Listening()) == 0 })
	h.stopped(li)
	join1(room, "Alice")
	if got := h.lines(l.Channel); len(got) != 0 {
		t.Errorf("a replica without the lease posted %q", got)
	}
}

// Issue 12 item 5: after the meeting is ended (the `end` command), the listener posts one
// summary and stays out of the room for RejoinAfterEnd, so it does not hold a just-ended meeting
// open; then it follows the room again and announces the next meeting's people.
func TestEndingTheMeetingPostsOneSummaryAndRejoinsAfterAPause(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1015")
	alice := join1(room, "Alice")
	join1(room, "Bob")
	const pause = 300 * time.Millisecond
	r := h.supervisor("r1", nil, func(s *Supervisor) { s.RejoinAfterEnd = pause })
	l := h.follow(r, "team", "1015")
	room.Present(alice, true)
	h.expect(l.Channel, "Alice started presenting")
	ctx := context.Background()
	sess, err := r.Session(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	li := r.listener(l)
	h.sim.ResetRequests()
	endedAt := time.Now()
	if err := sess.DisconnectAll(ctx); err != nil { // the `end` command
		t.Fatal(err)
	}
	h.stopped(li)
	var summaries []string
	for _, line := range h.lines(l.Channel) {
		if strings.HasPrefix(line, "The meeting ended") {
			summaries = append(summaries, line)
		}
	}
	if len(summaries) != 1 || !strings.Contains(summaries[0], "2 at most, 2 people in all; Alice presented") {
		t.Errorf("lines %q: want one summary, 2 at most, 2 people, Alice presented", h.lines(l.Channel))
	}
	join1(room, "Carol") // a new meeting in the same room
	eventually(t, "Carol announced after the pause", func() bool {
		ls := h.lines(l.Channel)
		return len(ls) > 0 && ls[len(ls)-1] == "Carol joined (guest)"
	})
	for _, rq := range h.sim.Requests() {
		if rq.Op == "new_session" && rq.Time.Before(endedAt.Add(pause)) {
			t.Errorf("new_session %v after the end, within the pause of %v", rq.Time.Sub(endedAt), pause)
		}
	}
}

// Issue 12 item 5: a host kicking the bot is told to the channel, the link is paused and the bot
// does not come back (no new_session) until someone links the meeting again.
func TestAHostRemovingTheBotPausesTheLink(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1021")
	join1(room, "Alice")
	r := h.supervisor("r1", nil, nil)
	l := h.follow(r, "team", "1021")
	li := r.listener(l)
	host := h.open(l) // a host's own session in the meeting
	defer closeQuietly(host)
	h.sim.ResetRequests()
	if err := host.Kick(context.Background(), li.sess.Info().ParticipantUUID); err != nil {
		t.Fatal(err)
	}
	h.stopped(li)
	h.expect(l.Channel, "A host removed meetbot from Room 1021; `link` again to follow it.")
	eventually(t, "the link paused in the store", func() bool {
		got, err := h.store.GetLink(context.Background(), l.Channel)
		return err == nil && got.Paused
	})
	r.awaitRounds(t, 5)
	join1(room, "Bob")
	r.awaitRounds(t, 2)
	for _, rq := range h.sim.Requests() {
		if rq.Op == "new_session" {
			t.Errorf("the bot came back (new_session at %v) after a host removed it", rq.Time)
		}
	}
	if len(r.Listening()) != 0 {
		t.Errorf("still listening to %v", r.Listening())
	}
	h.expect(l.Channel, "A host removed meetbot from Room 1021; `link` again to follow it.")

	// Linking again follows the meeting again.
	if err := h.store.PutLink(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	if err := r.Follow(context.Background(), l, h.open(l)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "listening again", func() bool { return r.listens(l) })
	join1(room, "Carol")
	h.expect(l.Channel, "A host removed meetbot from Room 1021; `link` again to follow it.", "Carol joined (guest)")
}

func TestIdlePooledSessionsAreEnded(t *testing.T) {
	h := newHarness(t, nil)
	h.room("1016")
	owner := h.supervisor("owner", nil, func(s *Supervisor) { s.LeaseTTL = time.Minute })
	l := h.follow(owner, "team", "1016")
	other := h.supervisor("other", nil, func(s *Supervisor) { s.LeaseTTL = time.Minute; s.IdleSession = 100 * time.Millisecond })
	ctx := context.Background()
	sess, err := other.Session(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "idle session ended", func() bool { _, err := sess.Status(ctx); return err != nil })
	again, err := other.Session(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	if again == sess {
		t.Error("an ended session was handed out again")
	}
	if _, err := again.Status(ctx); err != nil {
		t.Errorf("new pooled session: %v", err)
	}
}

// Clarification 10: a private-cloud node never sends participant_create; a uuid first seen in
// participant_update is a join, and the sync made of updates is still silent at link time.
func TestPrivateCloudJoinsFromUpdates(t *testing.T) {
	h := newHarness(t, nil)
	room := h.sim.AddRoom(sim.RoomConfig{Number: "1017", Name: "Private", HostPIN: "1234", GuestPIN: "5678", Private: true})
	join1(room, "Alice")
	r := h.supervisor("r1", nil, nil)
	l := h.follow(r, "team", "1017")
	bob := join1(room, "Bob")
	room.Present(bob, true)
	room.Leave(bob)
	// Coalescing may put them in fewer messages, never out of order.
	h.expect(l.Channel, "Bob joined (guest)", "Bob started presenting", "Bob stopped presenting", "Bob left")
}

// frozenRosters is a store whose SaveRoster does nothing once frozen: a replica that posts but
// dies before its next save.
type frozenRosters struct {
	store.Store
	frozen atomic.Bool
}

func (f *frozenRosters) SaveRoster(ctx context.Context, key string, es []store.RosterEntry) error {
	if f.frozen.Load() {
		return nil
	}
	return f.Store.SaveRoster(ctx, key, es)
}

// What a takeover can repeat is bounded by what was posted since the last save: here one join,
// posted by the replica that died before saving it, is reported again; nothing else is.
func TestTakeoverRepeatsOnlyWhatWasPostedSinceTheLastSave(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1018")
	join1(room, "Alice")
	fz := &frozenRosters{Store: h.store}
	tune := func(s *Supervisor) { s.LeaseTTL = 300 * time.Millisecond }
	a := h.supervisor("a", fz, tune)
	l := h.follow(a, "team", "1018")
	eventually(t, "roster saved", func() bool { return len(h.savedRoster(l)) == 1 })
	fz.frozen.Store(true)
	join1(room, "Carol")
	h.expect(l.Channel, "Carol joined (guest)")
	a.kill()
	join1(room, "Dave")
	b := h.supervisor("b", nil, tune)
	eventually(t, "b takes over", func() bool { return b.listens(l) })
	eventually(t, "Dave", func() bool {
		_, shown := tally(h.lines(l.Channel))
		return shown["joined"]["Dave"] == 1
	})
	h.flush(b, room, l)
	counts, shown := tally(h.lines(l.Channel))
	if shown["joined"]["Carol"] != 2 || shown["joined"]["Dave"] != 1 || counts["joined"] != 3 || len(shown["left"]) != 0 {
		t.Errorf("lines %q: want Carol's join repeated once (posted after the last save), Dave's once, nothing else", h.lines(l.Channel))
	}
}

// Someone who joins after the link command saw who was present, but before the listener's
// event stream opened, is announced: the link's view of the meeting is the baseline, not the
// stream's first sync.
func TestJoinBeforeTheStreamOpensIsAnnounced(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1018")
	join1(room, "Alice")
	h.sim.SlowNext("events", 300*time.Millisecond, 1)
	r := h.supervisor("r1", nil, nil)
	l := h.link("team", "1018")
	if err := r.Follow(context.Background(), l, h.open(l)); err != nil {
		t.Fatal(err)
	}
	join1(room, "Bob") // while the subscription is held up
	h.expect(l.Channel, "Bob joined (guest)")
}

// A replica without an adapter for one of a meeting's channels leaves the meeting to one that
// has it: with Matrix configured on one replica only, Matrix rooms still hear their meetings.
func TestMeetingGoesToAReplicaThatCanPostEverywhere(t *testing.T) {
	h := newHarness(t, nil)
	h.room("1019")
	h.room("1020")
	ctx := context.Background()
	mixed := h.link("team", "1019")
	fromMatrix := mixed
	fromMatrix.Channel = chat.ChannelRef{Platform: "matrix", Channel: "!room:example.org"}
	if err := h.store.PutLink(ctx, fromMatrix); err != nil {
		t.Fatal(err)
	}
	consoleOnly := h.link("other", "1020")

	slackish := h.supervisor("no-matrix", nil, func(s *Supervisor) { s.Platforms = []string{"console"} })
	eventually(t, "the console-only meeting listened to", func() bool { return slackish.listens(consoleOnly) })
	slackish.awaitRounds(t, 5)
	if slackish.listens(mixed) {
		t.Fatal("a replica without Matrix listens to a meeting linked from a Matrix room")
	}
	both := h.supervisor("with-matrix", nil, func(s *Supervisor) { s.Platforms = []string{"console", "matrix"} })
	eventually(t, "the mixed meeting listened to by the replica with Matrix", func() bool { return both.listens(mixed) })
}

// flakyLeases is a store whose lease renewals fail while down, as when the database cannot be
// reached from this replica.
type flakyLeases struct {
	store.Store
	down atomic.Bool
}

func (f *flakyLeases) RenewLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if f.down.Load() {
		return false, fmt.Errorf("renew lease %s: %w", key, store.ErrUnavailable)
	}
	return f.Store.RenewLease(ctx, key, owner, ttl)
}

// Issue 12 item 2 (fencing): a listener whose lease cannot be renewed stops posting before the
// lease could lapse (another replica could take the meeting then), keeps what it saw, and posts
// it once the lease is renewed; nothing is lost and nothing posted twice.
func TestListenerStopsPostingBeforeItsLeaseCouldLapse(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1022")
	fl := &flakyLeases{Store: h.store}
	r := h.supervisor("r1", fl, nil)
	l := h.follow(r, "team", "1022")
	join1(room, "Alice")
	h.expect(l.Channel, "Alice joined (guest)")
	li := r.listener(l)

	fl.down.Store(true)
	eventually(t, "fence closed", func() bool { return !li.lease.validAt(time.Now().Add(r.fenceMargin())) })
	join1(room, "Bob")
	h.flushHandled(r, room)
	if li.posted() {
		t.Fatal("Bob's join was posted while the lease could not be renewed")
	}
	h.expect(l.Channel, "Alice joined (guest)")

	fl.down.Store(false)
	h.flush(r, room, l)
	h.expect(l.Channel, "Alice joined (guest)", "Bob joined (guest)")
}

// Issue 12 items 3 and 7: a channel whose every post is refused for good does not hold back the
// meeting's saved roster, so after a restart the other channel of the meeting is not told again
// of the joins it was told of.
func TestAChannelThatRefusesForGoodHoldsBackNoRoster(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1023")
	join1(room, "Alice")
	blocked := chat.ChannelRef{Platform: "console", Channel: "blocked"}
	poster := refusing{recorder: h.rec, never: map[chat.ChannelRef]bool{blocked: true}}
	tune := func(s *Supervisor) { s.Poster = poster; s.LeaseTTL = time.Minute }
	r1 := h.supervisor("r1", nil, tune)
	fine := h.follow(r1, "fine", "1023")
	h.follow(r1, "blocked", "1023")
	const n = 500
	for i := range n {
		join1(room, fmt.Sprintf("Person %03d", i))
	}
	eventually(t, "every join posted to the fine channel", func() bool {
		counts, _ := tally(h.lines(fine.Channel))
		return counts["joined"] == n
	})
	h.flush(r1, room, fine)
	eventually(t, "roster saved with every join", func() bool { return len(h.savedRoster(fine)) == n+1 })
	if h.obs.dropped.Load() == 0 {
		t.Error("the refused notifications were not counted")
	}
	r1.stop()

	r2 := h.supervisor("r2", nil, tune)
	eventually(t, "resumed", func() bool { return r2.listens(fine) })
	join1(room, "Zoe")
	eventually(t, "Zoe", func() bool {
		_, shown := tally(h.lines(fine.Channel))
		return shown["joined"]["Zoe"] == 1
	})
	h.flush(r2, room, fine)
	if counts, _ := tally(h.lines(fine.Channel)); counts["joined"] != n+1 {
		t.Errorf("after a restart the fine channel was told of %d joins in all, want %d (no repeats)", counts["joined"], n+1)
	}
}

// Issue 12 item 3: a channel stuck in a post does not make the listener keep a roster snapshot
// per save interval for ever.
func TestSnapshotsAreBoundedWhileAChannelIsStuck(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1024")
	stuck := newRecorder()
	stuck.hook = func(ctx context.Context, _ chat.ChannelRef, _ int, _ chat.Notification) error {
		<-ctx.Done()
		return ctx.Err()
	}
	r := h.supervisor("r1", nil, func(s *Supervisor) {
		s.Poster = stuck
		s.SaveInterval = time.Millisecond
		s.DrainTimeout = 10 * time.Millisecond
	})
	l := h.follow(r, "team", "1024")
	li := r.listener(l)
	for i := range 200 {
		join1(room, fmt.Sprint("P", i))
		if i%10 == 0 {
			target := li.saves.Load() + 2
			eventually(t, "saves", func() bool { return li.saves.Load() >= target })
		}
	}
	li.mu.Lock()
	n := len(li.snaps)
	li.mu.Unlock()
	if n > maxSnapshots {
		t.Errorf("%d snapshots kept, want at most %d", n, maxSnapshots)
	}
}

// syncBuffer is a log destination tests read while the Supervisor writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Issue 11 item 9: a link whose PIN cannot be unsealed (sealed under another key) is skipped with
// a warning naming its channel, never its PIN, and every other meeting is listened to.
func TestALinkThatCannotBeUnsealedStopsNoOtherMeeting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetbot.db")
	ctx := context.Background()
	mine, err := sqlite.Open(ctx, path, testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mine.Close() })
	h := newHarness(t, mine)
	room := h.room("1025")
	h.room("1026")
	good := h.link("good", "1025")

	other, err := sqlite.Open(ctx, path, []byte("ffffffffffffffffffffffffffffffff"), nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.Channel = chat.ChannelRef{Platform: "console", Channel: "sealed-elsewhere"}
	bad.Meeting.Room = "1026"
	bad.PIN = "9911"
	if err := other.PutLink(ctx, bad); err != nil {
		t.Fatal(err)
	}
	_ = other.Close()

	logs := &syncBuffer{}
	r := h.supervisor("r1", nil, func(s *Supervisor) {
		s.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	eventually(t, "the readable link listened to", func() bool { return r.listens(good) })
	join1(room, "Alice")
	h.expect(good.Channel, "Alice joined (guest)")
	r.awaitRounds(t, 5)
	if n := strings.Count(logs.String(), "sealed-elsewhere"); n != 1 {
		t.Errorf("%d warnings name the unreadable link's channel, want one:\n%s", n, logs)
	}
	if strings.Contains(logs.String(), "9911") {
		t.Errorf("the logs show the PIN:\n%s", logs)
	}
}

// Issue 11 item 4: the bot's participants are known by uuid. A guest who joins through the API
// under the bot's own name is announced and listed; another replica's session, recorded in the
// store only after its participant appeared, is neither.
func TestTheBotIsKnownByUUIDNotByName(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1027")
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.rec.hook = func(ctx context.Context, _ chat.ChannelRef, call int, _ chat.Notification) error {
		if call == 1 {
			once.Do(func() { close(entered) })
			<-release
		}
		return nil
	}
	r := h.supervisor("r1", nil, nil)
	l := h.follow(r, "team", "1027")
	join1(room, "Alice")
	<-entered // Alice's join is being posted; what follows waits for the next message
	guest := room.Join(sim.ParticipantSpec{Name: "meetbot", Protocol: "api"})
	replica := room.Join(sim.ParticipantSpec{Name: "meetbot", Protocol: "api"})
	h.flushHandled(r, room)
	// The other replica records its session after the participant_create reached this one.
	if err := h.store.AddBotParticipant(context.Background(), l.Meeting.Key(), replica); err != nil {
		t.Fatal(err)
	}
	close(release)
	h.flush(r, room, l)
	h.expect(l.Channel, "Alice joined (guest)", "meetbot joined (guest)")
	ps, err := r.Roster(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, p := range ps {
		listed = append(listed, p.UUID)
	}
	if !slices.Contains(listed, guest) || slices.Contains(listed, replica) {
		t.Errorf("roster %v: want the guest named meetbot (%s) and not the other replica's session (%s)", listed, guest, replica)
	}
}

// Issue 11 item 4: each session the relay opens is recorded as the bot's participant for the
// other replicas, and forgotten when it ends.
func TestSessionsAreRecordedAsTheBotsOwn(t *testing.T) {
	h := newHarness(t, nil)
	h.room("1028")
	r := h.supervisor("r1", nil, nil)
	l := h.follow(r, "team", "1028")
	ctx := context.Background()
	self := r.listener(l).sess.Info().ParticipantUUID
	eventually(t, "recorded", func() bool {
		ids, err := h.store.BotParticipants(ctx, l.Meeting.Key())
		return err == nil && slices.Contains(ids, self)
	})
	if err := h.store.DeleteLink(ctx, l.Channel); err != nil {
		t.Fatal(err)
	}
	if err := r.Unfollow(ctx, l); err != nil {
		t.Fatal(err)
	}
	eventually(t, "forgotten after unlink", func() bool {
		ids, err := h.store.BotParticipants(ctx, l.Meeting.Key())
		return err == nil && len(ids) == 0
	})
}

// Issue 12 item 5: after "Timer expired awaiting token refresh" the listener starts over at once,
// and the channel is told nothing: the meeting did not end.
func TestATokenLapseStartsOverQuietly(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1029")
	join1(room, "Alice")
	r := h.supervisor("r1", nil, nil)
	l := h.follow(r, "team", "1029")
	li := r.listener(l)
	before := h.obs.reconnects.Load()
	h.sim.ExpireTokens()
	eventually(t, "stream back", func() bool { return h.obs.reconnects.Load() > before })
	join1(room, "Bob")
	h.flush(r, room, l)
	h.expect(l.Channel, "Bob joined (guest)")
	if r.listener(l) != li {
		t.Error("the listener was replaced; it should have started its session over")
	}
}
