package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/sqlite"
)

var (
	room  = chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C1"}
	other = chat.ChannelRef{Platform: "matrix", Channel: "!other:example.org"}
	alice = chat.UserRef{ID: "U1", Name: "Alice"}
)

// recorder is the command core and the chat adapter of these tests: it records every request it
// is asked to run and every notification it is asked to post.
type recorder struct {
	mu    sync.Mutex
	reqs  []chat.Request
	posts []posted
	reply chat.Reply
}

type posted struct {
	Channel chat.ChannelRef
	Note    chat.Notification
}

func newRecorder() *recorder {
	return &recorder{reply: chat.Reply{Text: "locked the meeting", Public: true}}
}

func (r *recorder) Handle(_ context.Context, req chat.Request) chat.Reply {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return r.reply
}

func (r *recorder) Post(_ context.Context, ch chat.ChannelRef, n chat.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posts = append(r.posts, posted{ch, n})
	return nil
}

func (r *recorder) requests() []chat.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.posts {
		out = append(out, p.Note.Text)
	}
	return out
}

// eventually waits until cond holds, failing the test if it does not within a generous deadline.
// It waits for work done on other goroutines; it asserts nothing about how long that takes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitPosts waits until rec has at least n posts and returns their texts.
func waitPosts(t *testing.T, rec *recorder, n int) []string {
	t.Helper()
	eventually(t, fmt.Sprintf("%d posts", n), func() bool { return len(rec.texts()) >= n })
	return rec.texts()
}

// blockUntil waits until clock has n timers and tickers: the scheduler's reload ticker and one
// gocron timer per schedule with a run ahead.
func blockUntil(t *testing.T, clock *clockwork.FakeClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("waiting for %d timers: %v", n, err)
	}
}

// openSQLite opens a SQLite store at path (sqlite.Memory for a private in-memory one).
func openSQLite(t *testing.T, path string, key []byte) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path, key, nil)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func testKey() []byte { return []byte("0123456789abcdef0123456789abcdef") }

type harness struct {
	s     *Scheduler
	rec   *recorder
	clock *clockwork.FakeClock
	st    Store
}

// newHarness builds a Scheduler over st with a recorder for core and chat and a fake clock at start.
func newHarness(t *testing.T, st Store, clock *clockwork.FakeClock, mod func(*Config)) *harness {
	t.Helper()
	rec := newRecorder()
	cfg := Config{Store: st, Handler: rec, Poster: rec, Clock: clock, ReplicaID: "r-" + t.Name(),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{s: s, rec: rec, clock: clock, st: st}
}

// start runs h's scheduler until the test ends (or stop is called), and waits until it has
// loaded the stored schedules and armed timers for waiters of them on its clock.
func (h *harness) start(t *testing.T, waiters int) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	blockUntil(t, h.clock, 1+waiters)
	return stop
}

func (h *harness) add(t *testing.T, spec, command string) store.Schedule {
	t.Helper()
	sc, err := h.s.Add(context.Background(), store.Schedule{
		Channel: room, Spec: spec, Command: command, CreatedBy: alice, Rights: chat.Host,
	})
	if err != nil {
		t.Fatalf("Add(%q, %q): %v", spec, command, err)
	}
	return sc
}

// at is a moment on Thursday 26 November 2026, UTC.
func at(hour, minute int) time.Time { return time.Date(2026, 11, 26, hour, minute, 0, 0, time.UTC) }

