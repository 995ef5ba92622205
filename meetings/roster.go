package meetings

import (
	"cmp"
	"slices"
	"sync"
)

// ChangeKind says what happened to a participant.
type ChangeKind int

// The kinds of change a Roster reports.
const (
	Joined ChangeKind = iota + 1
	Updated
	Left
)

// String names k: "joined", "updated", "left".
func (k ChangeKind) String() string {
	switch k {
	case Joined:
		return "joined"
	case Updated:
		return "updated"
	case Left:
		return "left"
	}
	return "unknown"
}

// Change is one real change of the roster. Participant is the participant as it is now (for Left,
// as it was last seen); Before is the previous state for Updated, and zero otherwise.
type Change struct {
	Kind        ChangeKind
	Participant Participant
	Before      Participant
}

// Roster is the live participant list of one meeting, fed with the events of its stream. A new
// roster is unprimed: its first complete sync (or Restore) sets the baseline silently, so that
// linking a meeting or restarting never announces everyone. After that, Apply reports real
// changes only: a reconnect's sync reports who joined, changed or left during the gap, never a
// replay of everyone (clarification 4). It is safe for concurrent use.
type Roster struct {
	mu      sync.Mutex
	cur     map[string]Participant
	pending map[string]Participant // the sync in progress, nil outside a sync
	primed  bool
}

// NewRoster returns an empty, unprimed roster.
func NewRoster() *Roster {
	return &Roster{cur: make(map[string]Participant)}
}

// Apply applies one event and returns the real changes it made, in a stable order. Events that
// do not concern participants return nil.
//
// Clarification 4: at SyncBegin the roster keeps its list aside; participants created (or
// updated) inside the bracket form the new list; at SyncEnd uuids that are new have joined, known
// ones that changed were updated, and known ones that did not come back have left. Clarification
// 10: outside a sync, a uuid first seen in participant_update has joined. A StreamLost abandons a
// sync in progress, keeping the list from before it.
func (r *Roster) Apply(ev Event) []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev := ev.(type) {
	case ParticipantCreated:
		return r.upsert(ev.Participant)
	case ParticipantUpdated:
		return r.upsert(ev.Participant)
	case ParticipantDeleted:
		if r.pending != nil {
			delete(r.pending, ev.UUID)
			return nil
		}
		p, ok := r.cur[ev.UUID]
		if !ok {
			return nil
		}
		delete(r.cur, ev.UUID)
		if !r.primed {
			return nil
		}
		return []Change{{Kind: Left, Participant: p}}
	case SyncBegin:
		r.pending = make(map[string]Participant, len(r.cur))
		return nil
	case SyncEnd:
		if r.pending == nil {
			return nil
		}
		next := r.pending
		r.pending = nil
		if !r.primed {
			r.cur, r.primed = next, true
			return nil
		}
		changes := diff(r.cur, next)
		r.cur = next
		return changes
	case StreamLost:
		r.pending = nil
	}
	return nil
}

func (r *Roster) upsert(p Participant) []Change {
	if p.UUID == "" {
		return nil
	}
	if r.pending != nil {
		r.pending[p.UUID] = p
		return nil
	}
	before, known := r.cur[p.UUID]
	r.cur[p.UUID] = p
	switch {
	case !r.primed:
		return nil
	case !known:
		return []Change{{Kind: Joined, Participant: p}}
	case before != p:
		return []Change{{Kind: Updated, Participant: p, Before: before}}
	}
	return nil
}

// diff reports the changes from old to next: joins, then updates, then leaves, each ordered like
// Participants.
func diff(old, next map[string]Participant) []Change {
	var joined, updated, left []Change
	for id, p := range next {
		before, ok := old[id]
		switch {
		case !ok:
			joined = append(joined, Change{Kind: Joined, Participant: p})
		case before != p:
			updated = append(updated, Change{Kind: Updated, Participant: p, Before: before})
		}
	}
	for id, p := range old {
		if _, ok := next[id]; !ok {
			left = append(left, Change{Kind: Left, Participant: p})
		}
	}
	byP := func(a, b Change) int { return compareParticipants(a.Participant, b.Participant) }
	slices.SortFunc(joined, byP)
	slices.SortFunc(updated, byP)
	slices.SortFunc(left, byP)
	return slices.Concat(joined, updated, left)
}

// Restore sets the baseline from saved state and primes the roster: the next sync reports the
// difference between ps and the meeting as it is then.
func (r *Roster) Restore(ps []Participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur = make(map[string]Participant, len(ps))
	for _, p := range ps {
		if p.UUID != "" {
			r.cur[p.UUID] = p
		}
	}
	r.pending = nil
	r.primed = true
}

// Primed reports whether the roster has its baseline (a complete sync or Restore).
func (r *Roster) Primed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.primed
}

// Participants returns a snapshot of the roster ordered by StartTime, then DisplayName, then UUID.
// During a sync it is the list from before the sync.
func (r *Roster) Participants() []Participant {
	r.mu.Lock()
	ps := make([]Participant, 0, len(r.cur))
	for _, p := range r.cur {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	slices.SortFunc(ps, compareParticipants)
	return ps
}

// Get returns the participant with the given uuid.
func (r *Roster) Get(uuid string) (Participant, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.cur[uuid]
	return p, ok
}

// Len returns the number of participants.
func (r *Roster) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.cur)
}

func compareParticipants(a, b Participant) int {
	return cmp.Or(cmp.Compare(a.StartTime, b.StartTime), cmp.Compare(a.DisplayName, b.DisplayName),
		cmp.Compare(a.UUID, b.UUID))
}
