package scheduler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jonboulle/clockwork"

	"github.com/meetbot/meetbot/internal/pgtest"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/postgres"
)

// replicaStores returns a function opening one more handle on a database shared by the test's
// replicas, as separate processes would: PostgreSQL (a schema of the test's own) when
// MEETBOT_TEST_POSTGRES_URL is set, else a SQLite file. Under MEETBOT_TEST_REQUIRE_ALL=true,
// PostgreSQL is required.
func replicaStores(t *testing.T) (name string, open func() Store) {
	t.Helper()
	url := os.Getenv("MEETBOT_TEST_POSTGRES_URL")
	if url == "" {
		if os.Getenv("MEETBOT_TEST_REQUIRE_ALL") == "true" {
			t.Fatal("MEETBOT_TEST_POSTGRES_URL is not set and MEETBOT_TEST_REQUIRE_ALL=true: replicas must be tested on PostgreSQL")
		}
		path := filepath.Join(t.TempDir(), "meetbot.db")
		return "sqlite", func() Store { return openSQLite(t, path, testKey()) }
	}
	schema := pgtest.Schema(t, "sched")
	ctx := context.Background()
	return "postgres", func() Store {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		db, err := postgres.OpenConfig(ctx, cfg, testKey(), nil)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
}

// claims counts every replica's claims, per slot.
type claims struct {
	mu    sync.Mutex
	tries map[time.Time]int
	wins  map[time.Time]int
	log   []string // owner slot won, in order
	seen  map[string]bool
}

func newClaims() *claims {
	return &claims{tries: map[time.Time]int{}, wins: map[time.Time]int{}, seen: map[string]bool{}}
}

// has reports whether owner has claimed (or tried to claim) slot.
func (c *claims) has(owner string, slot time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[owner+" "+slot.UTC().String()]
}

// countingStore passes everything to the replica's store and counts its claims in c.
type countingStore struct {
	Store
	c *claims
}

func (s countingStore) ClaimRun(ctx context.Context, id int64, slot time.Time, owner string) (bool, error) {
	won, err := s.Store.ClaimRun(ctx, id, slot, owner)
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.c.seen[owner+" "+slot.UTC().String()] = true
	s.c.log = append(s.c.log, fmt.Sprintf("%s %s %v", owner, slot.UTC().Format(time.TimeOnly), won))
	s.c.tries[slot.UTC()]++
	if won {
		s.c.wins[slot.UTC()]++
	}
	return won, err
}

// TestReplicasRunEachSlotOnce runs three replicas on one database whose clocks disagree by 25
// seconds each way. Each fires every slot by its own clock, the replica ahead first and the one
// behind after the others have claimed and finished, which is when a lock held only during the
// run would be free again. Every slot still runs exactly once.
func TestReplicasRunEachSlotOnce(t *testing.T) {
	backend, open := replicaStores(t)
	t.Logf("replicas share a %s store", backend)
	counts := newClaims()

	// No replica's clock ever stops exactly on a slot: gocron may fire a job twice when its
	// clock reads exactly the slot as it reschedules (the claim refuses the second firing).
	real := at(8, 59).Add(33 * time.Second)
	skews := []time.Duration{0, 25 * time.Second, -25 * time.Second}
	var reps []*harness
	var raw []Store
	for i, skew := range skews {
		raw = append(raw, open())
		st := countingStore{raw[i], counts}
		reps = append(reps, newHarness(t, st, clockwork.NewFakeClockAt(real.Add(skew)), func(c *Config) {
			c.ReplicaID = fmt.Sprintf("replica-%d", i)
			c.Reload = time.Hour // the schedule is stored before the replicas start
			c.MinInterval = -1   // a run every minute keeps the test short
		}))
	}
	sc := reps[0].add(t, "* * * * *", "lock") // every minute
	for _, r := range reps {
		r.start(t, 1)
	}

	slots := []time.Time{at(9, 0), at(9, 1), at(9, 2), at(9, 3), at(9, 4)}
	last := slots[len(slots)-1]
	// allClaimed reports whether every replica has tried to claim every slot its clock reached.
	allClaimed := func() bool {
		for _, r := range reps {
			for _, s := range slots {
				if !s.After(r.clock.Now()) && !counts.has(r.s.cfg.ReplicaID, s) {
					return false
				}
			}
		}
		return true
	}
	// Real time passes in 10-second steps; after each, every replica that reached a slot has
	// claimed it (or found it claimed) before time moves on.
	// Until every replica has reached the last slot, and none the one after it.
	for real.Before(last.Add(30 * time.Second)) {
		for _, r := range reps {
			blockUntil(t, r.clock, 2) // reload ticker and the armed timer of the next run
		}
		for _, r := range reps {
			r.clock.Advance(10 * time.Second)
		}
		real = real.Add(10 * time.Second)
		eventually(t, "the claims of the slots reached", allClaimed)
	}

	counts.mu.Lock()
	for _, s := range slots {
		if counts.tries[s] != len(reps) || counts.wins[s] != 1 {
			t.Errorf("slot %s: %d replicas tried, %d won; want %d tried, 1 won",
				s.Format(time.TimeOnly), counts.tries[s], counts.wins[s], len(reps))
		}
	}
	if len(counts.tries) != len(slots) {
		t.Errorf("claims named slots %v, want exactly %v", counts.tries, slots)
	}
	if t.Failed() {
		t.Logf("claims in order:\n%s", strings.Join(counts.log, "\n"))
	}
	counts.mu.Unlock()

	eventually(t, "every slot's post", func() bool {
		n := 0
		for _, r := range reps {
			n += len(r.rec.texts())
		}
		return n >= len(slots)
	})
	var runs, posts int
	for _, r := range reps {
		runs += len(r.rec.requests())
		posts += len(r.rec.texts())
	}
	if runs != len(slots) || posts != len(slots) {
		t.Errorf("%d runs and %d posts across replicas, want %d of each", runs, posts, len(slots))
	}
	// The replica whose clock is ahead reaches each slot first and runs it.
	if n := len(reps[1].rec.requests()); n != len(slots) {
		t.Errorf("the replica ahead ran %d slots, want all %d", n, len(slots))
	}
	eventually(t, "one audit entry per slot", func() bool {
		a, _ := raw[0].(store.Audit).RecentAudit(context.Background(), room, 20)
		return len(a) == len(slots)
	})
	want := fmt.Sprintf("Scheduled #%d (lock): locked the meeting", sc.ID)
	for _, text := range reps[1].rec.texts() {
		if text != want {
			t.Errorf("post %q, want %q", text, want)
		}
	}
}

// TestReloadFollowsOtherReplicas: a schedule added on one replica starts on the other at its next
// reload, runs once across both, and stops on both when removed on one.
func TestReloadFollowsOtherReplicas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meetbot.db")
	counts := newClaims()
	clock := clockwork.NewFakeClockAt(at(8, 58))
	var reps []*harness
	for i := range 2 {
		st := countingStore{openSQLite(t, path, testKey()), counts}
		reps = append(reps, newHarness(t, st, clock, func(c *Config) { c.ReplicaID = fmt.Sprint("r", i) }))
	}
	a, b := reps[0], reps[1]
	a.start(t, 0)
	b.start(t, 0)
	blockUntil(t, clock, 2) // both reload tickers

	sc := a.add(t, "0 9 * * *", "lock")
	clock.Advance(5 * time.Second) // the reload interval: b reads the store again
	eventually(t, "the other replica to load the schedule", func() bool {
		_, ok := b.s.lookup(sc.ID)
		return ok
	})
	blockUntil(t, clock, 4)
	clock.Advance(2 * time.Minute)
	eventually(t, "both replicas to claim 09:00", func() bool { return counts.has("r0", at(9, 0)) && counts.has("r1", at(9, 0)) })
	eventually(t, "the run's post", func() bool { return len(a.rec.texts())+len(b.rec.texts()) >= 1 })
	if n := len(a.rec.requests()) + len(b.rec.requests()); n != 1 {
		t.Errorf("09:00 ran %d times across two replicas, want once", n)
	}

	if err := a.s.Remove(context.Background(), room, sc.ID); err != nil {
		t.Fatal(err)
	}
	blockUntil(t, clock, 3) // b still has the 09:00 timer for tomorrow until it reloads
	clock.Advance(5 * time.Second)
	eventually(t, "the other replica to drop the schedule", func() bool {
		_, ok := b.s.lookup(sc.ID)
		return !ok
	})
}
