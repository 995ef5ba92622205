package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// recorder is a chat.Poster that keeps what it was asked to post. Its hook, when set, runs first
// and may block or refuse the post (a refused post is not kept).
type recorder struct {
	mu    sync.Mutex
	posts map[chat.ChannelRef][]chat.Notification
	calls map[chat.ChannelRef]int
	hook  func(ctx context.Context, ch chat.ChannelRef, call int, n chat.Notification) error
}

func newRecorder() *recorder {
	return &recorder{posts: map[chat.ChannelRef][]chat.Notification{}, calls: map[chat.ChannelRef]int{}}
}

func (r *recorder) Post(ctx context.Context, ch chat.ChannelRef, n chat.Notification) error {
	r.mu.Lock()
	r.calls[ch]++
	call := r.calls[ch]
	hook := r.hook
	r.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, ch, call, n); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.posts[ch] = append(r.posts[ch], n)
	r.mu.Unlock()
	return nil
}

// texts returns the texts posted to ch so far.
func (r *recorder) texts(ch chat.ChannelRef) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ts []string
	for _, n := range r.posts[ch] {
		ts = append(ts, n.Text)
	}
	return ts
}

func (r *recorder) callCount(ch chat.ChannelRef) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[ch]
}

// memSettings is a store.Settings in memory, for the outbox tests that need no database.
type memSettings struct {
	mu sync.Mutex
	m  map[chat.ChannelRef]store.ChannelSettings
}

func (s *memSettings) GetSettings(_ context.Context, ch chat.ChannelRef) (store.ChannelSettings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[ch]; ok {
		return v, nil
	}
	return store.DefaultSettings(), nil
}

func (s *memSettings) PutSettings(_ context.Context, ch chat.ChannelRef, v store.ChannelSettings) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[chat.ChannelRef]store.ChannelSettings{}
	}
	s.m[ch] = v
	return nil
}

// await waits, in a synctest bubble's fake time, until cond holds: it lets every goroutine of the
// bubble run until blocked, then moves the clock on a millisecond at a time. It takes no real time
// and fails after a fake minute.
func await(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for synctest.Wait(); !cond(); synctest.Wait() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// eventually fails the test when cond does not hold within a generous time; it is a wait, not a
// timing assertion.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var chA = chat.ChannelRef{Platform: "console", Channel: "a"}
var chB = chat.ChannelRef{Platform: "console", Channel: "b"}

func startOutbox(t *testing.T, ch chat.ChannelRef, p chat.Poster, s store.Settings, pace time.Duration) *outbox {
	t.Helper()
	o := newOutbox(ch, p, s, pace, discard(), nil, 0)
	o.backoff = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	go o.run(ctx)
	t.Cleanup(func() { cancel(); <-o.done })
	return o
}

type seqGen struct{ n int64 }

func (g *seqGen) stamp(ns ...notice) []notice {
	for i := range ns {
		g.n++
		ns[i].seq = g.n
		ns[i].at = time.Now()
	}
	return ns
}

// countLine parses one line such as "Alice, Bob and 12 others joined" into the names it shows and
// the number of people it covers.
var othersRE = regexp.MustCompile(`^(.*) and (\d+) others (joined|left|started presenting|stopped presenting)$`)

func countLine(line string) (names []string, count int, verb string) {
	if m := othersRE.FindStringSubmatch(line); m != nil {
		n, _ := strconv.Atoi(m[2])
		names = strings.Split(m[1], ", ")
		return names, len(names) + n, m[3]
	}
	line, _, _ = strings.Cut(line, " (") // "Alice joined (guest)"
	for _, v := range []string{"joined", "left", "started presenting", "stopped presenting"} {
		if rest, ok := strings.CutSuffix(line, " "+v); ok {
			first, last, ok := strings.Cut(rest, " and ")
			if !ok {
				return []string{rest}, 1, v
			}
			names = append(strings.Split(first, ", "), last)
			return names, len(names), v
		}
	}
	return nil, 0, ""
}

// tally counts, over every line of texts, the people each verb covers, and how often each shown
// name appears with it.
func tally(texts []string) (counts map[string]int, shown map[string]map[string]int) {
	counts, shown = map[string]int{}, map[string]map[string]int{}
	for _, t := range texts {
		for _, line := range strings.Split(t, "\n") {
			names, n, verb := countLine(line)
			counts[verb] += n
			if shown[verb] == nil {
				shown[verb] = map[string]int{}
			}
			for _, name := range names {
				shown[verb][name]++
			}
		}
	}
	return counts, shown
}

func TestOutboxPostsAtOnceThenCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		entered, release := make(chan struct{}), make(chan struct{})
		rec.hook = func(ctx context.Context, _ chat.ChannelRef, call int, _ chat.Notification) error {
			if call == 1 {
				close(entered)
				<-release
			}
			return nil
		}
		o := startOutbox(t, chA, rec, &memSettings{}, 20*time.Millisecond)
		var g seqGen
		o.add(g.stamp(join("a", "Alice", "guest"))...)
		<-entered // an isolated event is posted without waiting
		o.add(g.stamp(join("b", "Bob", "guest"))...)
		o.add(g.stamp(join("c", "Carol", "host"))...)
		o.add(g.stamp(join("d", "Dave", "guest"), leave("a", "Alice"))...)
		close(release)
		await(t, "second post", func() bool { return len(rec.texts(chA)) == 2 })
		want := []string{"Alice joined (guest)", "Bob, Carol and Dave joined\nAlice left"}
		if got := rec.texts(chA); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("posts = %q, want %q", got, want)
		}
		if got := o.acked.Load(); got != g.n {
			t.Errorf("acked = %d, want %d", got, g.n)
		}
	})
}

func TestOutboxJoinStormCountsExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		rec.hook = func(ctx context.Context, _ chat.ChannelRef, call int, _ chat.Notification) error {
			once.Do(func() { close(entered) })
			if call == 1 {
				<-release
			}
			time.Sleep(5 * time.Millisecond) // a slow chat service
			return nil
		}
		o := startOutbox(t, chA, rec, &memSettings{}, 10*time.Millisecond)
		var g seqGen
		const n = 500
		for i := range n {
			o.add(g.stamp(join(fmt.Sprint("u", i), fmt.Sprint("Person", i), "guest"))...)
			if i == 0 {
				<-entered
			}
		}
		close(release)
		await(t, "every join acknowledged", func() bool { return o.acked.Load() == n })
		texts := rec.texts(chA)
		if len(texts) != 2 {
			t.Errorf("%d posts for a storm held up by one slow post, want 2: %q", len(texts), texts)
		}
		counts, shown := tally(texts)
		if counts["joined"] != n {
			t.Errorf("posts account for %d joins, want exactly %d: %q", counts["joined"], n, texts)
		}
		for name, k := range shown["joined"] {
			if k != 1 {
				t.Errorf("%s shown %d times", name, k)
			}
		}
	})
}

func TestOutboxRateLimitDelaysAndCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		entered, release := make(chan struct{}), make(chan struct{})
		rec.hook = func(ctx context.Context, _ chat.ChannelRef, call int, _ chat.Notification) error {
			if call == 1 {
				close(entered)
				<-release
				return &chat.RateLimitError{RetryAfter: 30 * time.Millisecond, Err: errors.New("ratelimited")}
			}
			return nil
		}
		o := startOutbox(t, chA, rec, &memSettings{}, time.Millisecond)
		var g seqGen
		o.add(g.stamp(join("a", "Alice", "guest"))...)
		<-entered
		o.add(g.stamp(join("b", "Bob", "guest"), leave("c", "Carol"))...)
		close(release)
		await(t, "all acknowledged", func() bool { return o.acked.Load() == g.n })
		want := []string{"Alice and Bob joined\nCarol left"}
		if got := rec.texts(chA); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("posts = %q, want %q (refused post retried once, coalesced)", got, want)
		}
	})
}

func TestOutboxRetriesOtherErrorsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		rec.hook = func(ctx context.Context, _ chat.ChannelRef, call int, _ chat.Notification) error {
			if call <= 3 {
				return errors.New("connection reset")
			}
			return nil
		}
		o := startOutbox(t, chA, rec, &memSettings{}, time.Millisecond)
		var g seqGen
		o.add(g.stamp(join("a", "Alice", "guest"))...)
		await(t, "posted", func() bool { return o.acked.Load() == g.n })
		if got := rec.texts(chA); len(got) != 1 || got[0] != "Alice joined (guest)" {
			t.Errorf("posts = %q, want one", got)
		}
		if c := rec.callCount(chA); c != 4 {
			t.Errorf("Post called %d times, want 4 (3 failures, 1 success)", c)
		}
	})
}

