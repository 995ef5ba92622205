package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/sqlite"
)

// recordingPruner passes prunes to a store (or fails the first ones) and records each cutoff.
type recordingPruner struct {
	Pruner
	mu      sync.Mutex
	befores []time.Time
	fail    int // how many prunes fail before they reach the store
}

func (p *recordingPruner) Prune(ctx context.Context, before time.Time) (store.PruneResult, error) {
	p.mu.Lock()
	p.befores = append(p.befores, before)
	fail := p.fail > 0
	p.fail--
	p.mu.Unlock()
	if fail {
		return store.PruneResult{}, store.ErrUnavailable
	}
	return p.Pruner.Prune(ctx, before)
}

func (p *recordingPruner) cutoffs() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.befores...)
}

func TestHistoryPrunedAtStartAndDaily(t *testing.T) {
	ctx := context.Background()
	now := at(10, 0)
	st := openSQLite(t, sqlite.Memory, testKey())
	for _, age := range []time.Duration{100 * 24 * time.Hour, 24 * time.Hour} {
		if err := st.AppendAudit(ctx, store.AuditEntry{Time: now.Add(-age), Channel: room, User: alice, Command: "lock", Outcome: "ok", OK: true}); err != nil {
			t.Fatal(err)
		}
	}
	p := &recordingPruner{Pruner: st}
	h := newHarness(t, st, clockwork.NewFakeClockAt(now), func(c *Config) {
		c.Pruner = p
		c.Retention = 90 * 24 * time.Hour
	})
	h.start(t, 1) // the reload ticker and the timer of the next prune: the first is done

	if got := p.cutoffs(); len(got) != 1 || !got[0].Equal(now.Add(-90*24*time.Hour)) {
		t.Fatalf("prunes at start %v, want one with cutoff 90 days ago", got)
	}
	es, err := st.RecentAudit(ctx, room, 10)
	if err != nil || len(es) != 1 || !es[0].Time.Equal(now.Add(-24*time.Hour)) {
		t.Errorf("audit after pruning = %+v, %v; want only yesterday's entry", es, err)
	}

	h.clock.Advance(24 * time.Hour)
	eventually(t, "the daily prune", func() bool { return len(p.cutoffs()) == 2 })
	if got := p.cutoffs()[1]; !got.Equal(now.Add(24*time.Hour - 90*24*time.Hour)) {
		t.Errorf("second cutoff %s, want a day later", got)
	}
}

func TestFailedPruneIsRetriedWithinTheHour(t *testing.T) {
	st := openSQLite(t, sqlite.Memory, testKey())
	p := &recordingPruner{Pruner: st, fail: 1}
	h := newHarness(t, st, clockwork.NewFakeClockAt(at(10, 0)), func(c *Config) { c.Pruner = p })
	h.start(t, 1)
	if n := len(p.cutoffs()); n != 1 {
		t.Fatalf("%d prunes at start, want 1", n)
	}
	h.clock.Advance(time.Hour)
	eventually(t, "the retry", func() bool { return len(p.cutoffs()) == 2 })
	if got := p.cutoffs()[1]; !got.Equal(at(11, 0).Add(-DefaultRetention)) {
		t.Errorf("retry cutoff %s, want an hour later with the default retention", got)
	}
}
