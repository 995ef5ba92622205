package meetings_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

// Every event of API section 6 arrives typed from the simulator's stream.
func TestEventsFromSimulator(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	room := e.room()
	alice := room.Join(sim.ParticipantSpec{Name: "Alice", Role: "chair"})
	s := e.open("1061", "1234")
	ev := listen(t, s)
	if _, ok := ev.next().(meetings.StreamConnected); !ok {
		t.Fatal("first event is not StreamConnected")
	}
	// Clarification 4: sync_begin, one create per participant, sync_end.
	if got := ev.synced(); len(got) != 1 || got[0].UUID != alice || !got[0].IsHost() {
		t.Fatalf("sync = %+v, want Alice", got)
	}
	ctx := context.Background()

	bob := room.Join(sim.ParticipantSpec{Name: "Bob"})
	created := ev.next().(meetings.ParticipantCreated)
	if created.Participant.UUID != bob || created.Participant.DisplayName != "Bob" {
		t.Errorf("participant_create = %+v", created)
	}
	s.Mute(ctx, bob)
	if up := ev.next().(meetings.ParticipantUpdated); !up.Participant.IsMuted {
		t.Errorf("participant_update after mute = %+v", up)
	}
	s.Lock(ctx)
	if got := ev.next(); got != (meetings.ServiceUpdated{Locked: true, Started: true}) {
		t.Errorf("service_update = %#v", got)
	}
	room.Emit("conference_update", map[string]any{"locked": false, "guests_muted": "YES"})
	if got := ev.next(); got != (meetings.ServiceUpdated{GuestsMuted: true, Started: true}) {
		t.Errorf("conference_update = %#v", got)
	}
	s.OverrideLayout(ctx, meetings.LayoutOverride{Layout: "1:7"})
	if got, ok := ev.next().(meetings.LayoutChanged); !ok || got.View != "1:7" {
		t.Errorf("layout = %#v", got)
	}
	room.Chat(bob, "hi")
	if got := ev.next(); got != (meetings.MessageReceived{Origin: "Bob", Type: "text/plain", Payload: "hi", UUID: bob}) {
		t.Errorf("message = %#v", got)
	}
	room.Emit("message_received", map[string]string{"origin": "Carol", "payload": "yo"})
	if got := ev.next(); got != (meetings.MessageReceived{Origin: "Carol", Payload: "yo"}) {
		t.Errorf("message_received = %#v", got)
	}
	room.Speak(bob)
	stage := ev.until("stage", is[meetings.StageChanged]).(meetings.StageChanged)
	if len(stage.Entries) == 0 || stage.Entries[0].ParticipantUUID != bob || stage.Entries[0].VAD != 100 {
		t.Errorf("stage = %+v", stage)
	}
	room.Present(bob, true)
	if got := ev.until("presentation_start", is[meetings.PresentationStarted]); got.(meetings.PresentationStarted).PresenterName != "Bob" {
		t.Errorf("presentation_start = %#v", got)
	}
	ev.until("presentation_frame", is[meetings.PresentationFrame])
	room.Present(bob, false)
	ev.until("presentation_stop", is[meetings.PresentationStopped])
	room.Emit("call_disconnected", map[string]string{"call_uuid": "c1", "reason": "screen share ended"})
	if got := ev.until("call_disconnected", is[meetings.CallDisconnected]); got != (meetings.CallDisconnected{CallUUID: "c1", Reason: "screen share ended"}) {
		t.Errorf("call_disconnected = %#v", got)
	}
	room.InjectRaw("event: something_new\nid: 99\ndata: {\"x\":1}")
	if got, ok := ev.next().(meetings.Unknown); !ok || got.Name != "something_new" || string(got.Data) != `{"x":1}` {
		t.Errorf("unknown event = %#v", got)
	}
	room.Leave(bob)
	if got := ev.until("participant_delete", is[meetings.ParticipantDeleted]); got != (meetings.ParticipantDeleted{UUID: bob}) {
		t.Errorf("participant_delete = %#v", got)
	}

	// bye: the stream closes and Events comes back (clarification 2).
	room.ByeStreams()
	ev.until("bye", is[meetings.Bye])
	if lost := ev.next().(meetings.StreamLost); !errors.Is(lost.Err, meetings.ErrStreamBye) {
		t.Errorf("StreamLost after bye = %v", lost.Err)
	}
	ev.until("reconnection", is[meetings.StreamConnected])
	ev.synced()

	// disconnect: the token lapsed; the session starts over and the stream comes back.
	first := s.Info().ParticipantUUID
	e.sim.ExpireTokens()
	if got := ev.until("disconnect", is[meetings.Disconnected]); got.(meetings.Disconnected).Reason != sim.ReasonTokenLapsed {
		t.Errorf("disconnect = %#v", got)
	}
	ev.until("StreamLost", is[meetings.StreamLost])
	ev.until("reconnection", is[meetings.StreamConnected])
	ev.synced()
	if s.Info().ParticipantUUID == first {
		t.Error("no new session after disconnect")
	}
	if e.obs.reconnects.Load() < 2 {
		t.Errorf("Observer saw %d reconnects, want 2", e.obs.reconnects.Load())
	}
	for _, r := range e.sim.Requests() {
		if r.Op == "events" && !r.TokenValid {
			t.Error("events opened with a dead token")
		}
	}
}

