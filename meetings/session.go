package meetings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	ctx    context.Context // cancelled by Close; bounds timer-driven refreshes and streams
	cancel context.CancelFunc

	// mu is held for reading by every request for as long as it is in flight, and for writing by
	// renewals and Close, so a refresh never overtakes a request that still carries the old token.
	mu        sync.RWMutex
	token     string
	gen       uint64 // bumped on every new token
	epoch     uint64 // bumped on every new_session
	info      SessionInfo
	issued    time.Time // when the current token was asked for
	pinHeader string    // the pin header new_session sends: the PIN, "none" or ""
	closed    bool
	timer     *time.Timer
	failures  int // consecutive failed timer refreshes

	lapsed    atomic.Bool                 // the platform dropped our participant: start over with new_session
	published atomic.Pointer[SessionInfo] // a copy of info that Info reads without waiting for mu
}

type renewMode int

const (
	renewRefresh renewMode = iota // refresh_session, or new_session when the token has lapsed
	renewRestart                  // new_session
)

// Open joins room with new_session and returns the session. Its errors are *Error values:
// ErrInvalidPIN, ErrPINRequired (GuestPINNeeded says whether guests need one), ErrNotFound, ….
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
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.newSessionLocked(ctx)
	var pe *Error
	if opts.PIN == "" && errors.As(err, &pe) && pe.Kind == ErrPINRequired && !pe.GuestPINNeeded {
		// Clarification 6: guests need no PIN; say so with "pin: none".
		s.pinHeader = "none"
		err = s.newSessionLocked(ctx)
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

// publishLocked makes the current info what Info returns.
func (s *Session) publishLocked() {
	i := s.info
	s.published.Store(&i)
}

// Room returns the room the session was opened for.
func (s *Session) Room() Room { return s.room }

// Close releases the token with end_session and stops the refreshes and any Events loop. It is
// idempotent; every other method fails with ErrSessionClosed afterwards. The platform's answer is
// ignored, as the API asks; only a failure to send the request is returned.
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
		_, err := s.c.send(ctx, op, true, func() (*http.Request, func(), error) {
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

// acquire returns the newest live token, renewing it first when it has lapsed, with the read lock
// held: the caller must call release once its request is done.
func (s *Session) acquire(ctx context.Context) (token string, gen uint64, release func(), err error) {
	for range 3 {
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			return "", 0, nil, ErrSessionClosed
		}
		if !s.lapsed.Load() && time.Now().Before(s.deadlineLocked()) {
			return s.token, s.gen, s.mu.RUnlock, nil
		}
		gen := s.gen
		s.mu.RUnlock()
		if err := s.renew(ctx, gen, renewRefresh); err != nil {
			return "", 0, nil, err
		}
	}
	return "", 0, nil, &Error{Op: "token", Reason: "token lapses as soon as it is issued", Kind: ErrInvalidToken}
}

// renew replaces the token of generation gen: by refresh_session when it is still live and mode
// allows, else by new_session. When another renewal already replaced that generation, it does
// nothing: one renewal per failure.
func (s *Session) renew(ctx context.Context, gen uint64, mode renewMode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	if s.gen != gen {
		return nil
	}
	if mode == renewRestart || s.lapsed.Load() || !time.Now().Before(s.issued.Add(s.info.Expires)) {
		return s.newSessionLocked(ctx)
	}
	err := s.refreshLocked(ctx)
	if errors.Is(err, ErrInvalidToken) {
		return s.newSessionLocked(ctx)
	}
	return err
}

// newSessionLocked asks for a fresh token with new_session; mu is held for writing.
func (s *Session) newSessionLocked(ctx context.Context) error {
	const op = "new_session"
	body, _ := json.Marshal(struct {
		DisplayName string `json:"display_name"`
		HideMe      string `json:"hideme"`
	}{s.opts.DisplayName, yesNo(s.opts.Hidden)})
	sent := time.Now()
	var info SessionInfo
	var token string
	err := s.c.observe(op, func() error {
		resp, err := s.c.send(ctx, op, false, func() (*http.Request, func(), error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+op, bytes.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
				if s.pinHeader != "" {
					req.Header.Set("pin", s.pinHeader)
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
	s.token, s.info, s.issued = token, info, sent
	s.publishLocked()
	s.gen++
	s.epoch++
	s.lapsed.Store(false)
	s.scheduleLocked()
	if s.epoch > 1 {
		s.log.Info("session started over", "participant", info.ParticipantUUID)
		if s.c.obs != nil {
			s.c.obs.TokenRefreshed()
		}
	}
	return nil
}

// refreshLocked exchanges the token with refresh_session; mu is held for writing.
func (s *Session) refreshLocked(ctx context.Context) error {
	const op = "refresh_session"
	sent := time.Now()
	var token string
	var expires time.Duration
	err := s.c.observe(op, func() error {
		resp, err := s.c.send(ctx, op, false, func() (*http.Request, func(), error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+op, nil)
			if err == nil {
				req.Header.Set("token", s.token)
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
				token = valString(val)
			case "expires": // clarification 5: a number or a string
				expires = time.Duration(valInt(val)) * time.Second
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
	if expires <= 0 {
		expires = s.info.Expires
	}
	s.token, s.issued = token, sent
	if s.info.Expires != expires {
		s.info.Expires = expires
		s.publishLocked()
	}
	s.gen++
	s.scheduleLocked()
	if s.c.obs != nil {
		s.c.obs.TokenRefreshed()
	}
	return nil
}

// scheduleLocked arms the refresh timer for the current token.
func (s *Session) scheduleLocked() {
	s.failures = 0
	d := time.Duration(float64(s.info.Expires) * s.opts.RefreshFraction)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.onTimer)
		return
	}
	s.timer.Reset(d)
}

// onTimer refreshes the token when its time comes (and on refresh_token events).
func (s *Session) onTimer() {
	s.mu.RLock()
	gen, closed := s.gen, s.closed
	s.mu.RUnlock()
	if closed {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	err := s.renew(ctx, gen, renewRefresh)
	if err == nil || errors.Is(err, ErrSessionClosed) || s.ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.gen != gen {
		return
	}
	s.failures++
	d := min(time.Second<<min(s.failures-1, 5), 30*time.Second)
	s.log.Warn("token refresh failed, retrying", "in", d, "err", err)
	s.timer.Reset(jitter(d))
}

// markLapsed records that the platform dropped the participant of the given epoch, so the next
// request starts over with new_session. A late word about an earlier session changes nothing.
func (s *Session) markLapsed(epoch uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.epoch == epoch {
		s.lapsed.Store(true)
	}
}

// refreshSoon refreshes the token now, in the background (a refresh_token event).
func (s *Session) refreshSoon() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.closed && s.timer != nil {
		s.timer.Reset(0)
	}
}

// call performs one command with the newest token and returns the answer's result. On "Invalid
// token" it starts over with new_session once and repeats the command.
func (s *Session) call(ctx context.Context, op, method, path string, body any, idempotent bool) ([]byte, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	var result []byte
	err := s.c.observe(op, func() error {
		for try := 0; ; try++ {
			var gen uint64
			resp, err := s.c.send(ctx, op, idempotent, func() (*http.Request, func(), error) {
				token, g, release, err := s.acquire(ctx)
				if err != nil {
					return nil, nil, err
				}
				gen = g
				var rd *bytes.Reader
				if payload != nil {
					rd = bytes.NewReader(payload)
				}
				var req *http.Request
				if rd != nil {
					req, err = http.NewRequestWithContext(ctx, method, s.base+path, rd)
				} else {
					req, err = http.NewRequestWithContext(ctx, method, s.base+path, nil)
				}
				if err != nil {
					release()
					return nil, nil, err
				}
				if payload != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				req.Header.Set("token", token)
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
			if e.Kind == ErrInvalidToken && try == 0 {
				if err := s.renew(ctx, gen, renewRestart); err != nil {
					return err
				}
				continue
			}
			return e
		}
	})
	return result, err
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