func TestOutboxSlowChannelHoldsUpNoOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		stuck := make(chan struct{})
		defer close(stuck)
		rec.hook = func(ctx context.Context, ch chat.ChannelRef, _ int, _ chat.Notification) error {
			if ch == chA {
				select {
				case <-stuck:
				case <-ctx.Done():
				}
				return ctx.Err()
			}
			return nil
		}
		slow := startOutbox(t, chA, rec, &memSettings{}, time.Millisecond)
		fast := startOutbox(t, chB, rec, &memSettings{}, time.Millisecond)
		var g seqGen
		for i := range 20 {
			ns := g.stamp(join(fmt.Sprint("u", i), fmt.Sprint("P", i), "guest"))
			slow.add(ns...)
			fast.add(ns...)
		}
		await(t, "fast channel posted everything", func() bool { return fast.acked.Load() == g.n })
		if counts, _ := tally(rec.texts(chB)); counts["joined"] != 20 {
			t.Errorf("fast channel heard of %d joins, want 20", counts["joined"])
		}
		if got := rec.texts(chA); len(got) != 0 {
			t.Errorf("stuck channel posted %q", got)
		}
	})
}

func TestOutboxChannelGoneStopsThatChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		rec.hook = func(ctx context.Context, ch chat.ChannelRef, _ int, _ chat.Notification) error {
			if ch == chA {
				return fmt.Errorf("post: %w", chat.ErrChannelGone)
			}
			return nil
		}
		gone := startOutbox(t, chA, rec, &memSettings{}, time.Millisecond)
		var g seqGen
		gone.add(g.stamp(join("a", "Alice", "guest"))...)
		<-gone.done
		gone.add(g.stamp(join("b", "Bob", "guest"))...)
		if c := rec.callCount(chA); c != 1 {
			t.Errorf("Post called %d times on a gone channel, want 1", c)
		}
		if gone.acked.Load() < g.n {
			t.Errorf("a gone channel must not hold back roster saving (acked %d)", gone.acked.Load())
		}
	})
}

func TestOutboxReadsSettingsAtFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		set := &memSettings{}
		_ = set.PutSettings(context.Background(), chA, store.ChannelSettings{Leaves: true, Threaded: false})
		o := startOutbox(t, chA, rec, set, time.Millisecond)
		var g seqGen
		o.add(g.stamp(join("a", "Alice", "guest"), leave("b", "Bob"))...)
		await(t, "first flush", func() bool { return o.acked.Load() == g.n })
		_ = set.PutSettings(context.Background(), chA, store.ChannelSettings{Joins: true, Threaded: true})
		o.add(g.stamp(join("c", "Carol", "guest"), leave("d", "Dave"))...)
		await(t, "second flush", func() bool { return o.acked.Load() == g.n })
		want := []string{"Bob left", "Carol joined (guest)"}
		if got := rec.texts(chA); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("posts = %q, want %q", got, want)
		}
		rec.mu.Lock()
		threaded := []bool{rec.posts[chA][0].Threaded, rec.posts[chA][1].Threaded}
		rec.mu.Unlock()
		if threaded[0] || !threaded[1] {
			t.Errorf("Threaded = %v, want the channel's setting at each flush [false true]", threaded)
		}
	})
}

func TestOutboxCloseFlushesWithoutWaitingForPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		o := newOutbox(chA, rec, &memSettings{}, time.Hour, discard(), nil, 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go o.run(ctx)
		var g seqGen
		o.add(g.stamp(join("a", "Alice", "guest"))...)
		await(t, "first post", func() bool { return o.acked.Load() == 1 })
		o.add(g.stamp(join("b", "Bob", "guest"))...) // would wait an hour for the pace
		o.close()
		<-o.done
		want := []string{"Alice joined (guest)", "Bob joined (guest)"}
		if got := rec.texts(chA); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("posts = %q, want %q", got, want)
		}
	})
}

// refusing is a Poster that refuses for good every message longer than max bytes, or any
// message to a channel in never, the way Slack answers msg_too_long or restricted_action.
type refusing struct {
	*recorder
	max     int
	never   map[chat.ChannelRef]bool
	blocked string // a text containing it is refused, like a retention policy's block
}

func (r refusing) Post(ctx context.Context, ch chat.ChannelRef, n chat.Notification) error {
	if r.never[ch] || r.max > 0 && len(n.Text) > r.max || r.blocked != "" && strings.Contains(n.Text, r.blocked) {
		r.recorder.mu.Lock()
		r.recorder.calls[ch]++
		r.recorder.mu.Unlock()
		return fmt.Errorf("post: msg_too_long: %w", chat.ErrMessageRefused)
	}
	return r.recorder.Post(ctx, ch, n)
}