// Reconnect: while the stream is down people join, change and leave; after the reconnection
// the roster reports exactly those changes — no duplicate joins, no replay of everyone.
func TestReconnectReportsTheGap(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	room := e.room()
	alice := room.Join(sim.ParticipantSpec{Name: "Alice"})
	bob := room.Join(sim.ParticipantSpec{Name: "Bob"})
	room.Join(sim.ParticipantSpec{Name: "Carol"})
	s := e.open("1061", "1234")

	var refuse atomic.Bool
	e.sim.SetHook(func(w http.ResponseWriter, r *http.Request, op string) bool {
		if op == "events" && refuse.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	roster := meetings.NewRoster()
	var mu sync.Mutex
	var changes []change
	syncs := make(chan struct{}, 10)
	lost := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() {
		done <- s.Events(ctx, func(ev meetings.Event) {
			cs := roster.Apply(ev)
			mu.Lock()
			changes = append(changes, summary(cs)...)
			mu.Unlock()
			switch ev.(type) {
			case meetings.SyncEnd:
				syncs <- struct{}{}
			case meetings.StreamLost:
				lost <- struct{}{}
			}
		})
	}()
	recv(t, "first sync", syncs)
	if roster.Len() != 3 {
		t.Fatalf("roster has %d, want 3", roster.Len())
	}
	refuse.Store(true)
	room.DropStreams()
	recv(t, "StreamLost", lost)
	// The gap: Dave joins, Bob is muted, Alice leaves, Erin comes and goes unseen.
	room.Join(sim.ParticipantSpec{Name: "Dave"})
	s.Mute(context.Background(), bob)
	room.Leave(alice)
	erin := room.Join(sim.ParticipantSpec{Name: "Erin"})
	room.Leave(erin)
	time.Sleep(50 * time.Millisecond) // a few refused reconnections
	refuse.Store(false)
	recv(t, "sync after the gap", syncs)
	mu.Lock()
	got := slices.Clone(changes)
	mu.Unlock()
	want := []change{{meetings.Joined, "Dave"}, {meetings.Updated, "Bob"}, {meetings.Left, "Alice"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes over the reconnect (-want +got):\n%s", diff)
	}
	// Live again: a join is reported once.
	room.Join(sim.ParticipantSpec{Name: "Frank"})
	eventually(t, "Frank", func() bool { _, ok := findName(roster, "Frank"); return ok })
	room.DropStreams()
	recv(t, "sync after the second drop", syncs)
	mu.Lock()
	got = slices.Clone(changes[len(want):])
	mu.Unlock()
	if diff := cmp.Diff([]change{{meetings.Joined, "Frank"}}, got); diff != "" {
		t.Errorf("after a second reconnect (-want +got):\n%s", diff)
	}
	cancel()
	if err := recv(t, "the end of Events", done); !errors.Is(err, context.Canceled) {
		t.Errorf("Events = %v, want context.Canceled", err)
	}
}

func findName(r *meetings.Roster, name string) (meetings.Participant, bool) {
	for _, p := range r.Participants() {
		if p.DisplayName == name {
			return p, true
		}
	}
	return meetings.Participant{}, false
}

// The idle watchdog drops a silent stream and reconnects; keep-alive comments keep it open.
func TestIdleWatchdog(t *testing.T) {
	t.Run("Silent", func(t *testing.T) {
		e := newEnv(t, sim.Options{KeepAlive: time.Hour}, meetings.ClientOptions{IdleTimeout: 150 * time.Millisecond})
		e.room()
		ev := listen(t, e.open("1061", "1234"))
		ev.synced()
		lost := ev.until("StreamLost", is[meetings.StreamLost]).(meetings.StreamLost)
		if !errors.Is(lost.Err, meetings.ErrStreamIdle) {
			t.Errorf("StreamLost = %v, want ErrStreamIdle", lost.Err)
		}
		ev.until("reconnection", is[meetings.StreamConnected])
	})
	t.Run("KeepAlive", func(t *testing.T) {
		e := newEnv(t, sim.Options{KeepAlive: 20 * time.Millisecond}, meetings.ClientOptions{IdleTimeout: 400 * time.Millisecond})
		e.room()
		ev := listen(t, e.open("1061", "1234"))
		ev.synced()
		select {
		case got := <-ev.ch:
			t.Errorf("event %#v on a stream kept alive by comments", got)
		case <-time.After(1200 * time.Millisecond):
		}
	})
}

// Events gives up when reconnecting cannot help: the room is gone.
func TestEventsPermanentFailure(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.room()
	s := e.open("1061", "1234")
	e.sim.SetHook(func(w http.ResponseWriter, r *http.Request, op string) bool {
		if op == "events" {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"status":"success","result":"Neither conference nor gateway found"}`)
			return true
		}
		return false
	})
	var got []meetings.Event
	err := s.Events(context.Background(), func(ev meetings.Event) { got = append(got, ev) })
	if !errors.Is(err, meetings.ErrNotFound) {
		t.Errorf("Events = %v, want ErrNotFound", err)
	}
}

// Transient failures to connect are retried with backoff, and StreamLost is reported once per
// outage, not once per attempt.
func TestEventsRetriesConnect(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.room()
	s := e.open("1061", "1234")
	e.sim.FailNext("events", http.StatusServiceUnavailable, 4)
	ev := listen(t, s)
	if lost, ok := ev.next().(meetings.StreamLost); !ok || !errors.Is(lost.Err, meetings.ErrTransient) {
		t.Fatalf("first event = %#v, want StreamLost (transient)", lost)
	}
	if _, ok := ev.next().(meetings.StreamConnected); !ok {
		t.Fatal("no StreamConnected after the failures, or a second StreamLost")
	}
	ev.synced()
}

// Clarification 1: retry: sets the reconnection delay.
func TestEventsHonourRetry(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/services/1/new_session":
			io.WriteString(w, `{"status":"success","result":{"token":"t","expires":120}}`)
		case "/api/services/1/events":
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "retry: 300\nevent: participant_sync_begin\ndata: null\n\nevent: participant_sync_end\ndata: null\n\n")
		default:
			io.WriteString(w, `{"status":"success","result":true}`)
		}
	}))
	defer srv.Close()
	c, _ := meetings.NewClient(srv.URL, meetings.ClientOptions{ReconnectMin: time.Millisecond})
	s, err := c.Open(context.Background(), meetings.Room{Alias: "1"}, meetings.SessionOptions{DisplayName: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.Events(ctx, func(meetings.Event) {})
	mu.Lock()
	defer mu.Unlock()
	if len(times) < 2 || len(times) > 4 {
		t.Fatalf("%d connections in 1 s with retry 300 ms, want 2 to 4", len(times))
	}
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d < 300*time.Millisecond {
			t.Errorf("reconnected after %v, before the stream's retry of 300 ms", d)
		}
	}
}

// A token never shows in an error: the events URL carries it in its query.
func TestNetworkErrorsHideTheToken(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.room()
	s := e.open("1061", "1234")
	e.srv.CloseClientConnections()
	e.sim.SetHook(func(w http.ResponseWriter, r *http.Request, op string) bool {
		if op == "events" {
			panic(http.ErrAbortHandler) // the connection drops without an answer
		}
		return false
	})
	var lost error
	ctx, cancel := context.WithCancel(context.Background())
	s.Events(ctx, func(ev meetings.Event) {
		if l, ok := ev.(meetings.StreamLost); ok {
			lost = l.Err
			cancel()
		}
	})
	if lost == nil {
		t.Fatal("no StreamLost")
	}
	if !errors.Is(lost, meetings.ErrTransient) || strings.Contains(lost.Error(), "token=") {
		t.Errorf("StreamLost error = %q, want a transient error without the token", lost)
	}
}
