package meetings_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

// Clarification 5: under a 2 s token lifetime, a run of continuous requests from several
// goroutines (and an open event stream) spans many refreshes, and no request ever carries a
// dead token.
func TestShortTokenLifetime(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 7 s")
	}
	e := newEnv(t, sim.Options{TokenTTL: 2 * time.Second}, meetings.ClientOptions{})
	room := e.room()
	bob := room.Join(sim.ParticipantSpec{Name: "Bob"})
	// One refresh at a time: count refresh_session requests in flight (each held a moment).
	var inFlight, maxInFlight atomic.Int32
	e.sim.SetHook(func(w http.ResponseWriter, r *http.Request, op string) bool {
		if op == "refresh_session" {
			n := inFlight.Add(1)
			for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			inFlight.Add(-1)
		}
		return false
	})
	s := e.open("1061", "1234")
	ev := listen(t, s)
	ev.synced()
	first := s.Info().ParticipantUUID

	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	n := 0
	wg.Go(func() { // the platform asks for refreshes too (refresh_token events)
		for ctx.Err() == nil {
			room.RequestRefresh()
			time.Sleep(300 * time.Millisecond)
		}
	})
	for w := range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				var err error
				switch w {
				case 0:
					_, err = s.Status(ctx)
				case 1:
					err = s.Mute(ctx, bob)
				case 2:
					_, err = s.Participants(ctx)
				case 3:
					_, err = s.PresentationJPEG(ctx, "1")
					if errors.Is(err, meetings.ErrNotFound) { // no presentation: fine
						err = nil
					}
				}
				mu.Lock()
				n++
				if err != nil && ctx.Err() == nil {
					failures = append(failures, err)
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	for _, err := range failures {
		t.Errorf("request failed: %v", err)
	}
	refreshes, dead := 0, 0
	for _, r := range e.sim.Requests() {
		switch {
		case r.Op == "refresh_session":
			refreshes++
		case r.Op == "new_session" || r.Op == "checkJoin":
			continue
		}
		if !r.TokenValid {
			dead++
			t.Errorf("%s %s at %s carried a dead token", r.Method, r.Op, r.Time.Format("15:04:05.000"))
		}
	}
	if refreshes < 10 {
		t.Errorf("%d refreshes in 7 s of a 2 s token, want one every 2/3 s and more on request", refreshes)
	}
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("%d refreshes in flight at once, want 1", m)
	}
	if s.Info().ParticipantUUID != first {
		t.Error("the session had to start over; refreshes should have kept it alive")
	}
	t.Logf("%d requests, %d refreshes, %d with a dead token", n, refreshes, dead)
	// The stream opened with the first token survived every refresh.
	for {
		select {
		case e := <-ev.ch:
			if _, lost := e.(meetings.StreamLost); lost {
				t.Errorf("stream lost: %v", e)
			}
			continue
		default:
		}
		break
	}
}

// "Invalid token" (here: every token lapsed at once) makes the session start over with
// new_session and repeat the command, transparently.
func TestInvalidTokenStartsOver(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	room := e.room()
	s := e.open("1061", "1234")
	first := s.Info().ParticipantUUID
	e.sim.ExpireTokens()
	if err := s.Lock(context.Background()); err != nil {
		t.Fatalf("Lock after the token lapsed: %v", err)
	}
	if !room.State().Locked {
		t.Error("room not locked")
	}
	if s.Info().ParticipantUUID == first {
		t.Error("no new session")
	}
	var ops []string
	for _, r := range e.sim.Requests() {
		ops = append(ops, r.Op)
	}
	want := []string{"new_session", "lock", "new_session", "lock"}
	if len(ops) != 4 || ops[1] != want[1] || ops[2] != want[2] || ops[3] != want[3] {
		t.Errorf("requests = %v, want %v", ops, want)
	}
}

// A token that lapsed because refreshes kept failing is replaced by a fresh new_session before
// the next request: that request carries a live token.
func TestLapsedTokenStartsOver(t *testing.T) {
	e := newEnv(t, sim.Options{TokenTTL: time.Second}, meetings.ClientOptions{Retries: -1})
	e.room()
	s := e.open("1061", "1234")
	first := s.Info().ParticipantUUID
	e.sim.FailNext("refresh_session", http.StatusServiceUnavailable, 1000)
	time.Sleep(1200 * time.Millisecond)
	e.sim.ClearFaults()
	e.sim.ResetRequests()
	if _, err := s.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Info().ParticipantUUID == first {
		t.Error("no new session after the token lapsed")
	}
	for _, r := range e.sim.Requests() {
		if r.Op == "service_status" && !r.TokenValid {
			t.Error("service_status carried the lapsed token")
		}
	}
}

