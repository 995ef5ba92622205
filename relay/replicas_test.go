package relay

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
	"github.com/meetbot/meetbot/store"
)

// owners maps each meeting key to the replicas that listen to it.
func owners(reps []*running) map[string][]string {
	m := map[string][]string{}
	for _, r := range reps {
		for _, k := range r.Listening() {
			m[k] = append(m[k], r.ReplicaID)
		}
	}
	return m
}

func TestReplicasShareMeetingsAndTakeOverFromACrash(t *testing.T) {
	open := openPostgres(t)
	h := newHarness(t, open())
	const n = 20
	rooms := make([]*sim.Room, n)
	links := make([]store.Link, n)
	bobs := make([]string, n)
	for i := range n {
		number := fmt.Sprint(2000 + i)
		rooms[i] = h.room(number)
		join1(rooms[i], fmt.Sprintf("Alice-%d", i))
		bobs[i] = join1(rooms[i], fmt.Sprintf("Bob-%d", i))
		links[i] = h.link(fmt.Sprintf("ch-%d", i), number)
	}
	const ttl, resync = time.Second, 100 * time.Millisecond
	tune := func(s *Supervisor) { s.LeaseTTL, s.Resync = ttl, resync }
	reps := []*running{
		h.supervisor("r0", open(), tune), h.supervisor("r1", open(), tune), h.supervisor("r2", open(), tune),
	}
	eventually(t, "every meeting listened to by one replica, spread, rosters saved", func() bool {
		own := owners(reps)
		if len(own) != n {
			return false
		}
		for _, ids := range own {
			if len(ids) != 1 {
				return false
			}
		}
		for _, r := range reps {
			if len(r.Listening()) == 0 || len(r.Listening()) > fairShare(n, 3)+1 {
				return false
			}
		}
		for _, l := range links {
			if len(h.savedRoster(l)) != 2 {
				return false
			}
		}
		return true
	})
	own := owners(reps)
	t.Logf("spread: r0 %d, r1 %d, r2 %d", len(reps[0].Listening()), len(reps[1].Listening()), len(reps[2].Listening()))
	if got := h.lines(links[0].Channel); len(got) != 0 {
		t.Fatalf("resuming stored links announced %q", got)
	}

	victim := reps[1]
	var orphaned []int
	for i, l := range links {
		if own[l.Meeting.Key()][0] == victim.ReplicaID {
			orphaned = append(orphaned, i)
		}
	}
	killed := time.Now()
	victim.kill()
	survivors := []*running{reps[0], reps[2]}

	// In every meeting, one person leaves and one joins: in the victim's, while no one listens.
	for i := range n {
		rooms[i].Leave(bobs[i])
		join1(rooms[i], fmt.Sprintf("Carol-%d", i))
	}
	eventually(t, "survivors take every meeting over", func() bool { return len(owners(survivors)) == n })
	t.Logf("%d meetings taken over %v after the crash (LeaseTTL %v, Resync %v)", len(orphaned), time.Since(killed).Round(time.Millisecond), ttl, resync)
	for i, l := range links {
		eventually(t, "gap of "+l.Meeting.Room+" reported", func() bool {
			counts, _ := tally(h.lines(l.Channel))
			return counts["joined"] >= 1 && counts["left"] >= 1
		})
		_ = i
	}
	for i, l := range links {
		h.flushAny(survivors, rooms[i], l)
	}
	for i, l := range links {
		got := h.lines(l.Channel)
		sort.Strings(got)
		want := []string{fmt.Sprintf("Bob-%d left", i), fmt.Sprintf("Carol-%d joined (guest)", i)}
		if !sameLines(got, want) {
			t.Errorf("meeting %d posted %q, want %q once each", i, got, want)
		}
	}
	for k, ids := range owners(survivors) {
		if len(ids) != 1 {
			t.Errorf("meeting %s listened to by %v", k, ids)
		}
	}
}

func TestRollingRestartMovesMeetingsWithoutAGap(t *testing.T) {
	open := openPostgres(t)
	h := newHarness(t, open())
	const n = 4
	rooms := make([]*sim.Room, n)
	links := make([]store.Link, n)
	for i := range n {
		number := fmt.Sprint(3000 + i)
		rooms[i] = h.room(number)
		join1(rooms[i], fmt.Sprintf("Alice-%d", i))
		links[i] = h.link(fmt.Sprintf("ch-%d", i), number)
	}
	// Leases this long would block a takeover for a minute unless handed back.
	tune := func(s *Supervisor) { s.LeaseTTL, s.Resync = time.Minute, 100*time.Millisecond }
	a := h.supervisor("a", open(), tune)
	eventually(t, "a listens to everything", func() bool { return len(a.Listening()) == n })
	b := h.supervisor("b", open(), tune)
	eventually(t, "rosters saved", func() bool {
		for _, l := range links {
			if len(h.savedRoster(l)) != 1 {
				return false
			}
		}
		return true
	})
	a.stop()
	for i := range n {
		join1(rooms[i], fmt.Sprintf("Bob-%d", i))
	}
	eventually(t, "b takes everything", func() bool { return len(b.Listening()) == n })
	for i, l := range links {
		h.expect(l.Channel, fmt.Sprintf("Bob-%d joined (guest)", i))
	}
	_ = context.Background
}

