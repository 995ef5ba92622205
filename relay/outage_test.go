package relay

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/internal/pgtest"
	"github.com/meetbot/meetbot/meetings/sim"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/postgres"
)

// Issue 12 item 6: PostgreSQL going away and coming back under load (a restart) is survived: the
// listeners go on following their meetings, stop posting while their leases cannot be renewed,
// and once the database is back every join made meanwhile is posted exactly once, by exactly one
// replica per meeting.
func TestPostgresRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server of its own")
	}
	srv := pgtest.StartServer(t)
	ctx := context.Background()
	open := func() store.Store {
		db, err := postgres.Open(ctx, srv.URL, testKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	h := newHarness(t, open())
	const n = 4
	rooms := make([]*sim.Room, n)
	links := make([]store.Link, n)
	for i := range n {
		rooms[i] = h.room(fmt.Sprint(5000 + i))
		join1(rooms[i], fmt.Sprintf("Alice-%d", i))
		links[i] = h.link(fmt.Sprintf("ch-%d", i), rooms[i].Config().Number)
	}
	tune := func(s *Supervisor) { s.LeaseTTL, s.Resync = time.Second, 100*time.Millisecond }
	reps := []*running{h.supervisor("a", open(), tune), h.supervisor("b", open(), tune)}
	eventually(t, "every meeting listened to, rosters saved", func() bool {
		own := owners(reps)
		if len(own) != n {
			return false
		}
		for _, l := range links {
			if len(h.savedRoster(l)) != 1 {
				return false
			}
		}
		return true
	})

	// Load: people keep joining every meeting, before, during and after the outage.
	var mu sync.Mutex
	joined := make([]int, n)
	joinRound := func() {
		mu.Lock()
		defer mu.Unlock()
		for i := range n {
			join1(rooms[i], fmt.Sprintf("P%d-%d", i, joined[i]))
			joined[i]++
		}
	}
	for range 5 {
		joinRound()
	}
	srv.Stop("fast")
	for range 30 { // about three lease lifetimes without a database
		joinRound()
		reps[0].awaitRounds(t, 1)
	}
	srv.Start()
	for range 5 {
		joinRound()
	}
	eventually(t, "every join posted", func() bool {
		for i, l := range links {
			if counts, _ := tally(h.lines(l.Channel)); counts["joined"] < joined[i] {
				return false
			}
		}
		return true
	})
	eventually(t, "one replica per meeting", func() bool {
		own := owners(reps)
		for _, ids := range own {
			if len(ids) != 1 {
				return false
			}
		}
		return len(own) == n
	})
	for i, l := range links {
		h.flushAny(reps, rooms[i], l)
	}
	for i, l := range links {
		counts, shown := tally(h.lines(l.Channel))
		if counts["joined"] != joined[i] || len(shown["left"]) != 0 {
			t.Errorf("meeting %d: %d joins posted, want %d exactly, and no leave: %q", i, counts["joined"], joined[i], h.lines(l.Channel))
		}
		for name, k := range shown["joined"] {
			if k != 1 {
				t.Errorf("meeting %d: %s announced %d times", i, name, k)
			}
		}
	}
}