// Issue 12 item 3: a message the chat service refuses for good is posted in smaller pieces, and
// what is still refused is dropped and counted: the outbox never retries it forever, and what
// comes next is posted.
func TestOutboxRefusedMessageIsSplitThenDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := refusing{recorder: newRecorder(), max: 300, blocked: "BLOCKED"}
		obs := &countingObserver{}
		set := &memSettings{}
		_ = set.PutSettings(context.Background(), chA, store.ChannelSettings{Joins: true, Chat: true})
		o := newOutbox(chA, rec, set, time.Millisecond, discard(), obs, 0)
		o.backoff = time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); <-o.done }()
		go o.run(ctx)
		var g seqGen
		var batch []notice
		for i := range 20 { // 20 chat lines of about 40 bytes: too long together
			batch = append(batch, notice{kind: chat.ChatMessage, who: "a", name: "Alice", text: fmt.Sprintf("message number %02d, some words", i)})
		}
		batch = append(batch, notice{kind: chat.ChatMessage, who: "b", name: "Bob", text: strings.Repeat("x", 1000)}) // refused even alone
		o.add(g.stamp(batch...)...)
		await(t, "acknowledged", func() bool { return o.acked.Load() == g.n })
		var lines []string
		for _, text := range rec.texts(chA) {
			if len(text) > 300 {
				t.Errorf("posted %d bytes, over the limit the service accepts", len(text))
			}
			lines = append(lines, strings.Split(text, "\n")...)
		}
		if len(lines) < 20 || !strings.HasPrefix(lines[0], "Alice: message number 00") {
			t.Errorf("posted %q, want every one of Alice's 20 lines", lines)
		}
		var bob int
		for _, l := range lines {
			if strings.HasPrefix(l, "Bob: ") {
				bob++
				if !strings.HasSuffix(l, "…") {
					t.Errorf("Bob's line %q was not shortened", l)
				}
			}
		}
		if bob > 1 {
			t.Errorf("Bob's line posted %d times", bob)
		}
		// A message that nothing makes acceptable is dropped, once, and counted.
		o.add(g.stamp(notice{kind: chat.ChatMessage, who: "c", name: "Carol", text: "BLOCKED words"})...)
		o.add(g.stamp(join("d", "Dave", "guest"))...)
		await(t, "acknowledged", func() bool { return o.acked.Load() == g.n })
		synctest.Wait()
		if got := rec.texts(chA); got[len(got)-1] != "Dave joined (guest)" {
			t.Errorf("after a refused message, posted %q, want Dave's join", got[len(got)-1])
		}
		if obs.dropped.Load() < 1 {
			t.Errorf("dropped = %d, want the refused message counted", obs.dropped.Load())
		}
	})
}

// Issue 12 item 3: long texts are split at line ends to the platform's limit before posting.
func TestOutboxSplitsLongTextsToTheLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		o := newOutbox(chA, rec, &memSettings{}, time.Millisecond, discard(), nil, 0)
		o.maxText = 3000 // Slack's section
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); <-o.done }()
		go o.run(ctx)
		var g seqGen
		var batch []notice
		for i := range 400 {
			batch = append(batch, notice{kind: chat.ChatMessage, who: "a", name: "Alice", text: fmt.Sprintf("line %03d of a chat burst", i)})
		}
		batch = append(batch, notice{kind: chat.ChatMessage, who: "b", name: "Bob", text: strings.Repeat("é", 4000)})
		set := &memSettings{}
		_ = set.PutSettings(context.Background(), chA, store.ChannelSettings{Chat: true})
		o.settings = set
		o.add(g.stamp(batch...)...)
		await(t, "acknowledged", func() bool { return o.acked.Load() == g.n })
		texts := rec.texts(chA)
		var lines int
		for _, text := range texts {
			if len(text) > 3000 {
				t.Errorf("a message of %d bytes, over 3000", len(text))
			}
			if !utf8.ValidString(text) {
				t.Error("a character was cut in two")
			}
			lines += strings.Count(text, "\n") + 1
		}
		if lines != 401 || len(texts) < 4 {
			t.Errorf("%d lines in %d messages, want 401 lines split over several", lines, len(texts))
		}
	})
}

// Issue 12 item 3: what waits for a channel that cannot be posted to is bounded.
func TestOutboxPendingIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		rec.hook = func(ctx context.Context, _ chat.ChannelRef, _ int, _ chat.Notification) error {
			return errors.New("connection refused") // transient, for ever
		}
		obs := &countingObserver{}
		o := newOutbox(chA, rec, &memSettings{}, time.Millisecond, discard(), obs, 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); <-o.done }()
		go o.run(ctx)
		var g seqGen
		for i := range 3 * maxPending {
			o.add(g.stamp(join(fmt.Sprint("u", i), "P", "guest"))...)
		}
		synctest.Wait()
		o.mu.Lock()
		pending := len(o.pending)
		o.mu.Unlock()
		if pending > maxPending {
			t.Errorf("%d notices pending, want at most %d", pending, maxPending)
		}
		if obs.dropped.Load() == 0 {
			t.Error("the overflow was not counted")
		}
	})
}