func TestCronScheduleRuns(t *testing.T) {
	h := newHarness(t, openSQLite(t, sqlite.Memory, testKey()), clockwork.NewFakeClockAt(at(8, 58)), nil)
	h.start(t, 0)
	sc := h.add(t, "*/5  * * * *", "lock")
	if sc.ID == 0 || sc.Spec != "*/5 * * * *" || sc.TimeZone != "UTC" || sc.OneTime || !sc.NextRun.Equal(at(9, 0)) {
		t.Fatalf("Add stored %+v, want an ID, canonical spec, UTC, next run 09:00", sc)
	}

	var want []string
	for i, step := range []time.Duration{2 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		blockUntil(t, h.clock, 2)
		h.clock.Advance(step)
		want = append(want, fmt.Sprintf("Scheduled #%d (lock): locked the meeting", sc.ID))
		if got := waitPosts(t, h.rec, i+1); !slices.Equal(got, want) {
			t.Fatalf("after slot %d posts = %q, want %q", i+1, got, want)
		}
	}

	wantReq := chat.Request{Channel: room, User: alice, Rights: chat.Host, Text: "lock", Scheduled: true}
	for _, req := range h.rec.requests() {
		if diff := cmp.Diff(wantReq, req); diff != "" {
			t.Errorf("request to the core (-want +got):\n%s", diff)
		}
	}
	if p := h.rec.posts[0]; p.Channel != room || !slices.Equal(p.Note.Kinds, []chat.NoticeKind{chat.ScheduleRan}) {
		t.Errorf("posted to %v kinds %v, want %v %v", p.Channel, p.Note.Kinds, room, chat.ScheduleRan)
	}
	eventually(t, "three audit entries", func() bool {
		a, _ := h.st.(store.Audit).RecentAudit(context.Background(), room, 10)
		return len(a) == 3
	})
	a, _ := h.st.(store.Audit).RecentAudit(context.Background(), room, 10)
	if e := a[0]; e.User != alice || e.Command != fmt.Sprintf("scheduled #%d: lock", sc.ID) || e.Outcome != "locked the meeting" || !e.OK {
		t.Errorf("audit entry %+v", e)
	}
	eventually(t, "stored next run 09:15", func() bool {
		all, _ := h.st.AllSchedules(context.Background())
		return len(all) == 1 && all[0].NextRun.Equal(at(9, 15))
	})
	list, err := h.s.List(context.Background(), room)
	if err != nil || len(list) != 1 || !list[0].NextRun.Equal(at(9, 15)) {
		t.Errorf("List = %+v, %v; want the schedule with next run 09:15", list, err)
	}
}

func TestOneTimeRunsOnceInChannelZoneAndIsRemoved(t *testing.T) {
	st := openSQLite(t, sqlite.Memory, testKey())
	set := store.DefaultSettings()
	set.TimeZone = "Asia/Shanghai"
	if err := st.PutSettings(context.Background(), room, set); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, st, clockwork.NewFakeClockAt(at(9, 0)), nil)
	h.start(t, 0)
	sc := h.add(t, "2026-11-26 17:30", "unlock") // 17:30 in Shanghai is 09:30 UTC
	if !sc.OneTime || sc.TimeZone != "Asia/Shanghai" || !sc.NextRun.Equal(at(9, 30)) {
		t.Fatalf("Add stored %+v, want one-time in Asia/Shanghai at 09:30 UTC", sc)
	}
	blockUntil(t, h.clock, 2)
	h.clock.Advance(30 * time.Minute)
	want := fmt.Sprintf("Scheduled #%d (unlock): locked the meeting", sc.ID)
	if got := waitPosts(t, h.rec, 1); !slices.Equal(got, []string{want}) {
		t.Fatalf("posts %q, want %q", got, want)
	}
	eventually(t, "the one-time schedule to be removed", func() bool {
		list, _ := h.s.List(context.Background(), room)
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		return len(list) == 0 && len(h.s.jobs) == 0
	})
	h.clock.Advance(48 * time.Hour)
	blockUntil(t, h.clock, 1)
	if n := len(h.rec.requests()); n != 1 {
		t.Errorf("the one-time command ran %d times, want once", n)
	}
}

// stubRights answers every rights question the same way.
type stubRights struct {
	rights chat.Rights
	err    error
}

func (r stubRights) Rights(context.Context, chat.ChannelRef, chat.UserRef) (chat.Rights, error) {
	return r.rights, r.err
}

