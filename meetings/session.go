package meetings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// SessionOptions says how a Session joins its room.
type SessionOptions struct {
	DisplayName string // the name the session joins with
	// PIN is the host or guest PIN (the PIN decides the role); empty for none. When the room says a
	// PIN is required but guests need none, the session joins as a guest with "pin: none"
	// (clarification 6).
	PIN string
	// Hidden hides the session's participant from the participant list (hideme).
	Hidden bool
	// RefreshFraction is the part of the token's lifetime after which it is refreshed; 0 means a
	// third, as the platform's own clients do (clarification 5).
	RefreshFraction float64
}

// SessionInfo is what new_session said about the session's participant (API section 3).
type SessionInfo struct {
	ParticipantUUID    string
	DisplayName        string
	Role               string // "HOST" or "GUEST"
	ServiceType        string // "conference" or "gateway"
	CurrentServiceType string // "conference", "gateway", "waiting_room", "ivr"
	Version            string
	ChatEnabled        bool
	Expires            time.Duration
	// Present records which top-level fields the answer had (for Cloud).
	Present map[string]bool
}

// IsHost reports whether the session has the host role.
func (i SessionInfo) IsHost() bool { return equalFoldStr(i.Role, "HOST") }

// Cloud is the kind of node a session runs on (API section 7).
type Cloud string

// The kinds of node.
const (
	PublicCloud  Cloud = "public"
	PrivateCloud Cloud = "private"
)

// Cloud guesses the kind of node from new_session's answer: a private node's answer lacks stun,
// analytics_enabled and current_service_type (the vendor names no fields; this is our reading).
// All three absent is a private node, all three present a public one; anything between is not
// enough to tell, and Cloud returns "" so the caller's default decides.
func (i SessionInfo) Cloud() Cloud {
	n := 0
	for _, field := range [...]string{"stun", "analytics_enabled", "current_service_type"} {
		if i.Present[field] {
			n++
		}
	}
	switch n {
	case 0:
		return PrivateCloud
	case 3:
		return PublicCloud
	}
	return ""
}

// Session is one joined session of a room: it owns the token, refreshes it every
// Expires×RefreshFraction, and carries every conference and participant command. It is safe for
// concurrent use. Close ends it.
type Session struct {
	c    *Client
	room Room
	base string // …/api/services/<room>/
	opts SessionOptions
	log  *slog.Logger

	ctx    context.Context // cancelled by Close; bounds renewals and streams
	cancel context.CancelFunc

	// mu guards the token state below. It is held only to read or write these fields, never
	// across network I/O, so a hanging node can delay a request only as long as that request's
	// own context allows.
	mu        sync.Mutex
	token     string
	gen       uint64 // bumped on every new token
	epoch     uint64 // bumped on every new_session
	info      SessionInfo
	issued    time.Time // when the current token was asked for
	pinHeader string    // the pin header new_session sends: the PIN, "none" or ""
	closed    bool
	lapsed    bool // the platform dropped our participant: start over with new_session
	timer     *time.Timer
	failures  int // consecutive failed renewals
	// inflight counts the requests sent with the current token whose answer is not read yet; a
	// refresh waits (at most drainWait) for them, so it does not invalidate a token in flight.
	inflight int
	drained  chan struct{} // closed when inflight drops to 0 while a refresh waits for that
	renewal  *renewal      // the token renewal in flight, if any: there is at most one

	published atomic.Pointer[SessionInfo] // a copy of info that Info reads without taking mu
}

// renewal is one token renewal in flight; done is closed when it has ended, with err.
type renewal struct {
	done    chan struct{}
	restart bool // new_session: there is no live token to use meanwhile
	err     error
}

// The waits around a refresh. A refresh waits up to drainWait (less for a short-lived token) for
// the requests carrying the old token to be answered, since refresh_session invalidates it; new
// requests wait up to handoverWait for the refresh and then go ahead with the old token while it
// lives, so neither a request nor a refresh hanging on the node stalls the other for long. A
// renewal's own request is bounded by renewTimeout (and a refresh by the token's expiry).
const (
	drainWait    = 2 * time.Second
	handoverWait = 2 * time.Second
	renewTimeout = 30 * time.Second
)

