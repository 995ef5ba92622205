package meetings_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

// answer runs fn in the background and returns its error, failing the test when it does not
// come back within 5 s: every call below has a deadline well under that, so an answer that does
// not come is a call that ignored its context.
func answer(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	return recv(t, what, done)
}

func within(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	_ = cancel // the deadline ends it
	return ctx
}

// Issue 12 item 1: a node that accepts the event-stream connection and never answers freezes
// nothing. The events request gives up after StreamConnectTimeout (StreamLost with
// ErrPlatformUnresponsive) and reconnects; meanwhile the token is refreshed as usual and commands
// answer; once the node answers, the stream comes back.
func TestHangOnEvents(t *testing.T) {
	e := newFaultEnv(t, sim.Options{TokenTTL: time.Second}, meetings.ClientOptions{StreamConnectTimeout: 300 * time.Millisecond})
	room := e.room()
	s := e.open("1061", "1234")
	h := e.fault.Hang("events")
	ev := listen(t, s)
	recv(t, "the events request to hang", h.entered)

	if err := answer(t, "Lock", func() error { return s.Lock(within(3 * time.Second)) }); err != nil {
		t.Fatalf("Lock while the events request hangs: %v", err)
	}
	if !room.State().Locked {
		t.Error("room not locked")
	}
	// A 1 s token is refreshed every third of a second: several refreshes while events hangs.
	refreshed := e.count("refresh_session")
	eventually(t, "token refreshes while the events request hangs", func() bool {
		return e.count("refresh_session") >= refreshed+2
	})
	lost := ev.until("StreamLost", is[meetings.StreamLost]).(meetings.StreamLost)
	if !errors.Is(lost.Err, meetings.ErrPlatformUnresponsive) {
		t.Errorf("StreamLost = %v, want ErrPlatformUnresponsive", lost.Err)
	}
	recv(t, "a second events request", h.entered)
	if err := answer(t, "Status", func() error { _, err := s.Status(within(3 * time.Second)); return err }); err != nil {
		t.Errorf("Status while events hangs again: %v", err)
	}

	h.Release()
	ev.until("StreamConnected", is[meetings.StreamConnected])
	ev.synced()
	for _, r := range e.sim.Requests() {
		if r.Op != "new_session" && !r.TokenValid {
			t.Errorf("%s carried a dead token", r.Op)
		}
	}
}

// Issue 12 item 1: new_session on a node that hangs. Open honours its deadline, and so does a
// command whose session must start over; another meeting's session is unaffected.
func TestHangOnNewSession(t *testing.T) {
	e := newFaultEnv(t, sim.Options{}, meetings.ClientOptions{})
	room := e.room()
	other := e.sim.AddRoom(sim.RoomConfig{Number: "2000", HostPIN: "1111"})
	s := e.open("1061", "1234")
	s2 := e.open("2000", "1111")

	h := e.fault.Hang("1061/new_session")
	t.Run("Open", func(t *testing.T) {
		err := answer(t, "Open", func() error {
			_, err := e.c.Open(within(300*time.Millisecond), meetings.Room{Node: e.node(), Alias: "1061"},
				meetings.SessionOptions{DisplayName: "meetbot", PIN: "1234"})
			return err
		})
		if !errors.Is(err, meetings.ErrPlatformUnresponsive) {
			t.Errorf("Open on a hanging node = %v, want ErrPlatformUnresponsive", err)
		}
	})
	t.Run("StartOver", func(t *testing.T) {
		e.sim.ExpireTokens() // both sessions must start over; only room 1061's node hangs
		err := answer(t, "Lock", func() error { return s.Lock(within(300 * time.Millisecond)) })
		if !errors.Is(err, meetings.ErrPlatformUnresponsive) {
			t.Errorf("Lock while new_session hangs = %v, want ErrPlatformUnresponsive", err)
		}
		var pe *meetings.Error
		if !errors.As(err, &pe) || pe.Op != "lock" {
			t.Errorf("error %v: want an *Error naming the command", err)
		}
		if err := answer(t, "other Lock", func() error { return s2.Lock(within(3 * time.Second)) }); err != nil {
			t.Errorf("Lock in another meeting: %v", err)
		}
		if !other.State().Locked {
			t.Error("the other meeting is not locked")
		}
		// Info never waits, not even for the hanging renewal.
		_ = answer(t, "Info", func() error { s.Info(); return nil })

		h.Release()
		if err := answer(t, "Lock after the node answers", func() error { return s.Lock(within(3 * time.Second)) }); err != nil {
			t.Errorf("Lock once new_session answers: %v", err)
		}
		if !room.State().Locked {
			t.Error("room 1061 not locked")
		}
	})
}

