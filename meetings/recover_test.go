package meetings_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

// bubbleEnv is a simulator behind a faultyNode on an in-memory network, for tests inside a
// synctest bubble: the client runs with its default timings, and the fake clock makes minutes
// pass at once.
func bubbleEnv(t *testing.T, opts sim.Options, copts meetings.ClientOptions) (*sim.Server, *faultyNode, *meetings.Client) {
	t.Helper()
	s := sim.New(opts)
	f := newFaultyNode(s)
	copts.HTTPClient = servePipe(t, f)
	t.Cleanup(s.Close)
	c, err := meetings.NewClient("http://node.test", copts)
	if err != nil {
		t.Fatal(err)
	}
	return s, f, c
}

// Issue 12 item 8: a meeting whose node hung is followed again within a minute of the node
// answering, with the client's default timings: each hanging events request is given up after
// 15 s, and the wait between attempts, jitter included, stays under 30 s. The connection that was
// hanging when the node recovered stays unanswered, as it would.
func TestNodeThatHungIsFollowedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, node, c := bubbleEnv(t, sim.Options{}, meetings.ClientOptions{})
		srv.AddRoom(sim.RoomConfig{Number: "1061", HostPIN: "1234"})
		s, err := c.Open(context.Background(), meetings.Room{Alias: "1061"}, meetings.SessionOptions{DisplayName: "meetbot", PIN: "1234"})
		if err != nil {
			t.Fatal(err)
		}
		h := node.Hang("events")
		connected := make(chan time.Time, 100)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- s.Events(ctx, func(ev meetings.Event) {
				if _, ok := ev.(meetings.StreamConnected); ok {
					connected <- time.Now()
				}
			})
		}()
		// Ten minutes of a node that takes connections and never answers.
		time.Sleep(10 * time.Minute)
		attempts := 0
		for len(h.entered) > 0 {
			<-h.entered
			attempts++
		}
		if attempts < 10 {
			t.Errorf("%d events requests in 10 minutes of hanging, want a new one every 15 s + at most 30 s", attempts)
		}
		if len(connected) > 0 {
			t.Fatal("StreamConnected while the node hung")
		}
		if _, err := s.Status(context.Background()); err != nil {
			t.Errorf("Status after 10 minutes of a hanging stream: %v (the token must have been kept alive)", err)
		}

		recovered := time.Now()
		h.Recover()
		select {
		case at := <-connected:
			if d := at.Sub(recovered); d > time.Minute {
				t.Errorf("followed again %v after the node answered, want within a minute", d)
			} else {
				t.Logf("followed again %v after the node answered (%d attempts while it hung)", d, attempts)
			}
		case <-time.After(10 * time.Minute):
			t.Fatal("not followed again within 10 minutes of the node answering")
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Events = %v, want context.Canceled", err)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// A refresh that hangs holds commands up for at most a couple of seconds: they go ahead with the
// old token, which still lives; when the token dies the session starts over.
func TestHangOnRefreshCommandsGoOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, node, c := bubbleEnv(t, sim.Options{}, meetings.ClientOptions{})
		room := srv.AddRoom(sim.RoomConfig{Number: "1061", HostPIN: "1234"})
		s, err := c.Open(context.Background(), meetings.Room{Alias: "1061"}, meetings.SessionOptions{DisplayName: "meetbot", PIN: "1234"})
		if err != nil {
			t.Fatal(err)
		}
		first := s.Info().ParticipantUUID
		h := node.Hang("refresh_session")
		<-h.entered // the first refresh, 40 s in, hangs
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Lock(ctx); err != nil {
			t.Fatalf("Lock while the refresh hangs: %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Lock waited %v behind the hanging refresh", d)
		}
		if !room.State().Locked {
			t.Error("not locked")
		}
		// The token dies 120 s after it was issued; the next command starts over.
		time.Sleep(2 * time.Minute)
		h.Recover()
		if err := s.Unlock(context.Background()); err != nil {
			t.Fatalf("Unlock after the token died: %v", err)
		}
		if s.Info().ParticipantUUID == first {
			t.Error("no new session after the token died")
		}
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}