type renewMode int

const (
	renewRefresh renewMode = iota // refresh_session, or new_session when the token has lapsed
	renewRestart                  // new_session
)

// Open joins room with new_session and returns the session. Its errors are *Error values:
// ErrInvalidPIN, ErrPINRequired (GuestPINNeeded says whether guests need one), ErrNotFound,
// ErrNodeRefused (the node may not be used), ErrPlatformUnresponsive (no answer before ctx's
// deadline), ….
func (c *Client) Open(ctx context.Context, room Room, opts SessionOptions) (*Session, error) {
	base, err := c.roomBase(room)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", room.Alias, err)
	}
	if opts.RefreshFraction <= 0 || opts.RefreshFraction >= 1 {
		opts.RefreshFraction = 1.0 / 3
	}
	s := &Session{c: c, room: room, base: base, opts: opts, pinHeader: opts.PIN,
		log: c.log.With("room", room.Alias)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	err = s.newSession(ctx)
	var pe *Error
	if opts.PIN == "" && errors.As(err, &pe) && pe.Kind == ErrPINRequired && !pe.GuestPINNeeded {
		// Clarification 6: guests need no PIN; say so with "pin: none".
		s.mu.Lock()
		s.pinHeader = "none"
		s.mu.Unlock()
		err = s.newSession(ctx)
	}
	if err != nil {
		s.cancel()
		return nil, err
	}
	return s, nil
}

// Info returns what new_session said about the session (the latest new_session, if the session
// had to start over). It never waits, not even for a token renewal in flight.
func (s *Session) Info() SessionInfo {
	i := *s.published.Load()
	i.Present = maps.Clone(i.Present)
	return i
}

// ParticipantUUID returns the uuid of the session's own participant, as Info does, without
// copying the rest: the relay asks it for every participant it sees.
func (s *Session) ParticipantUUID() string { return s.published.Load().ParticipantUUID }

// publishLocked makes the current info what Info returns.
func (s *Session) publishLocked() {
	i := s.info
	s.published.Store(&i)
}

// Room returns the room the session was opened for.
func (s *Session) Room() Room { return s.room }

// Close releases the token with end_session and stops the refreshes and any Events loop. It is
// idempotent; every other method fails with ErrSessionClosed afterwards. The platform's answer is
// ignored, as the API asks; only a failure to send the request is returned (ErrPlatformUnresponsive
// when ctx's deadline passed first). Close never waits for other requests of the session.
func (s *Session) Close(ctx context.Context) error {
	s.cancel()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	token := s.token
	s.mu.Unlock()
	const op = "end_session"
	return s.c.observe(op, func() error {
		_, err := s.c.send(ctx, op, retrySafe, func() (*http.Request, func(), error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+op, nil)
			if err == nil {
				req.Header.Set("token", token)
			}
			return req, nil, err
		})
		var pe *Error
		if errors.As(err, &pe) && pe.Status != 0 {
			return nil // an answer, whatever it says
		}
		if err != nil {
			return fmt.Errorf("end_session %s: %w", s.room.Alias, err)
		}
		return nil
	})
}

// deadlineLocked is when the current token should no longer be used: a tenth of its lifetime
// before it expires, so a request sent now still arrives in time.
func (s *Session) deadlineLocked() time.Time {
	exp := s.info.Expires
	return s.issued.Add(exp - exp/10)
}

// ticket is a request's hold on the token it carries.
type ticket struct {
	token      string
	gen, epoch uint64
}

