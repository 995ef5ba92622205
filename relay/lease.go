package relay

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meetbot/meetbot/store"
)

// leases keeps this replica's leases on meetings: it claims them, renews all of them on a
// schedule of their own, never behind a session being opened or closed, and knows for each how
// long it is held for sure. Outboxes ask before every post (fencing): a listener whose lease
// could not be renewed stops posting before the database could let another replica claim it.
//
// "Held for sure" is judged by this process's clock: a claim or renewal that succeeded holds the
// lease until the time the request was sent plus LeaseTTL, since the database measures the TTL
// from when it ran the statement, which is later. Two replicas could post at once only if their
// clocks ran at different rates by more than the fencing margin over a TTL.
type leases struct {
	store store.Leases
	owner string
	ttl   time.Duration
	log   *slog.Logger

	mu   sync.Mutex
	held map[string]*lease // by meeting key
}

// lease is one meeting's lease as this replica holds it.
type lease struct {
	key   string        // the store key, leasePrefix + the meeting's key
	until atomic.Int64  // Unix nanoseconds: held for sure until then
	lost  chan struct{} // closed when another replica holds it, or it was handed back
	once  sync.Once

	mu      sync.Mutex
	renewed chan struct{} // closed (and replaced) at every successful claim or renewal
}

// extend records a claim or renewal sent at sent, and wakes the outboxes waiting for it.
func (l *lease) extend(sent time.Time, ttl time.Duration) {
	l.until.Store(sent.Add(ttl).UnixNano())
	l.mu.Lock()
	close(l.renewed)
	l.renewed = make(chan struct{})
	l.mu.Unlock()
}

// wait returns once l is held for sure until at least margin from now (true), or is lost or ctx
// done (false).
func (l *lease) wait(ctx context.Context, margin time.Duration) bool {
	for {
		l.mu.Lock()
		ch := l.renewed
		l.mu.Unlock()
		if l.validAt(time.Now().Add(margin)) {
			return true
		}
		select {
		case <-ch:
		case <-l.lost:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// heldUntil reports until when l is held for sure.
func (l *lease) heldUntil() time.Time { return time.Unix(0, l.until.Load()) }

// validAt reports whether l is held for sure at t.
func (l *lease) validAt(t time.Time) bool {
	select {
	case <-l.lost:
		return false
	default:
	}
	return t.Before(l.heldUntil())
}

func (l *lease) markLost() { l.once.Do(func() { close(l.lost) }) }

func newLeases(st store.Leases, owner string, ttl time.Duration, log *slog.Logger) *leases {
	return &leases{store: st, owner: owner, ttl: ttl, log: log, held: map[string]*lease{}}
}

// claim takes the lease of meeting k and keeps it renewed from now on. It reports false when
// another replica holds it.
func (ls *leases) claim(ctx context.Context, k string) (*lease, bool, error) {
	sent := time.Now()
	ok, err := ls.store.ClaimLease(ctx, leasePrefix+k, ls.owner, ls.ttl)
	if err != nil || !ok {
		return nil, false, err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.held[k]
	if l == nil {
		l = &lease{key: leasePrefix + k, lost: make(chan struct{}), renewed: make(chan struct{})}
		ls.held[k] = l
	}
	l.extend(sent, ls.ttl)
	return l, true, nil
}

// get returns the lease of meeting k, or nil when this replica does not hold it.
func (ls *leases) get(k string) *lease {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.held[k]
}

// release hands the lease of k back (best effort: it lapses by itself otherwise) and stops
// renewing it.
func (ls *leases) release(ctx context.Context, k string) {
	l := ls.forget(k)
	if l == nil {
		return
	}
	if err := ls.store.ReleaseLease(ctx, l.key, ls.owner); err != nil {
		ls.log.Warn("release lease; it lapses by itself", "meeting", k, "err", err)
	}
}

// forget stops renewing the lease of k without handing it back (a crash, or a lease lost).
func (ls *leases) forget(k string) *lease {
	ls.mu.Lock()
	l := ls.held[k]
	delete(ls.held, k)
	ls.mu.Unlock()
	if l != nil {
		l.markLost()
	}
	return l
}

// renewAll renews every lease held and returns the meetings whose lease another replica holds
// now. Renewals that fail (the database is unreachable) are retried at the next round; meanwhile
// their fence closes by itself when heldUntil passes. The round ends by ctx's deadline.
func (ls *leases) renewAll(ctx context.Context) (lost []string) {
	ls.mu.Lock()
	keys := make([]string, 0, len(ls.held))
	for k := range ls.held {
		keys = append(keys, k)
	}
	ls.mu.Unlock()
	if b, ok := ls.store.(batchRenewer); ok {
		return ls.renewBatch(ctx, b, keys)
	}
	failed := 0
	var firstErr error
	for _, k := range keys {
		l := ls.get(k)
		if l == nil {
			continue // released meanwhile
		}
		sent := time.Now()
		ok, err := ls.store.RenewLease(ctx, l.key, ls.owner, ls.ttl)
		switch {
		case err != nil:
			failed++
			if firstErr == nil {
				firstErr = err
			}
		case ok:
			if ls.get(k) == l {
				l.extend(sent, ls.ttl)
			}
		default:
			if ls.get(k) == l {
				ls.forget(k)
				lost = append(lost, k)
			}
		}
	}
	if failed > 0 {
		ls.log.Warn("renew leases; will retry, posting pauses if the leases could lapse meanwhile", "failed", failed, "of", len(keys), "err", firstErr)
	}
	return lost
}

// keys returns the meetings whose lease is held.
func (ls *leases) keys() []string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	out := make([]string, 0, len(ls.held))
	for k := range ls.held {
		out = append(out, k)
	}
	return out
}

// batchRenewer is a store that renews many leases of one owner in one statement.
type batchRenewer interface {
	RenewLeases(ctx context.Context, owner string, keys []string, ttl time.Duration) (held []string, err error)
}

// renewBatchSize bounds the keys of one renewal statement.
const renewBatchSize = 1000

// renewBatch is renewAll in a statement per renewBatchSize leases rather than one per lease, so
// a replica's idle load on the database does not grow with the meetings it holds. A lease is
// extended from the time its statement was sent, as renewAll does, so the fence stays on the
// safe side of the database's expiry.
func (ls *leases) renewBatch(ctx context.Context, b batchRenewer, keys []string) (lost []string) {
	var firstErr error
	failed := 0
	for chunk := range slices.Chunk(keys, renewBatchSize) {
		before := make(map[string]*lease, len(chunk))
		stored := make([]string, 0, len(chunk)) // the store's keys carry leasePrefix
		for _, k := range chunk {
			if l := ls.get(k); l != nil {
				before[k] = l
				stored = append(stored, l.key)
			}
		}
		sent := time.Now()
		held, err := b.RenewLeases(ctx, ls.owner, stored, ls.ttl)
		if err != nil {
			failed += len(chunk)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		ok := make(map[string]bool, len(held))
		for _, k := range held {
			ok[k] = true
		}
		for _, k := range chunk {
			l := before[k]
			if l == nil || ls.get(k) != l {
				continue // released (or released and claimed again) meanwhile
			}
			switch {
			case ok[l.key]:
				l.extend(sent, ls.ttl)
			default:
				ls.forget(k)
				lost = append(lost, k)
			}
		}
	}
	if failed > 0 {
		ls.log.Warn("renew leases; will retry, posting pauses if the leases could lapse meanwhile", "failed", failed, "of", len(keys), "err", firstErr)
	}
	return lost
}
