package meetings_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

func pp(uuid, name string, start int64) meetings.Participant {
	return meetings.Participant{UUID: uuid, DisplayName: name, StartTime: start, Role: "guest", RxPresentationAllowed: true}
}

type change struct {
	Kind meetings.ChangeKind
	Name string
}

func summary(cs []meetings.Change) []change {
	var out []change
	for _, c := range cs {
		out = append(out, change{c.Kind, c.Participant.DisplayName})
	}
	return out
}

func apply(r *meetings.Roster, evs ...meetings.Event) []change {
	var out []change
	for _, ev := range evs {
		out = append(out, summary(r.Apply(ev))...)
	}
	return out
}

func syncOf(ps ...meetings.Participant) []meetings.Event {
	evs := []meetings.Event{meetings.SyncBegin{}}
	for _, p := range ps {
		evs = append(evs, meetings.ParticipantCreated{Participant: p})
	}
	return append(evs, meetings.SyncEnd{})
}

var (
	pa = pp("a", "Alice", 1)
	pb = pp("b", "Bob", 2)
	pc = pp("c", "Carol", 3)
)

// Clarification 4: the first sync of an unprimed roster is silent; a later sync reports only the
// difference.
func TestRosterSync(t *testing.T) {
	r := meetings.NewRoster()
	if got := apply(r, syncOf(pa, pb)...); got != nil {
		t.Fatalf("first sync reported %v, want nothing (never announce everyone)", got)
	}
	if !r.Primed() || r.Len() != 2 {
		t.Fatalf("after the first sync: primed %v, %d participants", r.Primed(), r.Len())
	}
	bMuted := pb
	bMuted.IsMuted = true
	got := apply(r, syncOf(bMuted, pc)...)
	want := []change{{meetings.Joined, "Carol"}, {meetings.Updated, "Bob"}, {meetings.Left, "Alice"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("second sync (-want +got):\n%s", diff)
	}
	// The same sync again: nothing changed, nothing reported.
	if got := apply(r, syncOf(bMuted, pc)...); got != nil {
		t.Errorf("identical sync reported %v", got)
	}
	// Changes inside a sync are held until its end.
	r.Apply(meetings.SyncBegin{})
	if got := r.Apply(meetings.ParticipantCreated{Participant: pa}); got != nil {
		t.Errorf("change reported inside a sync: %v", got)
	}
	if r.Len() != 2 {
		t.Errorf("roster changed inside a sync: %d", r.Len())
	}
	r.Apply(meetings.ParticipantDeleted{UUID: "a"})
	got = apply(r, meetings.ParticipantCreated{Participant: bMuted}, meetings.SyncEnd{})
	if diff := cmp.Diff([]change{{meetings.Left, "Carol"}}, got); diff != "" {
		t.Errorf("sync with a delete inside (-want +got):\n%s", diff)
	}
}

func TestRosterLiveChanges(t *testing.T) {
	r := meetings.NewRoster()
	apply(r, syncOf(pa)...)
	aMuted := pa
	aMuted.IsMuted = true
	got := r.Apply(meetings.ParticipantUpdated{Participant: aMuted})
	if len(got) != 1 || got[0].Kind != meetings.Updated || got[0].Before != pa || got[0].Participant != aMuted {
		t.Errorf("update = %+v", got)
	}
	if got := r.Apply(meetings.ParticipantUpdated{Participant: aMuted}); got != nil {
		t.Errorf("an update that changes nothing reported %v", got)
	}
	// Clarification 10: a uuid first seen in participant_update is a join.
	if got := apply(r, meetings.ParticipantUpdated{Participant: pb}); !cmp.Equal(got, []change{{meetings.Joined, "Bob"}}) {
		t.Errorf("first seen in update = %v, want Bob joined", got)
	}
	if got := apply(r, meetings.ParticipantCreated{Participant: pc}); !cmp.Equal(got, []change{{meetings.Joined, "Carol"}}) {
		t.Errorf("create = %v", got)
	}
	// A create for someone known (a duplicate) is no second join.
	if got := apply(r, meetings.ParticipantCreated{Participant: pc}); got != nil {
		t.Errorf("duplicate create = %v", got)
	}
	del := r.Apply(meetings.ParticipantDeleted{UUID: "b"})
	if len(del) != 1 || del[0].Kind != meetings.Left || del[0].Participant != pb {
		t.Errorf("delete = %+v", del)
	}
	if got := r.Apply(meetings.ParticipantDeleted{UUID: "b"}); got != nil {
		t.Errorf("delete of someone gone = %v", got)
	}
	for _, ev := range []meetings.Event{meetings.StreamConnected{}, meetings.ServiceUpdated{}, meetings.Bye{}} {
		if got := r.Apply(ev); got != nil {
			t.Errorf("%T reported %v", ev, got)
		}
	}
	if p, ok := r.Get("a"); !ok || !p.IsMuted {
		t.Errorf("Get(a) = %+v, %v", p, ok)
	}
	var names []string
	for _, p := range r.Participants() {
		names = append(names, p.DisplayName)
	}
	if !cmp.Equal(names, []string{"Alice", "Carol"}) {
		t.Errorf("Participants = %v", names)
	}
}

// A stream lost in the middle of a sync abandons it: the next complete sync is compared with
// the roster from before.
func TestRosterStreamLostMidSync(t *testing.T) {
	r := meetings.NewRoster()
	apply(r, syncOf(pa, pb)...)
	apply(r, meetings.SyncBegin{}, meetings.ParticipantCreated{Participant: pa})
	r.Apply(meetings.StreamLost{})
	if r.Len() != 2 {
		t.Fatalf("roster changed by an abandoned sync: %d", r.Len())
	}
	// A stray sync_end after the loss changes nothing.
	if got := r.Apply(meetings.SyncEnd{}); got != nil {
		t.Errorf("stray sync_end = %v", got)
	}
	got := apply(r, syncOf(pa, pb, pc)...)
	if !cmp.Equal(got, []change{{meetings.Joined, "Carol"}}) {
		t.Errorf("sync after the loss = %v", got)
	}
}

// Restore sets the baseline from saved state: the next sync reports the difference (a restart
// announces only real changes).
func TestRosterRestore(t *testing.T) {
	r := meetings.NewRoster()
	r.Restore([]meetings.Participant{pa, pb})
	if !r.Primed() {
		t.Fatal("not primed after Restore")
	}
	got := apply(r, syncOf(pb, pc)...)
	if !cmp.Equal(got, []change{{meetings.Joined, "Carol"}, {meetings.Left, "Alice"}}) {
		t.Errorf("sync after Restore = %v", got)
	}
}

// Unprimed rosters apply live events silently until their first sync.
func TestRosterUnprimedIsSilent(t *testing.T) {
	r := meetings.NewRoster()
	if got := apply(r, meetings.ParticipantCreated{Participant: pa}, meetings.ParticipantDeleted{UUID: "a"}); got != nil {
		t.Errorf("unprimed roster reported %v", got)
	}
}

// Clarifications 4 and 10 on a private-cloud room of the simulator, whose sync and joins come as
// participant_update.
func TestRosterPrivateCloud(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	room := e.sim.AddRoom(sim.RoomConfig{Number: "3000", HostPIN: "1", Private: true})
	room.Join(sim.ParticipantSpec{Name: "Alice"})
	s := e.open("3000", "1")
	r := meetings.NewRoster()
	changes := make(chan meetings.Change, 100)
	synced := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Events(ctx, func(ev meetings.Event) {
		for _, c := range r.Apply(ev) {
			changes <- c
		}
		if _, ok := ev.(meetings.SyncEnd); ok {
			synced <- struct{}{}
		}
	})
	recv(t, "the private sync", synced)
	if r.Len() != 1 {
		t.Fatalf("roster after the private sync has %d participants, want Alice", r.Len())
	}
	room.Join(sim.ParticipantSpec{Name: "Bob"})
	c := recv(t, "a change", changes)
	if c.Kind != meetings.Joined || c.Participant.DisplayName != "Bob" {
		t.Errorf("private join = %+v, want Bob joined", c)
	}
}
