package relay

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
)

// The tracker is driven here without a network, a clock or a goroutine: events and times in,
// notices and state out.

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

const botUUID = "bot-uuid"

func person(uuid, name, role string) meetings.Participant {
	return meetings.Participant{UUID: uuid, DisplayName: name, Role: role, ServiceType: "conference", Protocol: "webrtc", StartTime: t0.Unix()}
}

func created(p meetings.Participant) meetings.Event {
	return meetings.ParticipantCreated{Participant: p}
}
func deleted(uuid string) meetings.Event { return meetings.ParticipantDeleted{UUID: uuid} }

// sync is a full participant list, as a (re)connected stream sends it.
func fullSync(ps ...meetings.Participant) []meetings.Event {
	evs := []meetings.Event{meetings.SyncBegin{}}
	for _, p := range ps {
		evs = append(evs, created(p))
	}
	return append(evs, meetings.SyncEnd{})
}

// step is one event at a minute offset from t0.
type step struct {
	min int
	ev  meetings.Event
}

func at(min int, evs ...meetings.Event) []step {
	out := make([]step, len(evs))
	for i, ev := range evs {
		out[i] = step{min, ev}
	}
	return out
}

func steps(groups ...[]step) []step {
	var out []step
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// lineOf renders one notice as its own message would.
func lineOf(n notice) string {
	return render(group{kind: n.kind, notices: []notice{n}})
}

func newTestTracker(restore []store.RosterEntry) *tracker {
	isBot := func(p meetings.Participant) bool { return p.UUID == botUUID }
	return newTracker("Weekly", "1001", "meetbot", isBot, restore, t0)
}

func TestTracker(t *testing.T) {
	alice, bob := person("a", "Alice", "guest"), person("b", "Bob", "chair")
	presenting := func(p meetings.Participant) meetings.Participant { p.IsPresenting = true; return p }
	bot := meetings.Participant{UUID: botUUID, DisplayName: "meetbot", Protocol: "api", ServiceType: "conference"}
	namesake := meetings.Participant{UUID: "n", DisplayName: "meetbot", Protocol: "api", ServiceType: "conference", StartTime: t0.Unix() + 60}
	tests := []struct {
		name    string
		restore []store.RosterEntry
		steps   []step
		want    []string
		exit    exit
		state   chat.MeetingState // Name, Room and Started are not compared
	}{
		{
			name:  "FirstSyncIsSilent",
			steps: steps(at(0, fullSync(alice, bob)...)),
			state: chat.MeetingState{Present: []string{"Alice", "Bob"}, Peak: 2, Total: 2},
		},
		{
			name:  "JoinLeaveAndSummary",
			steps: steps(at(0, fullSync(alice)...), at(1, created(bob)), at(5, deleted("b")), at(42, deleted("a"))),
			want:  []string{"Bob joined (host)", "Bob left", "Alice left", "The meeting ended after 42 min: 2 at most, 2 people in all"},
			state: chat.MeetingState{},
		},
		{
			name: "PresentationByFlagAndEventOnce",
			steps: steps(at(0, fullSync(alice)...),
				at(1, meetings.PresentationStarted{PresenterName: "Alice"}, meetings.ParticipantUpdated{Participant: presenting(alice)}),
				at(2, meetings.PresentationStopped{})),
			want:  []string{"Alice started presenting", "Alice stopped presenting"},
			state: chat.MeetingState{Present: []string{"Alice"}, Peak: 1, Total: 1, Presenters: []string{"Alice"}},
		},
		{
			name:  "TheBotIsNeverAnnounced",
			steps: steps(at(0, fullSync(alice)...), at(1, created(bot), meetings.MessageReceived{Origin: "meetbot", UUID: botUUID, Payload: "hi"})),
			state: chat.MeetingState{Present: []string{"Alice"}, Peak: 1, Total: 1},
		},
		{
			name: "AGuestNamedLikeTheBotIsAGuest",
			steps: steps(at(0, fullSync(alice)...), at(1, created(namesake),
				meetings.MessageReceived{Origin: "meetbot", UUID: "n", Payload: "I am not the bot"})),
			want:  []string{"meetbot joined (guest)", "meetbot: I am not the bot"},
			state: chat.MeetingState{Present: []string{"Alice", "meetbot"}, Peak: 2, Total: 2},
		},
		{
			// Only text/plain for everyone is the meeting's chat, as in the platform's own client.
			name: "OnlyPlainChatForEveryoneIsRelayed",
			steps: steps(at(0, fullSync(alice)...), at(1,
				meetings.MessageReceived{Origin: "Alice", UUID: "a", Type: "application/json", Payload: `{"app":"poll"}`},
				meetings.MessageReceived{Origin: "Alice", UUID: "a", Type: "text/plain", Direct: true, Payload: "just for you"},
				meetings.MessageReceived{Origin: "Alice", UUID: "a", Type: "text/plain; charset=utf-8", Payload: "hello all"})),
			want:  []string{"Alice: hello all"},
			state: chat.MeetingState{Present: []string{"Alice"}, Peak: 1, Total: 1},
		},
		{
			name:    "RestoredRosterReportsTheGap",
			restore: []store.RosterEntry{{UUID: "a", Name: "Alice"}, {UUID: "c", Name: "Carol"}},
			steps:   steps(at(0, fullSync(alice, bob)...)),
			want:    []string{"Bob joined (host)", "Carol left"},
			state:   chat.MeetingState{Present: []string{"Alice", "Bob"}, Peak: 2, Total: 3},
		},
		{
			name:  "ReconnectReportsTheGapOnce",
			steps: steps(at(0, fullSync(alice)...), at(1, meetings.StreamLost{}), at(2, fullSync(bob)...), at(3, fullSync(bob)...)),
			want:  []string{"Bob joined (host)", "Alice left"},
			state: chat.MeetingState{Present: []string{"Bob"}, Peak: 1, Total: 2},
		},
		{
			name:  "TokenLapseStartsOverQuietly",
			steps: steps(at(0, fullSync(alice, bob)...), at(1, meetings.Disconnected{Reason: reasonTokenLapsed})),
			exit:  stay,
			state: chat.MeetingState{Present: []string{"Alice", "Bob"}, Peak: 2, Total: 2},
		},
		{
			name:  "HostEndedTheMeeting",
			steps: steps(at(0, fullSync(alice, bob)...), at(30, meetings.Disconnected{Reason: reasonHostEnded})),
			want:  []string{"The meeting ended after 30 min: 2 at most, 2 people in all"},
			exit:  ended,
			state: chat.MeetingState{},
		},
		{
			name:  "HostRemovedTheBot",
			steps: steps(at(0, fullSync(alice, bob)...), at(3, meetings.Disconnected{Reason: reasonAPIKick})),
			want:  []string{"A host removed meetbot from Weekly; `link` again to follow it."},
			exit:  removed,
			state: chat.MeetingState{Present: []string{"Alice", "Bob"}, Peak: 2, Total: 2},
		},
		{
			name: "EveryoneDisconnectedWithTheBot",
			steps: steps(at(0, fullSync(alice, bob)...),
				at(10, deleted("a"), deleted("b"), meetings.Disconnected{Reason: reasonAPIKick})),
			want:  []string{"Alice left", "Bob left", "The meeting ended after 10 min: 2 at most, 2 people in all"},
			exit:  ended,
			state: chat.MeetingState{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTracker(tc.restore)
			var got []string
			why := stay
			var now time.Time
			for _, s := range tc.steps {
				now = t0.Add(time.Duration(s.min) * time.Minute)
				ns, w := tr.Apply(s.ev, now)
				for _, n := range ns {
					got = append(got, lineOf(n))
				}
				if w != stay {
					why = w
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("notices (-want +got):\n%s", diff)
			}
			if why != tc.exit {
				t.Errorf("exit = %v, want %v", why, tc.exit)
			}
			st := tr.State(now)
			st.Name, st.Room, st.Started = "", "", time.Time{}
			st.Occurrence, st.People = "", nil // surfaces_test.go covers these
			if diff := cmp.Diff(tc.state, st); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClassifyDisconnect(t *testing.T) {
	tests := []struct {
		reason string
		others int
		want   exit
	}{
		{reasonTokenLapsed, 3, stay},
		{reasonTokenLapsed, 0, stay},
		{reasonHostEnded, 3, ended},
		{reasonHostEnded, 0, ended},
		{reasonAPIKick, 2, removed},
		{reasonAdminKick, 2, removed},
		{reasonAPIKick, 0, ended}, // the API's "disconnect all" on older nodes
		{"", 2, removed},          // no reason: only the bot was disconnected
		{"", 0, ended},            // no reason: everyone went with the bot
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.reason, tc.others), func(t *testing.T) {
			if got := classifyDisconnect(tc.reason, tc.others); got != tc.want {
				t.Errorf("classifyDisconnect(%q, %d) = %v, want %v", tc.reason, tc.others, got, tc.want)
			}
		})
	}
}

func TestTrackerSnapshotOnlyWhenChanged(t *testing.T) {
	tr := newTestTracker(nil)
	if _, changed := tr.Snapshot(); changed {
		t.Error("an unprimed tracker has a snapshot")
	}
	for _, ev := range fullSync(person("a", "Alice", "guest")) {
		tr.Apply(ev, t0)
	}
	es, changed := tr.Snapshot()
	if !changed || len(es) != 1 || es[0].Name != "Alice" {
		t.Fatalf("snapshot = %v %v, want Alice", es, changed)
	}
	if _, changed := tr.Snapshot(); changed {
		t.Error("a snapshot without a change since the last")
	}
	tr.Apply(meetings.ServiceUpdated{Locked: true}, t0)
	if _, changed := tr.Snapshot(); changed {
		t.Error("a lock changed the roster")
	}
	if !tr.State(t0).Locked {
		t.Error("the state does not show the lock")
	}
}

// BenchmarkTrackerApply measures the tracker alone: events applied per second, and allocations
// per event, for a meeting of 50 where people join, present, chat and leave.
func BenchmarkTrackerApply(b *testing.B) {
	const size = 50
	var evs []meetings.Event
	for i := range size {
		evs = append(evs, created(person(fmt.Sprint("u", i), fmt.Sprint("Person ", i), "guest")))
	}
	p := person("u7", "Person 7", "guest")
	p.IsPresenting = true
	evs = append(evs, meetings.ParticipantUpdated{Participant: p}, meetings.MessageReceived{Origin: "Person 3", UUID: "u3", Payload: "hello"})
	p.IsPresenting = false
	evs = append(evs, meetings.ParticipantUpdated{Participant: p})
	for i := range size {
		evs = append(evs, deleted(fmt.Sprint("u", i)))
	}
	meeting := func() {
		tr := newTestTracker([]store.RosterEntry{})
		tr.Apply(meetings.SyncBegin{}, t0)
		tr.Apply(meetings.SyncEnd{}, t0)
		for _, ev := range evs {
			tr.Apply(ev, t0)
		}
	}
	perEvent := testing.AllocsPerRun(20, meeting) / float64(len(evs)+2)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		meeting()
		n += len(evs) + 2
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(perEvent, "allocs/event")
}
