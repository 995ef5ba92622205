package relay

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

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
		h.flush(survivors[slices.IndexFunc(survivors, func(r *running) bool { return r.listener(l) != nil })], rooms[i], l)
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