// acquire returns the newest live token, renewing it first when it has lapsed; the caller must
// call release once its request's answer is read. While a renewal is in flight it waits for it,
// for no longer than ctx allows (then it fails with ErrPlatformUnresponsive) and, when the old
// token still lives, no longer than handoverWait.
func (s *Session) acquire(ctx context.Context, op string) (t ticket, release func(), err error) {
	var lastErr error
	for range 3 {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ticket{}, nil, ErrSessionClosed
		}
		live := !s.lapsed && time.Now().Before(s.deadlineLocked())
		r := s.renewal
		if r == nil && !live {
			r = s.startRenewalLocked(renewRefresh)
		}
		if r == nil {
			t, release = s.takeLocked()
			s.mu.Unlock()
			return t, release, nil
		}
		s.mu.Unlock()
		var handover <-chan time.Time
		if live && !r.restart {
			s.mu.Lock()
			d := min(handoverWait, time.Until(s.deadlineLocked()))
			s.mu.Unlock()
			tm := time.NewTimer(d)
			defer tm.Stop()
			handover = tm.C
		}
		select {
		case <-r.done:
			if r.err != nil {
				if r.restart {
					return ticket{}, nil, r.err
				}
				lastErr = r.err // a failed refresh: the old token may still do
			}
		case <-handover:
			// The refresh is slow: go ahead with the old token while it lives. If the refresh
			// lands first, the request comes back "Invalid token" and is repeated.
			s.mu.Lock()
			if !s.closed && s.renewal == r && !s.lapsed && time.Now().Before(s.deadlineLocked()) {
				t, release = s.takeLocked()
				s.mu.Unlock()
				return t, release, nil
			}
			s.mu.Unlock()
		case <-ctx.Done():
			if e := ctxFailure(ctx, op); e != nil {
				e.Reason = "no answer in time (waiting for the session's token)"
				return ticket{}, nil, e
			}
			return ticket{}, nil, ctx.Err()
		}
	}
	if lastErr != nil {
		return ticket{}, nil, lastErr
	}
	return ticket{}, nil, &Error{Op: "token", Reason: "token lapses as soon as it is issued", Kind: ErrInvalidToken}
}

// takeLocked counts one more request carrying the current token.
func (s *Session) takeLocked() (ticket, func()) {
	s.inflight++
	t := ticket{token: s.token, gen: s.gen, epoch: s.epoch}
	var once sync.Once
	return t, func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.gen != t.gen {
				return // the count started over with the new token
			}
			s.inflight--
			if s.inflight == 0 && s.drained != nil {
				close(s.drained)
				s.drained = nil
			}
		})
	}
}

// renew replaces the token of generation gen: by refresh_session when it is still live and mode
// allows, else by new_session. When another renewal already replaced that generation, it does
// nothing: one renewal per failure. It waits for the renewal no longer than ctx allows.
func (s *Session) renew(ctx context.Context, op string, gen uint64, mode renewMode) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrSessionClosed
	}
	r := s.renewal
	if r == nil {
		if s.gen != gen {
			s.mu.Unlock()
			return nil
		}
		r = s.startRenewalLocked(mode)
	}
	s.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		if e := ctxFailure(ctx, op); e != nil {
			e.Reason = "no answer in time (waiting for the session's token)"
			return e
		}
		return ctx.Err()
	}
}

// startRenewalLocked starts the renewal, in its own goroutine so that no caller's context cuts
// it short for the others, and returns it; mu is held.
func (s *Session) startRenewalLocked(mode renewMode) *renewal {
	restart := mode == renewRestart || s.lapsed || !time.Now().Before(s.issued.Add(s.info.Expires))
	r := &renewal{done: make(chan struct{}), restart: restart}
	s.renewal = r
	go s.runRenewal(r)
	return r
}