// Issue 12 item 1: end_session on a node that hangs, while the events request hangs too. Close
// answers within its deadline, and Events ends.
func TestHangOnEndSession(t *testing.T) {
	e := newFaultEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.room()
	s, err := e.c.Open(context.Background(), meetings.Room{Node: e.node(), Alias: "1061"},
		meetings.SessionOptions{DisplayName: "meetbot", PIN: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	events := e.fault.Hang("events")
	done := make(chan error, 1)
	go func() { done <- s.Events(context.Background(), func(meetings.Event) {}) }()
	recv(t, "the events request to hang", events.entered)
	end := e.fault.Hang("end_session")

	err = answer(t, "Close", func() error { return s.Close(within(300 * time.Millisecond)) })
	if !errors.Is(err, meetings.ErrPlatformUnresponsive) {
		t.Errorf("Close on a hanging node = %v, want ErrPlatformUnresponsive", err)
	}
	recv(t, "end_session to reach the node", end.entered)
	if err := recv(t, "Events to end", done); !errors.Is(err, meetings.ErrSessionClosed) {
		t.Errorf("Events after Close = %v, want ErrSessionClosed", err)
	}
	if err := s.Lock(context.Background()); !errors.Is(err, meetings.ErrSessionClosed) {
		t.Errorf("Lock after Close = %v, want ErrSessionClosed", err)
	}
}

// Issue 12 item 1: a command on a node that hangs answers within its deadline; the session's
// other commands, its token refreshes and another meeting's session go on.
func TestCommandDeadlineOnHangingNode(t *testing.T) {
	e := newFaultEnv(t, sim.Options{TokenTTL: time.Second}, meetings.ClientOptions{})
	room := e.room()
	bob := room.Join(sim.ParticipantSpec{Name: "Bob"})
	other := e.sim.AddRoom(sim.RoomConfig{Number: "2000", HostPIN: "1111"})
	s := e.open("1061", "1234")
	s2 := e.open("2000", "1111")

	h := e.fault.Hang("1061/lock")
	err := answer(t, "Lock", func() error { return s.Lock(within(300 * time.Millisecond)) })
	if !errors.Is(err, meetings.ErrPlatformUnresponsive) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock on a hanging node = %v, want ErrPlatformUnresponsive", err)
	}
	if errors.Is(err, meetings.ErrOutcomeUnknown) {
		t.Errorf("Lock = %v: lock is safe to repeat, its outcome is not in doubt", err)
	}
	// A lock that hangs for longer stays in flight while everything else goes on.
	long, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Lock(long)
	recv(t, "the long lock to hang", h.entered)
	recv(t, "the long lock to hang", h.entered)
	if err := answer(t, "Mute", func() error { return s.Mute(within(3*time.Second), bob) }); err != nil {
		t.Errorf("Mute while a lock hangs: %v", err)
	}
	refreshed := e.count("refresh_session")
	eventually(t, "token refreshes while a lock hangs", func() bool { return e.count("refresh_session") >= refreshed+2 })
	if _, err := s.Status(within(3 * time.Second)); err != nil {
		t.Errorf("Status after the refreshes: %v", err)
	}
	if err := answer(t, "other Lock", func() error { return s2.Lock(within(3 * time.Second)) }); err != nil || !other.State().Locked {
		t.Errorf("Lock in another meeting: %v", err)
	}

	e.fault.Hang("1061/dial")
	_, err = s.Dial(within(300*time.Millisecond), meetings.DialRequest{Destination: "carol@example.com", Protocol: "sip", Role: "guest"})
	if !errors.Is(err, meetings.ErrOutcomeUnknown) || !errors.Is(err, meetings.ErrPlatformUnresponsive) {
		t.Errorf("Dial on a hanging node = %v, want ErrOutcomeUnknown and ErrPlatformUnresponsive", err)
	}
}
