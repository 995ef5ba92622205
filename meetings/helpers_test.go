package meetings_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

// env is a simulator on loopback and a client of it.
type env struct {
	t   *testing.T
	sim *sim.Server
	srv *httptest.Server
	c   *meetings.Client
	obs *counter
}

func newEnv(t *testing.T, opts sim.Options, copts meetings.ClientOptions) *env {
	t.Helper()
	s := sim.New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		srv.Close()
	})
	e := &env{t: t, sim: s, srv: srv, obs: &counter{}}
	if copts.Observer == nil {
		copts.Observer = e.obs
	}
	if copts.ReconnectMin == 0 {
		copts.ReconnectMin = 10 * time.Millisecond
	}
	if copts.ReconnectMax == 0 {
		copts.ReconnectMax = 100 * time.Millisecond
	}
	if copts.RetryBackoff == 0 {
		copts.RetryBackoff = 5 * time.Millisecond
	}
	c, err := meetings.NewClient(srv.URL, copts)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return e
}

// node is the simulator's host:port, as checkJoin gives it (clarification 7).
func (e *env) node() string { return strings.TrimPrefix(e.srv.URL, "http://") }

// room adds the standard room: number 1061, alias zjvmr@myvmr.cn, host PIN 1234, guest PIN 5678.
func (e *env) room() *sim.Room {
	return e.sim.AddRoom(sim.RoomConfig{Number: "1061", Alias: "zjvmr@myvmr.cn", Name: "Weekly",
		HostPIN: "1234", GuestPIN: "5678"})
}

// open opens a session on alias with pin, failing the test on error, and closes it at cleanup.
func (e *env) open(alias, pin string) *meetings.Session {
	e.t.Helper()
	s, err := e.c.Open(context.Background(), meetings.Room{Node: e.node(), Alias: alias},
		meetings.SessionOptions{DisplayName: "meetbot", PIN: pin, Hidden: true})
	if err != nil {
		e.t.Fatalf("open %s: %v", alias, err)
	}
	e.t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// counter is an Observer that counts.
type counter struct {
	requests, refreshes, reconnects atomic.Int64
	mu                              sync.Mutex
	ops                             map[string]int
}

func (c *counter) RequestDone(op string, d time.Duration, err error) {
	c.requests.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops == nil {
		c.ops = map[string]int{}
	}
	c.ops[op]++
}
func (c *counter) TokenRefreshed()    { c.refreshes.Add(1) }
func (c *counter) StreamReconnected() { c.reconnects.Add(1) }

// events runs s.Events in the background and hands its events over a channel.
type events struct {
	t    *testing.T
	ch   chan meetings.Event
	done chan error
	stop context.CancelFunc
}

func listen(t *testing.T, s *meetings.Session) *events {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ev := &events{t: t, ch: make(chan meetings.Event, 4096), done: make(chan error, 1), stop: cancel}
	go func() {
		ev.done <- s.Events(ctx, func(e meetings.Event) { ev.ch <- e })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ev.done:
		case <-time.After(5 * time.Second):
			t.Error("Events did not return after its context ended")
		}
	})
	return ev
}

// next returns the next event, failing after 5 s.
func (ev *events) next() meetings.Event {
	ev.t.Helper()
	select {
	case e := <-ev.ch:
		return e
	case <-time.After(5 * time.Second):
		ev.t.Fatal("no event within 5 s")
		return nil
	}
}

// until returns the first event for which match is true, skipping others.
func (ev *events) until(what string, match func(meetings.Event) bool) meetings.Event {
	ev.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-ev.ch:
			if match(e) {
				return e
			}
		case <-deadline:
			ev.t.Fatalf("no %s within 5 s", what)
			return nil
		}
	}
}

// synced waits for the end of a sync and returns the participants it carried.
func (ev *events) synced() []meetings.Participant {
	ev.t.Helper()
	var ps []meetings.Participant
	ev.until("participant_sync_begin", func(e meetings.Event) bool { _, ok := e.(meetings.SyncBegin); return ok })
	for {
		switch e := ev.next().(type) {
		case meetings.ParticipantCreated:
			ps = append(ps, e.Participant)
		case meetings.ParticipantUpdated:
			ps = append(ps, e.Participant)
		case meetings.SyncEnd:
			return ps
		}
	}
}

func is[T meetings.Event](e meetings.Event) bool { _, ok := e.(T); return ok }

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recv receives from ch, failing the test after 5 s.
func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5 s", what)
		var zero T
		return zero
	}
}