func TestRightsCheckedAgainAtRunTime(t *testing.T) {
	t.Run("demoted author runs with their rights now", func(t *testing.T) {
		h := newHarness(t, openSQLite(t, sqlite.Memory, testKey()), clockwork.NewFakeClockAt(at(8, 59)),
			func(c *Config) { c.Rights = stubRights{rights: chat.Member} })
		h.rec.reply = chat.Reply{Text: "lock needs host rights", Failed: true}
		h.start(t, 0)
		sc := h.add(t, "0 9 * * *", "lock") // scheduled with host rights
		blockUntil(t, h.clock, 2)
		h.clock.Advance(time.Minute)
		got := waitPosts(t, h.rec, 1)
		if reqs := h.rec.requests(); len(reqs) != 1 || reqs[0].Rights != chat.Member {
			t.Fatalf("core got %+v, want one request with the re-checked rights (member)", reqs)
		}
		if want := fmt.Sprintf("Scheduled #%d (lock) failed: lock needs host rights", sc.ID); got[0] != want {
			t.Errorf("post %q, want %q", got[0], want)
		}
	})
	t.Run("rights unknown: not run", func(t *testing.T) {
		h := newHarness(t, openSQLite(t, sqlite.Memory, testKey()), clockwork.NewFakeClockAt(at(8, 59)),
			func(c *Config) { c.Rights = stubRights{err: errors.New("users.info: user_not_found")} })
		h.start(t, 0)
		sc := h.add(t, "0 9 * * *", "lock")
		blockUntil(t, h.clock, 2)
		h.clock.Advance(time.Minute)
		got := waitPosts(t, h.rec, 1)
		if want := fmt.Sprintf("Scheduled #%d (lock) failed: not run: could not check the rights of Alice now", sc.ID); got[0] != want {
			t.Errorf("post %q, want %q", got[0], want)
		}
		if reqs := h.rec.requests(); len(reqs) != 0 {
			t.Errorf("core got %+v, want nothing run", reqs)
		}
		eventually(t, "an audit entry", func() bool {
			a, _ := h.st.(store.Audit).RecentAudit(context.Background(), room, 10)
			return len(a) == 1 && !a[0].OK
		})
	})
}

