package scheduler

import (
	"context"
	"time"

	"github.com/meetbot/meetbot/store"
)

// Pruner deletes the history that would otherwise grow forever: audit entries and the claims of
// schedule runs (and, in the store, expired nonces) older than before. store.Pruner, which every
// store implements, is one.
type Pruner interface {
	Prune(ctx context.Context, before time.Time) (store.PruneResult, error)
}

// DefaultRetention is how long audit entries and schedule runs are kept when Config leaves it zero.
const DefaultRetention = 90 * 24 * time.Hour

const (
	// pruneEvery is how often history is pruned after the first time, at start.
	pruneEvery = 24 * time.Hour
	// pruneRetry is how soon a prune that failed (the database was away) is tried again.
	pruneRetry = time.Hour
	// pruneTimeout bounds one prune: the first on a large audit log deletes many rows.
	pruneTimeout = 5 * time.Minute
)

// pruneLoop prunes at once and then every pruneEvery (pruneRetry after a failure) until ctx ends.
// Every replica prunes: deleting what is older than a moment is the same work done twice, never
// a conflict, and it needs no leader.
func (s *Scheduler) pruneLoop(ctx context.Context) {
	for {
		wait := pruneEvery
		if !s.prune(ctx) {
			wait = pruneRetry
		}
		t := s.cfg.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.Chan():
		}
	}
}

// prune deletes the history older than Retention and reports whether it could.
func (s *Scheduler) prune(ctx context.Context) bool {
	before := s.cfg.Now().Add(-s.cfg.Retention)
	ctx, cancel := context.WithTimeout(ctx, pruneTimeout)
	defer cancel()
	res, err := s.cfg.Pruner.Prune(ctx, before)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("prune the audit log and schedule runs; trying again in an hour", "before", before, "err", err)
		}
		return false
	}
	s.log.Info("pruned the audit log and schedule runs", "before", before,
		"audit", res.Audit, "schedule_runs", res.ScheduleRuns, "nonces", res.Nonces)
	return true
}
