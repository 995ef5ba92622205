package dendritetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Human is a test user's client that syncs in the background and records every event it sees
// (decrypted ones too, when encryption is on), so tests can wait for what a person would see.
type Human struct {
	*mautrix.Client
	User User

	mu      sync.Mutex
	events  []*event.Event
	changed chan struct{}
}

// HumanOptions changes how NewHuman sets up the client.
type HumanOptions struct {
	// Encrypted gives the client end-to-end encryption (cryptohelper with goolm); tests that use it
	// need the goolm build tag, or they skip.
	Encrypted bool
}

// NewHuman logs u in, starts syncing and stops when the test ends.
func (s *Server) NewHuman(t testing.TB, u User, opts HumanOptions) *Human {
	t.Helper()
	cli, err := s.Client(u)
	if err != nil {
		t.Fatal(err)
	}
	h := &Human{Client: cli, User: u, changed: make(chan struct{})}
	syncer := mautrix.NewDefaultSyncer()
	cli.Syncer = syncer
	cli.Store = mautrix.NewMemorySyncStore()
	syncer.OnEvent(h.record)
	ctx, cancel := context.WithCancel(context.Background())
	if opts.Encrypted {
		if err := enableCrypto(ctx, t, cli); err != nil {
			cancel()
			t.Fatal(err)
		}
	} else {
		cli.StateStore = mautrix.NewMemoryStateStore()
		syncer.OnEvent(cli.StateStoreSyncHandler)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			err := cli.SyncWithContext(ctx)
			if err != nil && ctx.Err() == nil {
				t.Logf("%s: sync: %v", u.UserID, err)
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func (h *Human) record(_ context.Context, evt *event.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, evt)
	close(h.changed)
	h.changed = make(chan struct{})
}

// Events returns what the client has seen so far.
func (h *Human) Events() []*event.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*event.Event(nil), h.events...)
}

// WaitFor waits up to timeout for an event matching match and returns the first one; it fails the
// test if none comes.
func (h *Human) WaitFor(t testing.TB, timeout time.Duration, what string, match func(*event.Event) bool) *event.Event {
	t.Helper()
	evt, err := h.Await(timeout, match)
	if err != nil {
		t.Fatalf("%s did not see %s within %s", h.User.UserID, what, timeout)
	}
	return evt
}

// Await is WaitFor without a test: it returns an error on timeout.
func (h *Human) Await(timeout time.Duration, match func(*event.Event) bool) (*event.Event, error) {
	deadline := time.After(timeout)
	seen := 0
	for {
		h.mu.Lock()
		evts, changed := h.events[seen:], h.changed
		seen = len(h.events)
		h.mu.Unlock()
		for _, e := range evts {
			if match(e) {
				return e, nil
			}
		}
		select {
		case <-changed:
		case <-deadline:
			return nil, errors.New("timed out")
		}
	}
}

// Say sends a text message to room and returns its event id.
func (h *Human) Say(t testing.TB, room id.RoomID, text string) id.EventID {
	t.Helper()
	resp, err := h.SendText(context.Background(), room, text)
	if err != nil {
		t.Fatalf("%s says %q: %v", h.User.UserID, text, err)
	}
	return resp.EventID
}

// NoticeIn matches an m.notice from sender in room, decrypted if need be.
func NoticeIn(room id.RoomID, sender id.UserID) func(*event.Event) bool {
	return func(e *event.Event) bool {
		if e.RoomID != room || e.Sender != sender || e.Type != event.EventMessage {
			return false
		}
		m, ok := e.Content.Parsed.(*event.MessageEventContent)
		return ok && m.MsgType == event.MsgNotice
	}
}

// MembershipOf matches the membership event of user in room with the given membership.
func MembershipOf(room id.RoomID, user id.UserID, membership event.Membership) func(*event.Event) bool {
	return func(e *event.Event) bool {
		if e.RoomID != room || e.Type != event.StateMember || e.GetStateKey() != user.String() {
			return false
		}
		m, ok := e.Content.Parsed.(*event.MemberEventContent)
		return ok && m.Membership == membership
	}
}
