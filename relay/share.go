package relay

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/meetbot/meetbot/store"
)

// Replicas find each other through two kinds of store.KV value: a list of replica ids, and a
// heartbeat per replica (the replica's clock, in Unix milliseconds) written at every resync. A
// replica is live while its heartbeat is younger than LeaseTTL, the same time its leases take to
// lapse, so a dead replica stops counting about when its meetings become free.
const (
	replicasKey     = "relay/replicas"
	heartbeatPrefix = "relay/replica/"
)

// liveReplicas writes this replica's heartbeat and returns how many replicas are live, itself
// included. Errors count as "alone": the replica then claims what is free, as a single one would.
func (s *Supervisor) liveReplicas(ctx context.Context) int {
	now := time.Now()
	if err := s.Store.PutValue(ctx, heartbeatPrefix+s.ReplicaID, strconv.FormatInt(now.UnixMilli(), 10)); err != nil {
		return 1
	}
	ids, err := s.replicaIDs(ctx)
	if err != nil {
		return 1
	}
	live, keep := 0, ids[:0:0]
	ttl := s.leaseTTL()
	for _, id := range ids {
		if id == s.ReplicaID {
			continue
		}
		v, err := s.Store.GetValue(ctx, heartbeatPrefix+id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return 1
		}
		ms, _ := strconv.ParseInt(v, 10, 64)
		age := now.Sub(time.UnixMilli(ms))
		if age < ttl {
			live++
		}
		if age < 6*ttl { // long gone replicas leave the list
			keep = append(keep, id)
		}
	}
	keep = append(keep, s.ReplicaID)
	slices.Sort(keep)
	if !slices.Equal(keep, ids) {
		// Two replicas writing at once may lose one's entry; it adds itself back next round.
		if b, err := json.Marshal(keep); err == nil {
			_ = s.Store.PutValue(ctx, replicasKey, string(b))
		}
	}
	return live + 1
}

// replicaIDs reads the sorted list of replica ids.
func (s *Supervisor) replicaIDs(ctx context.Context) ([]string, error) {
	v, err := s.Store.GetValue(ctx, replicasKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	if json.Unmarshal([]byte(v), &ids) != nil {
		return nil, nil // rewritten below
	}
	slices.Sort(ids)
	return ids, nil
}

// leave removes this replica from the list and clears its heartbeat, so the others count one
// replica fewer at once and take its meetings at their next resync.
func (s *Supervisor) leave(ctx context.Context) {
	_ = s.Store.PutValue(ctx, heartbeatPrefix+s.ReplicaID, "0")
	ids, err := s.replicaIDs(ctx)
	if err != nil {
		return
	}
	if i := slices.Index(ids, s.ReplicaID); i >= 0 {
		ids = slices.Delete(ids, i, i+1)
		if b, err := json.Marshal(ids); err == nil {
			_ = s.Store.PutValue(ctx, replicasKey, string(b))
		}
	}
}

// fairShare is how many of meetings one of replicas should listen to.
func fairShare(meetings, replicas int) int {
	if replicas < 1 {
		replicas = 1
	}
	return (meetings + replicas - 1) / replicas
}