// runRenewal performs r and, when it fails, arms the timer to try again with backoff.
func (s *Session) runRenewal(r *renewal) {
	var err error
	if !r.restart {
		err = s.refresh()
	}
	if !r.restart && err != nil && !errors.Is(err, ErrSessionClosed) {
		s.mu.Lock()
		dead := !time.Now().Before(s.issued.Add(s.info.Expires))
		s.mu.Unlock()
		r.restart = dead || errors.Is(err, ErrInvalidToken)
	}
	if r.restart {
		ctx, cancel := context.WithTimeout(s.ctx, renewTimeout)
		err = s.newSession(ctx)
		cancel()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ctx.Err() != nil {
		err = ErrSessionClosed
	}
	s.renewal = nil
	r.err = err
	close(r.done)
	if err == nil || s.closed {
		return
	}
	s.failures++
	d := min(time.Second<<min(s.failures-1, 5), 30*time.Second)
	s.log.Warn("token renewal failed, retrying", "in", d, "err", err)
	if s.timer != nil {
		s.timer.Reset(jitter(d))
	}
}

// newSession asks for a fresh token with new_session and makes it the session's.
func (s *Session) newSession(ctx context.Context) error {
	const op = "new_session"
	body, _ := json.Marshal(struct {
		DisplayName string `json:"display_name"`
		HideMe      string `json:"hideme"`
	}{s.opts.DisplayName, yesNo(s.opts.Hidden)})
	s.mu.Lock()
	pin := s.pinHeader
	s.mu.Unlock()
	sent := time.Now()
	var info SessionInfo
	var token string
	err := s.c.observe(op, func() error {
		resp, err := s.c.send(ctx, op, retryAnswered, func() (*http.Request, func(), error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+op, bytes.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
				if pin != "" {
					req.Header.Set("pin", pin)
				}
			}
			return req, nil, err
		})
		if err != nil {
			return err
		}
		result := resultOf(resp.body)
		if e := classify(op, resp.status, result); e != nil {
			return e
		}
		info = SessionInfo{Present: map[string]bool{}}
		err = eachMember(result, func(key, val []byte) error {
			info.Present[string(key)] = true
			switch string(key) {
			case "token":
				token = valString(val)
			case "expires":
				info.Expires = time.Duration(valInt(val)) * time.Second
			case "participant_uuid":
				info.ParticipantUUID = valString(val)
			case "display_name":
				info.DisplayName = valString(val)
			case "role":
				info.Role = valString(val)
			case "service_type":
				info.ServiceType = valString(val)
			case "current_service_type":
				info.CurrentServiceType = valString(val)
			case "chat_enabled":
				info.ChatEnabled = valBool(val)
			case "version":
				info.Version = versionString(val)
			}
			return nil
		})
		if err != nil || token == "" {
			return refusal(op, resp.status, result)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if info.Expires <= 0 {
		info.Expires = 120 * time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	s.token, s.info, s.issued = token, info, sent
	s.publishLocked()
	s.newGenLocked()
	s.epoch++
	s.lapsed = false
	if s.epoch > 1 {
		s.log.Info("session started over", "participant", info.ParticipantUUID)
		if s.c.obs != nil {
			s.c.obs.TokenRefreshed()
		}
	}
	return nil
}

// refresh exchanges the token with refresh_session, once the requests carrying it have been
// answered (or drainWait has passed). It runs only inside runRenewal, so the token it reads
// cannot change under it.
func (s *Session) refresh() error {
	const op = "refresh_session"
	s.mu.Lock()
	token, dies := s.token, s.issued.Add(s.info.Expires)
	var drained chan struct{}
	if s.inflight > 0 {
		drained = make(chan struct{})
		s.drained = drained
	}
	s.mu.Unlock()
	if drained != nil {
		// Not so long that the token dies before the refresh is answered.
		t := time.NewTimer(min(drainWait, time.Until(dies)/2))
		select {
		case <-drained:
		case <-t.C:
		case <-s.ctx.Done():
		}
		t.Stop()
	}
	// A refresh after the token died is pointless: the caller then starts over.
	deadline := time.Now().Add(renewTimeout)
	if dies.Before(deadline) {
		deadline = dies
	}
	ctx, cancel := context.WithDeadline(s.ctx, deadline)
	defer cancel()
	sent := time.Now()
	var newToken string
	var expires time.Duration
	err := s.c.observe(op, func() error {
		resp, err := s.c.send(ctx, op, retryAnswered, func() (*http.Request, func(), error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+op, nil)
			if err == nil {
				req.Header.Set("token", token)
			}
			return req, nil, err
		})
		if err != nil {
			return err
		}
		result := resultOf(resp.body)
		if e := classify(op, resp.status, result); e != nil {
			return e
		}
		err = eachMember(result, func(key, val []byte) error {
			switch string(key) {
			case "token":
				newToken = valString(val)
			case "expires": // clarification 5: a number or a string
				expires = time.Duration(valInt(val)) * time.Second
			}
			return nil
		})
		if err != nil || newToken == "" {
			return refusal(op, resp.status, result)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	if expires <= 0 {
		expires = s.info.Expires
	}
	s.token, s.issued = newToken, sent
	if s.info.Expires != expires {
		s.info.Expires = expires
		s.publishLocked()
	}
	s.newGenLocked()
	if s.c.obs != nil {
		s.c.obs.TokenRefreshed()
	}
	return nil
}

// newGenLocked starts a new token generation: the in-flight count starts over (requests with
// the old token no longer hold up refreshes) and the refresh timer is armed for the new token.
func (s *Session) newGenLocked() {
	s.gen++
	s.inflight = 0
	if s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	s.failures = 0
	d := time.Duration(float64(s.info.Expires) * s.opts.RefreshFraction)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.onTimer)
		return
	}
	s.timer.Reset(d)
}

// onTimer refreshes the token when its time comes (and on refresh_token events), unless a
// renewal is already in flight.
func (s *Session) onTimer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.renewal != nil {
		return
	}
	s.startRenewalLocked(renewRefresh)
}

// markLapsed records that the platform dropped the participant of the given epoch, so the next
// request starts over with new_session. A late word about an earlier session changes nothing.
func (s *Session) markLapsed(epoch uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch == epoch {
		s.lapsed = true
	}
}

// refreshSoon refreshes the token now, in the background (a refresh_token event).
func (s *Session) refreshSoon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.timer != nil {
		s.timer.Reset(0)
	}
}

// call performs one command with the newest token and returns the answer's result. On "Invalid
// token" it repeats the command with a token that replaced the one it carried, starting over
// with new_session when none has; a 403 is a clear answer, so this is safe for every command.
func (s *Session) call(ctx context.Context, op, method, path string, body any, policy retryPolicy) ([]byte, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	var result []byte
	err := s.c.observe(op, func() error {
		var inv invalidTokens
		for {
			var gen uint64
			resp, err := s.c.send(ctx, op, policy, func() (*http.Request, func(), error) {
				t, release, err := s.acquire(ctx, op)
				if err != nil {
					return nil, nil, err
				}
				gen = t.gen
				var rd io.Reader
				if payload != nil {
					rd = bytes.NewReader(payload)
				}
				req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
				if err != nil {
					release()
					return nil, nil, err
				}
				if payload != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				req.Header.Set("token", t.token)
				return req, release, nil
			})
			if err != nil {
				return err
			}
			result = resultOf(resp.body)
			e := classify(op, resp.status, result)
			if e == nil {
				return nil
			}
			if e.Kind == ErrInvalidToken {
				if again, err := inv.retry(ctx, s, op, gen); again {
					continue
				} else if err != nil {
					return err
				}
			}
			return e
		}
	})
	return result, err
}

// invalidTokens decides what a request does after an "Invalid token" answer: when a refresh has
// replaced the token it carried, it is repeated with the new one; otherwise the session starts
// over with new_session and the request is repeated, once.
type invalidTokens struct{ repeated, restarted bool }

// retry reports whether to repeat the request that carried generation gen; err is why not, or
// nil when the "Invalid token" answer stands.
func (v *invalidTokens) retry(ctx context.Context, s *Session, op string, gen uint64) (bool, error) {
	s.mu.Lock()
	replaced := s.gen != gen
	s.mu.Unlock()
	switch {
	case replaced && !v.repeated:
		v.repeated = true
		return true, nil
	case v.restarted:
		return false, nil
	}
	v.restarted = true
	if err := s.renew(ctx, op, gen, renewRestart); err != nil {
		return false, err
	}
	return true, nil
}

// refusal describes a success status whose answer is not what the command returns.
func refusal(op string, status int, result []byte) *Error {
	reason := reasonOf(result)
	if reason == "" {
		reason = "refused"
	}
	return &Error{Op: op, Status: status, Reason: reason, Kind: ErrRefused}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// versionString reads new_session's version: an object with pseudo_version (or version_id), or a
// plain string.
func versionString(val []byte) string {
	if firstNonSpace(val) != '{' {
		return valString(val)
	}
	var pseudo, id string
	_ = eachMember(val, func(key, v []byte) error {
		switch string(key) {
		case "pseudo_version":
			pseudo = valString(v)
		case "version_id":
			id = valString(v)
		}
		return nil
	})
	return firstNonEmpty(pseudo, id)
}