// hangingTransport is the network of a replica whose node, once hang is set, accepts new_session
// and never answers it (until the request's context ends).
type hangingTransport struct {
	base http.RoundTripper
	op   string // the operation that hangs; "new_session" when empty
	hang atomic.Bool
	hung chan string // receives the path of each request held
}

func (t *hangingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	op := t.op
	if op == "" {
		op = "new_session"
	}
	if t.hang.Load() && strings.HasSuffix(r.URL.Path, "/"+op) {
		select {
		case t.hung <- r.URL.Path:
		default:
		}
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return t.base.RoundTrip(r)
}

// Issue 12 item 2: a replica whose node hangs on new_session keeps renewing its leases, so no
// other replica takes over a meeting it still posts for: over a long run of joins in every
// meeting, each join is posted exactly once.
func TestReplicaWhoseNodeHangsOnNewSessionCausesNoDuplicate(t *testing.T) {
	open := openPostgres(t)
	h := newHarness(t, open())
	const n = 5
	rooms := make([]*sim.Room, n)
	links := make([]store.Link, n)
	for i := range n {
		rooms[i] = h.room(fmt.Sprint(4000 + i))
		join1(rooms[i], fmt.Sprintf("Alice-%d", i))
	}
	for i := range n - 1 {
		links[i] = h.link(fmt.Sprintf("ch-%d", i), rooms[i].Config().Number)
	}
	ht := &hangingTransport{base: http.DefaultTransport, hung: make(chan string, 16)}
	slowNode, err := meetings.NewClient(h.srv.URL, meetings.ClientOptions{
		HTTPClient:   &http.Client{Transport: ht, Timeout: time.Minute},
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, RetryBackoff: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	const ttl = time.Second
	// a's open of the new meeting hangs for the whole run: many lease lifetimes.
	tune := func(s *Supervisor) { s.LeaseTTL, s.Resync, s.OpenTimeout = ttl, 100*time.Millisecond, time.Minute }
	a := h.supervisor("a", open(), func(s *Supervisor) { tune(s); s.Client = slowNode })
	eventually(t, "a listens to every meeting", func() bool { return len(a.Listening()) == n-1 })

	// From now on a's node hangs on new_session, and a meeting is linked that a will try to open.
	ht.hang.Store(true)
	links[n-1] = h.link(fmt.Sprintf("ch-%d", n-1), rooms[n-1].Config().Number)
	select {
	case <-ht.hung:
	case <-time.After(20 * time.Second):
		t.Fatal("a never tried to open the new meeting")
	}
	b := h.supervisor("b", open(), tune)
	reps := []*running{a, b}

	// A long run of joins in the meetings a listens to, over five lease lifetimes while a's
	// node hangs.
	const joins = 30
	for j := range joins {
		for i := range n - 1 {
			join1(rooms[i], fmt.Sprintf("P%d-%d", i, j))
		}
		if j%6 == 5 {
			b.awaitRounds(t, 10) // a lease lifetime
		}
	}
	watched := links[:n-1]
	eventually(t, "every join posted", func() bool {
		for _, l := range watched {
			if counts, _ := tally(h.lines(l.Channel)); counts["joined"] < joins {
				return false
			}
		}
		return true
	})
	for i, l := range watched {
		h.flushAny(reps, rooms[i], l)
	}
	for i, l := range watched {
		// Coalesced lines name two people and count the rest: a join posted twice shows in
		// the count.
		counts, shown := tally(h.lines(l.Channel))
		if counts["joined"] != joins {
			t.Errorf("meeting %d: %d joins announced, want %d exactly: %q", i, counts["joined"], joins, h.lines(l.Channel))
		}
		for name, k := range shown["joined"] {
			if k != 1 {
				t.Errorf("meeting %d: %s announced %d times", i, name, k)
			}
		}
	}
	for k, ids := range owners(reps) {
		if len(ids) != 1 {
			t.Errorf("meeting %s listened to by %v", k, ids)
		}
	}
}

// Issue 12 item 2: a node that hangs on end_session holds up no unlink, no resync and no other
// meeting: sessions end in the background, within OpenTimeout.
func TestANodeThatHangsOnEndSessionHoldsNothingUp(t *testing.T) {
	h := newHarness(t, nil)
	h.room("4100")
	second := h.room("4101")
	ht := &hangingTransport{base: http.DefaultTransport, op: "end_session", hung: make(chan string, 16)}
	c, err := meetings.NewClient(h.srv.URL, meetings.ClientOptions{HTTPClient: &http.Client{Transport: ht, Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	r := h.supervisor("r1", nil, func(s *Supervisor) {
		s.Client, s.OpenTimeout, s.IdleSession = c, time.Minute, 50*time.Millisecond
	})
	l := h.follow(r, "team", "4100")
	ctx := context.Background()
	guest := l
	guest.PIN = "5678" // a guest's command: a pooled session of its own, soon idle
	if _, err := r.Session(ctx, guest); err != nil {
		t.Fatal(err)
	}
	ht.hang.Store(true)
	defer ht.hang.Store(false)
	select {
	case <-ht.hung: // the idle pooled session's end_session, held
	case <-time.After(20 * time.Second):
		t.Fatal("the idle pooled session was not ended")
	}
	// end_session is still held; resyncs go on: a link stored now is followed.
	other := h.link("other", "4101")
	eventually(t, "the new link followed", func() bool { return r.listens(other) })
	join1(second, "Bob")
	h.expect(other.Channel, "Bob joined (guest)")
}