func TestAddRefuses(t *testing.T) {
	st := openSQLite(t, sqlite.Memory, testKey())
	h := newHarness(t, st, clockwork.NewFakeClockAt(at(10, 0)), nil)
	for _, tc := range []struct {
		name string
		sc   store.Schedule
		want string
	}{
		{"past", store.Schedule{Spec: "2026-11-26 09:59", Command: "lock"},
			`"2026-11-26 09:59" is in the past: it is now 2026-11-26 10:00 (UTC)`},
		{"malformed", store.Schedule{Spec: "0 9 * *", Command: "lock"},
			`"0 9 * *" is not a schedule: want 5 cron fields like "0 9 * * 1-5" or a date like 2026-12-01 14:55`},
		{"no command", store.Schedule{Spec: "0 9 * * *", Command: " "}, `"0 9 * * *" has no command to run`},
		{"unknown zone", store.Schedule{Spec: "0 9 * * *", Command: "lock", TimeZone: "Mars/Olympus"},
			`"0 9 * * *" cannot be read: unknown time zone "Mars/Olympus"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.sc.Channel, tc.sc.CreatedBy = room, alice
			_, err := h.s.Add(context.Background(), tc.sc)
			var um interface{ UserMessage() string }
			if !errors.As(err, &um) || um.UserMessage() != tc.want {
				t.Errorf("Add error %v, want user message %s", err, tc.want)
			}
		})
	}
	if list, err := h.s.List(context.Background(), room); err != nil || len(list) != 0 {
		t.Errorf("List after refusals = %+v, %v; want nothing stored", list, err)
	}
}

func TestRemove(t *testing.T) {
	h := newHarness(t, openSQLite(t, sqlite.Memory, testKey()), clockwork.NewFakeClockAt(at(8, 59)), nil)
	h.start(t, 0)
	gone := h.add(t, "0 9 * * *", "lock")
	kept := h.add(t, "0 9 * * *", "mute guests")
	blockUntil(t, h.clock, 3)

	if err := h.s.Remove(context.Background(), other, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Remove from another channel: %v, want ErrNotFound", err)
	}
	if err := h.s.Remove(context.Background(), room, gone.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := h.s.Remove(context.Background(), room, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Remove twice: %v, want ErrNotFound", err)
	}
	list, err := h.s.List(context.Background(), room)
	if err != nil || len(list) != 1 || list[0].ID != kept.ID {
		t.Fatalf("List = %+v, %v; want only #%d", list, err, kept.ID)
	}
	blockUntil(t, h.clock, 2)
	h.clock.Advance(time.Minute)
	waitPosts(t, h.rec, 1)
	blockUntil(t, h.clock, 2) // the kept schedule's next run is armed: this slot is over
	want := []string{fmt.Sprintf("Scheduled #%d (mute guests): locked the meeting", kept.ID)}
	if got := h.rec.texts(); !slices.Equal(got, want) {
		t.Errorf("posts %q, want %q", got, want)
	}
}

func TestRestartKeepsSchedules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetbot.db")
	clock := clockwork.NewFakeClockAt(at(8, 0))
	first := newHarness(t, openSQLite(t, path, testKey()), clock, nil)
	stop := first.start(t, 0)
	sc := first.add(t, "0 9 * * *", "lock")
	blockUntil(t, clock, 2)
	stop()

	// A new process: the store reopened, a new scheduler on it.
	second := newHarness(t, openSQLite(t, path, testKey()), clock, nil)
	list, err := second.s.List(context.Background(), room)
	if err != nil || len(list) != 1 || list[0].ID != sc.ID || !list[0].NextRun.Equal(at(9, 0)) {
		t.Fatalf("List after restart = %+v, %v; want #%d next at 09:00", list, err, sc.ID)
	}
	second.start(t, 1)
	clock.Advance(time.Hour)
	want := fmt.Sprintf("Scheduled #%d (lock): locked the meeting", sc.ID)
	if got := waitPosts(t, second.rec, 1); !slices.Equal(got, []string{want}) {
		t.Errorf("posts after restart %q, want %q", got, want)
	}
	if n := len(first.rec.texts()); n != 0 {
		t.Errorf("the stopped scheduler posted %d times", n)
	}
}

func TestMissedRunsReportedOnceNotRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetbot.db")
	before := clockwork.NewFakeClockAt(at(8, 0))
	h := newHarness(t, openSQLite(t, path, testKey()), before, nil)
	cronSc := h.add(t, "0 9 * * *", "lock") // stored before Run: loaded when it starts
	onceSc := h.add(t, "2026-11-26 09:30", "unlock")

	// The bot was down from 08:00 on Thursday until 12:00 on Friday; two replicas start.
	after := clockwork.NewFakeClockAt(at(8, 0).Add(28 * time.Hour))
	var reps []*harness
	for i := range 2 {
		r := newHarness(t, openSQLite(t, path, testKey()), after, func(c *Config) { c.ReplicaID = fmt.Sprint("r", i) })
		reps = append(reps, r)
	}
	for _, r := range reps {
		r.start(t, 0)
	}
	blockUntil(t, after, 4) // both replicas: reload ticker and the cron schedule's timer

	var got []string
	for _, r := range reps {
		got = append(got, r.rec.texts()...)
		if n := len(r.rec.requests()); n != 0 {
			t.Errorf("a missed run was run late (%d requests)", n)
		}
	}
	slices.Sort(got)
	want := []string{
		fmt.Sprintf("Scheduled #%d (lock) missed 2 runs from 2026-11-26 09:00 to 2026-11-27 09:00 (UTC) while the bot was down; missed runs are not run late. Next run: 2026-11-28 09:00.", cronSc.ID),
		fmt.Sprintf("Scheduled #%d (unlock) did not run: it was due 2026-11-26 09:30 (UTC) while the bot was down. It was not run late and is now removed.", onceSc.ID),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("missed-run reports across both replicas (-want +got):\n%s", diff)
	}
	list, err := reps[0].s.List(context.Background(), room)
	if err != nil || len(list) != 1 || list[0].ID != cronSc.ID {
		t.Fatalf("List = %+v, %v; want only the cron schedule", list, err)
	}
	all, _ := reps[0].st.AllSchedules(context.Background())
	if !all[0].NextRun.Equal(at(9, 0).Add(48 * time.Hour)) {
		t.Errorf("stored next run %s, want Saturday 09:00", all[0].NextRun)
	}
	a, _ := reps[0].st.(store.Audit).RecentAudit(context.Background(), room, 10)
	if len(a) != 2 || a[0].OK || a[1].OK || !strings.HasPrefix(a[0].Outcome, "missed") {
		t.Errorf("audit %+v, want two failed 'missed' entries", a)
	}

	// Started again later that day: nothing more is reported.
	for _, r := range reps {
		got := len(r.rec.texts())
		r.clock.Advance(time.Hour)
		blockUntil(t, after, 4)
		if n := len(r.rec.texts()); n != got {
			t.Errorf("more reports after an hour: %q", r.rec.texts())
		}
	}
}

func TestSlotJustMissedAtRestartRunsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetbot.db")
	h := newHarness(t, openSQLite(t, path, testKey()), clockwork.NewFakeClockAt(at(8, 0)), nil)
	sc := h.add(t, "0 9 * * *", "lock")

	// Restarted 30 s after the 09:00 slot, on two replicas at once.
	clock := clockwork.NewFakeClockAt(at(9, 0).Add(30 * time.Second))
	var reps []*harness
	for i := range 2 {
		reps = append(reps, newHarness(t, openSQLite(t, path, testKey()), clock, func(c *Config) { c.ReplicaID = fmt.Sprint("r", i) }))
	}
	for _, r := range reps {
		r.start(t, 0)
	}
	eventually(t, "the late run", func() bool { return len(reps[0].rec.texts())+len(reps[1].rec.texts()) >= 1 })
	eventually(t, "the next run to be recorded", func() bool {
		all, _ := reps[0].st.AllSchedules(context.Background())
		return all[0].NextRun.Equal(at(9, 0).Add(24 * time.Hour))
	})
	var got []string
	for _, r := range reps {
		got = append(got, r.rec.texts()...)
	}
	if want := []string{fmt.Sprintf("Scheduled #%d (lock): locked the meeting", sc.ID)}; !slices.Equal(got, want) {
		t.Errorf("posts %q, want %q", got, want)
	}
}

// limitedPoster refuses its first post with a rate limit, as Slack does under load.
type limitedPoster struct {
	*recorder
	mu      sync.Mutex
	refused int
}

func (p *limitedPoster) Post(ctx context.Context, ch chat.ChannelRef, n chat.Notification) error {
	p.mu.Lock()
	if p.refused == 0 {
		p.refused++
		p.mu.Unlock()
		return &chat.RateLimitError{RetryAfter: 10 * time.Millisecond, Err: errors.New("ratelimited")}
	}
	p.mu.Unlock()
	return p.recorder.Post(ctx, ch, n)
}

func TestOutcomePostedAfterRateLimit(t *testing.T) {
	var lp *limitedPoster
	h := newHarness(t, openSQLite(t, sqlite.Memory, testKey()), clockwork.NewFakeClockAt(at(8, 59)), func(c *Config) {
		lp = &limitedPoster{recorder: c.Handler.(*recorder)}
		c.Poster = lp
	})
	h.start(t, 0)
	sc := h.add(t, "0 9 * * *", "lock")
	blockUntil(t, h.clock, 2)
	h.clock.Advance(time.Minute)
	want := fmt.Sprintf("Scheduled #%d (lock): locked the meeting", sc.ID)
	if got := waitPosts(t, h.rec, 1); !slices.Equal(got, []string{want}) {
		t.Errorf("posts %q, want %q once, after the rate limit", got, want)
	}
}

func TestAddRefusesCronRunningTooOften(t *testing.T) {
	h := newHarness(t, openSQLite(t, sqlite.Memory, testKey()), clockwork.NewFakeClockAt(at(10, 0)), nil)
	for _, tc := range []struct{ spec, want string }{
		{"* * * * *", `"* * * * *" runs too often: two of its runs are 1 minute apart, and schedules may run at most every 5 minutes`},
		{"*/2 * * * *", `"*/2 * * * *" runs too often: two of its runs are 2 minutes apart, and schedules may run at most every 5 minutes`},
		// Once a day, but twice a minute apart: judged by the shortest gap, not the average.
		{"0,1 9 * * *", `"0,1 9 * * *" runs too often: two of its runs are 1 minute apart, and schedules may run at most every 5 minutes`},
		// The short gap comes only in February of a leap year.
		{"0,3 9 29 2 *", `"0,3 9 29 2 *" runs too often: two of its runs are 3 minutes apart, and schedules may run at most every 5 minutes`},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := h.s.Add(context.Background(), store.Schedule{Channel: room, Spec: tc.spec, Command: "dial +19005550100 phone", CreatedBy: alice})
			var se *SpecError
			if !errors.As(err, &se) || se.UserMessage() != tc.want {
				t.Errorf("Add(%q) = %v, want %s", tc.spec, err, tc.want)
			}
		})
	}
	if list, _ := h.s.List(context.Background(), room); len(list) != 0 {
		t.Errorf("refused schedules were stored: %+v", list)
	}
	for _, spec := range []string{"*/5 * * * *", "0 9 * * 1-5", "0,5 9 * * *", "2026-11-26 10:01"} {
		if _, err := h.s.Add(context.Background(), store.Schedule{Channel: room, Spec: spec, Command: "lock", CreatedBy: alice}); err != nil {
			t.Errorf("Add(%q): %v", spec, err)
		}
	}
	loose := newHarness(t, openSQLite(t, sqlite.Memory, testKey()), clockwork.NewFakeClockAt(at(10, 0)),
		func(c *Config) { c.MinInterval = -1 })
	if _, err := loose.s.Add(context.Background(), store.Schedule{Channel: room, Spec: "* * * * *", Command: "lock", CreatedBy: alice}); err != nil {
		t.Errorf("with no minimum interval: %v", err)
	}
}

func TestAddRefusesBeyondMaxPerChannel(t *testing.T) {
	h := newHarness(t, openSQLite(t, sqlite.Memory, testKey()), clockwork.NewFakeClockAt(at(10, 0)),
		func(c *Config) { c.MaxPerChannel = 2 })
	add := func(ch chat.ChannelRef) (store.Schedule, error) {
		return h.s.Add(context.Background(), store.Schedule{Channel: ch, Spec: "0 9 * * *", Command: "lock", CreatedBy: alice})
	}
	first, err := add(room)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := add(room); err != nil {
		t.Fatal(err)
	}
	_, err = add(room)
	var le *LimitError
	want := "This channel already has 2 schedules, the most it may have; remove one first (see schedules)."
	if !errors.As(err, &le) || le.UserMessage() != want {
		t.Errorf("third schedule: %v, want %s", err, want)
	}
	if list, _ := h.s.List(context.Background(), room); len(list) != 2 {
		t.Errorf("%d schedules stored, want 2", len(list))
	}
	if _, err := add(other); err != nil {
		t.Errorf("another channel's first schedule: %v", err)
	}
	if err := h.s.Remove(context.Background(), room, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := add(room); err != nil {
		t.Errorf("after removing one: %v", err)
	}
}