// Clarification 2: a refresh_token event refreshes the token at once.
func TestRefreshTokenEvent(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	room := e.room()
	s := e.open("1061", "1234")
	ev := listen(t, s)
	ev.synced()
	room.RequestRefresh()
	ev.until("refresh_token", is[meetings.RefreshTokenRequested])
	eventually(t, "a refresh_session", func() bool {
		for _, r := range e.sim.Requests() {
			if r.Op == "refresh_session" && r.TokenValid {
				return true
			}
		}
		return false
	})
	if err := s.Lock(context.Background()); err != nil {
		t.Errorf("Lock with the refreshed token: %v", err)
	}
	if e.obs.refreshes.Load() == 0 {
		t.Error("Observer.TokenRefreshed not called")
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	room := e.room()
	s, err := e.c.Open(context.Background(), meetings.Room{Node: e.node(), Alias: "1061"}, meetings.SessionOptions{DisplayName: "bot", PIN: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Events(context.Background(), func(meetings.Event) {}) }()
	eventually(t, "the stream", func() bool { return room.State().Streams == 1 })
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := room.State(); st.Sessions != 0 {
		t.Errorf("%d sessions after Close, want end_session to release the token", st.Sessions)
	}
	select {
	case err := <-done:
		if !errors.Is(err, meetings.ErrSessionClosed) {
			t.Errorf("Events after Close = %v, want ErrSessionClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Events did not return after Close")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := s.Lock(context.Background()); !errors.Is(err, meetings.ErrSessionClosed) {
		t.Errorf("Lock after Close = %v, want ErrSessionClosed", err)
	}
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Op == "end_session" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d end_session requests, want 1", n)
	}
}

// Clarification 6: 502/503/504 are transient and retried a bounded number of times.
func TestTransientRetries(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{Retries: 2})
	room := e.room()
	s := e.open("1061", "1234")
	ctx := context.Background()

	e.sim.FailNext("lock", http.StatusBadGateway, 1)
	e.sim.FailNext("lock", http.StatusGatewayTimeout, 1)
	if err := s.Lock(ctx); err != nil {
		t.Fatalf("Lock after two transient failures: %v", err)
	}
	if !room.State().Locked {
		t.Error("not locked")
	}

	e.sim.FailNext("unlock", http.StatusServiceUnavailable, 3)
	err := s.Unlock(ctx)
	var pe *meetings.Error
	if !errors.As(err, &pe) || pe.Kind != meetings.ErrTransient || pe.Status != 503 {
		t.Fatalf("Unlock after three failures = %#v, want ErrTransient 503", err)
	}
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Op == "unlock" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d unlock attempts, want 1 + 2 retries", n)
	}
	e.sim.FailNext("new_session", http.StatusServiceUnavailable, 1)
	if _, err := e.c.Open(ctx, meetings.Room{Node: e.node(), Alias: "1061"}, meetings.SessionOptions{DisplayName: "x", PIN: "1234"}); err != nil {
		t.Errorf("Open after one 503: %v", err)
	}
}

func TestErrorsAsAndIs(t *testing.T) {
	err := error(&meetings.Error{Op: "mute", Status: 403, Reason: "Invalid role", Kind: meetings.ErrForbidden})
	wrapped := errors.Join(errors.New("context"), err)
	if !errors.Is(wrapped, meetings.ErrForbidden) || errors.Is(wrapped, meetings.ErrNotFound) {
		t.Error("errors.Is does not follow Kind")
	}
	var pe *meetings.Error
	if !errors.As(wrapped, &pe) || pe.Reason != "Invalid role" {
		t.Error("errors.As does not find the *Error")
	}
	if got := err.Error(); got != "mute: Invalid role (HTTP 403)" {
		t.Errorf("Error() = %q", got)
	}
}

func TestObserver(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.room()
	s := e.open("1061", "1234")
	s.Lock(context.Background())
	e.obs.mu.Lock()
	defer e.obs.mu.Unlock()
	if e.obs.ops["new_session"] != 1 || e.obs.ops["lock"] != 1 {
		t.Errorf("observed ops = %v", e.obs.ops)
	}
}

// Network errors are retried only for commands that are safe to repeat: a dial that may have
// reached the platform is not sent twice.
func TestNetworkErrorRetries(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{Retries: 2})
	room := e.room()
	s := e.open("1061", "1234")
	var drops atomic.Int32
	e.sim.SetHook(func(w http.ResponseWriter, r *http.Request, op string) bool {
		if (op == "dial" || op == "lock") && drops.Add(-1) >= 0 {
			panic(http.ErrAbortHandler) // the connection drops without an answer
		}
		return false
	})
	count := func(op string) int {
		n := 0
		for _, r := range e.sim.Requests() {
			if r.Op == op {
				n++
			}
		}
		return n
	}
	drops.Store(1)
	if err := s.Lock(context.Background()); err != nil || !room.State().Locked {
		t.Errorf("Lock after one dropped connection = %v", err)
	}
	if n := count("lock"); n != 2 {
		t.Errorf("%d lock attempts, want 2", n)
	}
	drops.Store(1)
	_, err := s.Dial(context.Background(), meetings.DialRequest{Destination: "a@b", Protocol: "sip", Role: "guest"})
	if !errors.Is(err, meetings.ErrOutcomeUnknown) || !errors.Is(err, meetings.ErrTransient) {
		t.Errorf("Dial over a dropped connection = %v, want ErrOutcomeUnknown (a transient network error)", err)
	}
	if n := count("dial"); n != 1 {
		t.Errorf("%d dial attempts, want 1 (a dial is never repeated blindly)", n)
	}
}
