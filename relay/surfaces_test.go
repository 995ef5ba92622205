package relay

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
)

// What Slack's surfaces read from the meeting's state: everyone in it, the run it belongs to,
// whether it waits for a host, the recording, and the waiting notices.

func applyAll(tr *tracker, now time.Time, evs ...meetings.Event) []notice {
	var out []notice
	for _, ev := range evs {
		ns, _ := tr.Apply(ev, now)
		out = append(out, ns...)
	}
	return out
}

func kindTexts(ns []notice, kind chat.NoticeKind) []string {
	var out []string
	for _, n := range ns {
		if n.kind == kind {
			out = append(out, n.text)
		}
	}
	return out
}

func TestStatePeopleAndOccurrence(t *testing.T) {
	tr := newTestTracker(nil)
	tr.joinURL = "https://meet.example.com/webapp/#/?conference=weekly"
	applyAll(tr, t0, fullSync()...)
	room := meetings.Participant{UUID: "r1", DisplayName: "Board room", Role: "guest", ServiceType: "conference", Protocol: "SIP", StartTime: t0.Unix()}
	phone := meetings.Participant{UUID: "p1", DisplayName: "+4930123", Role: "guest", ServiceType: "conference", Protocol: "sip", StartTime: t0.Unix()}
	waiting := meetings.Participant{UUID: "w1", DisplayName: "Bob", Role: "guest", ServiceType: "waiting_room", Protocol: "webrtc"}
	rec := meetings.Participant{UUID: "s1", DisplayName: "Recording", Role: "guest", ServiceType: "conference", Protocol: "rtmp", IsStreaming: true}
	ns := applyAll(tr, t0.Add(time.Minute), created(person("a", "Alice", "chair")), created(room), created(phone), created(waiting))
	if got := kindTexts(ns, chat.Waiting); !slices.Equal(got, []string{"Bob is waiting to be admitted"}) {
		t.Errorf("waiting notices = %q", got)
	}
	applyAll(tr, t0.Add(2*time.Minute), created(rec))
	st := tr.State(t0.Add(3 * time.Minute))
	want := []chat.Person{
		{UUID: "a", Name: "Alice", Role: "host", Protocol: "webrtc"},
		{UUID: "r1", Name: "Board room", Role: "guest", Protocol: "sip"},
		{UUID: "p1", Name: "+4930123", Role: "guest", Protocol: "sip"},
		{UUID: "w1", Name: "Bob", Role: "waiting", Protocol: "webrtc", Waiting: true},
		{UUID: "s1", Name: "Recording", Role: "guest", Protocol: "rtmp", Streaming: true},
	}
	byUUID := cmpopts.SortSlices(func(a, b chat.Person) bool { return a.UUID < b.UUID })
	if d := cmp.Diff(want, st.People, byUUID); d != "" {
		t.Errorf("People (-want +got):\n%s", d)
	}
	if !st.RecordingSince.Equal(t0.Add(2*time.Minute)) || !st.LiveSince.IsZero() {
		t.Errorf("RecordingSince %v LiveSince %v; want %v and zero", st.RecordingSince, st.LiveSince, t0.Add(2*time.Minute))
	}
	if st.JoinURL != tr.joinURL {
		t.Errorf("JoinURL = %q", st.JoinURL)
	}
	occ := st.Occurrence
	if occ == "" {
		t.Fatal("no Occurrence for a running meeting")
	}
	if got := tr.State(t0.Add(9 * time.Minute)).Occurrence; got != occ {
		t.Errorf("Occurrence changed within one run: %q then %q", occ, got)
	}

	// The recorder hangs up: no recording any more.
	applyAll(tr, t0.Add(4*time.Minute), deleted("s1"))
	if st := tr.State(t0.Add(4 * time.Minute)); !st.RecordingSince.IsZero() {
		t.Errorf("RecordingSince after the recorder left = %v", st.RecordingSince)
	}

	// A restarted listener (another replica) restores the roster and learns the start again
	// from the participants' start times: the same occurrence.
	var restore []store.RosterEntry
	for _, p := range tr.People() {
		restore = append(restore, store.RosterEntry{UUID: p.UUID, Name: p.DisplayName, Role: p.Role})
	}
	again := newTestTracker(restore)
	applyAll(again, t0.Add(20*time.Minute), fullSync(tr.People()...)...)
	if got := again.State(t0.Add(20 * time.Minute)).Occurrence; got != occ {
		t.Errorf("Occurrence after a takeover = %q; want %q", got, occ)
	}

	// Everyone leaves; the next run is another occurrence.
	for _, p := range tr.People() {
		applyAll(tr, t0.Add(30*time.Minute), deleted(p.UUID))
	}
	carol := person("c", "Carol", "chair")
	carol.StartTime = t0.Add(40 * time.Minute).Unix()
	applyAll(tr, t0.Add(40*time.Minute), created(carol))
	if got := tr.State(t0.Add(40 * time.Minute)).Occurrence; got == "" || got == occ {
		t.Errorf("next run's Occurrence = %q; want a new one (old %q)", got, occ)
	}
}

func TestWaitingForHostSaidOnce(t *testing.T) {
	tr := newTestTracker(nil)
	tr.name = "Weekly sync"
	applyAll(tr, t0, fullSync()...)
	ns := applyAll(tr, t0, meetings.ServiceUpdated{Started: false})
	ns = append(ns, applyAll(tr, t0.Add(time.Minute), created(person("a", "Alice", "guest")), created(person("b", "Bob", "guest")), created(person("c", "Carol", "guest")))...)
	ns = append(ns, applyAll(tr, t0.Add(2*time.Minute), meetings.ServiceUpdated{Started: false}, created(person("d", "Dan", "guest")))...)
	if got := kindTexts(ns, chat.Waiting); !slices.Equal(got, []string{"1 person is waiting for a host in Weekly sync"}) {
		t.Errorf("waiting-for-host notices = %q; want it once", got)
	}
	if !tr.State(t0.Add(2 * time.Minute)).WaitingForHost {
		t.Error("WaitingForHost not set while started: false")
	}
	applyAll(tr, t0.Add(3*time.Minute), meetings.ServiceUpdated{Started: true})
	if tr.State(t0.Add(3 * time.Minute)).WaitingForHost {
		t.Error("WaitingForHost still set once the host started the meeting")
	}
}

func TestWaitingNoticesFollowTheSetting(t *testing.T) {
	batch := []notice{{seq: 1, kind: chat.Waiting, who: "w1", name: "Bob", text: "Bob is waiting to be admitted"}}
	on := store.DefaultSettings()
	n, ok := coalesce(batch, on)
	if !ok || n.Text != "Bob is waiting to be admitted" || n.NoWaitingAlerts {
		t.Errorf("with waiting on: %v %+v", ok, n)
	}
	off := on
	off.Waiting = false
	if n, ok := coalesce(batch, off); ok {
		t.Errorf("with waiting off the notice was posted: %+v", n)
	}
	batch = append(batch, notice{seq: 2, kind: chat.Joined, who: "a", name: "Alice"})
	if n, ok := coalesce(batch, off); !ok || !n.NoWaitingAlerts {
		t.Errorf("with waiting off: NoWaitingAlerts = %v", n.NoWaitingAlerts)
	}
}
