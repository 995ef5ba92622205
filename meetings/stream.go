package meetings

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// streamBufSize is the SSE reader's buffer: small, because most events are small and an idle
// listener should cost little; longer lines are assembled in a buffer that grows as needed.
const streamBufSize = 1024

// errDisconnected ends a stream after the platform disconnected the session's participant.
var errDisconnected = errors.New("participant disconnected by the platform")

// Events streams the meeting's events to handle, one at a time, until ctx is done (it returns
// ctx.Err()) or the session is closed (ErrSessionClosed). It also returns when reconnecting is
// hopeless: the room is gone (ErrNotFound), or a new session is refused (ErrInvalidPIN,
// ErrPINRequired, ErrForbidden, ErrBadRequest).
//
// Each connection uses the newest token; a stream survives token refreshes and is reopened only
// when it drops (clarification 5). After every (re)connection handle receives StreamConnected,
// then the platform's sync (clarification 4). When the stream drops — an error, a bye event, the
// idle watchdog (no line for ClientOptions.IdleTimeout), or a disconnect event — handle receives
// StreamLost and Events reconnects after a capped exponential backoff with jitter. A
// refresh_token event refreshes the token at once.
//
// A disconnect event means the platform dropped this session's participant: its token lapsed, a
// host kicked it, or someone ended the meeting. handle receives Disconnected, then StreamLost;
// the session starts over with new_session and Events reconnects. A caller that would rather stop
// cancels ctx from its handler. Events may run several times at once on one session.
func (s *Session) Events(ctx context.Context, handle func(Event)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	backoff := s.c.reconnMin
	var retry time.Duration // the stream's retry: field (clarification 1)
	everConnected, lostReported := false, false
	for {
		connected, synced, err := s.stream(ctx, handle, everConnected, &retry)
		if ctx.Err() != nil {
			if s.ctx.Err() != nil {
				return ErrSessionClosed
			}
			return ctx.Err()
		}
		if errors.Is(err, ErrSessionClosed) {
			return ErrSessionClosed
		}
		if permanent(err) {
			return fmt.Errorf("events %s: %w", s.room.Alias, err)
		}
		if connected {
			everConnected = true
			lostReported = false
		}
		if !lostReported {
			handle(StreamLost{Err: err})
			lostReported = true
		}
		if synced {
			backoff = max(s.c.reconnMin, min(retry, s.c.reconnMax))
		}
		wait := max(jitter(backoff), min(retry, s.c.reconnMax))
		if errors.Is(err, ErrStreamBye) && synced {
			wait = min(retry, s.c.reconnMax) // a clean goodbye after a healthy stream: come straight back
		}
		s.log.Warn("event stream lost, reconnecting", "in", wait.Round(time.Millisecond), "err", err)
		if err := sleep(ctx, wait); err != nil {
			if s.ctx.Err() != nil {
				return ErrSessionClosed
			}
			return err
		}
		backoff = min(backoff*2, s.c.reconnMax)
	}
}

// permanent reports whether a stream failure is one that reconnecting cannot cure.
func permanent(err error) bool {
	for _, k := range []error{ErrNotFound, ErrInvalidPIN, ErrPINRequired, ErrForbidden, ErrBadRequest} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// stream runs one connection of the event stream. connected says the platform accepted it and
// StreamConnected was delivered; synced that a complete sync came through.
// A retry field the stream sends is stored in *retry.
func (s *Session) stream(ctx context.Context, handle func(Event), reconnect bool, retry *time.Duration) (connected, synced bool, err error) {
	resp, epoch, err := s.connect(ctx)
	if err != nil {
		return false, false, err
	}
	defer resp.Body.Close()

	connCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Closing the body when the connection's context ends unblocks the read.
	stopClose := context.AfterFunc(connCtx, func() { resp.Body.Close() })
	defer stopClose()

	var activity atomic.Int64
	activity.Store(time.Now().UnixNano())
	idle := s.c.idle
	// The watchdog wakes once per idle period; while lines keep coming it only re-arms itself.
	var watchdog atomic.Pointer[time.Timer]
	var stopped atomic.Bool
	var check func()
	check = func() {
		if stopped.Load() {
			return
		}
		since := time.Since(time.Unix(0, activity.Load()))
		if since >= idle {
			cancel(ErrStreamIdle)
			return
		}
		watchdog.Store(time.AfterFunc(idle-since, check))
	}
	watchdog.Store(time.AfterFunc(idle, check))
	defer func() {
		stopped.Store(true)
		watchdog.Load().Stop()
	}()

	if reconnect && s.c.obs != nil {
		s.c.obs.StreamReconnected()
	}
	handle(StreamConnected{})
	r := newSSEReader(resp.Body, streamBufSize)
	r.activity = &activity
	defer func() {
		if r.retry > 0 {
			*retry = r.retry
		}
	}()
	for {
		name, id, data, err := r.next()
		if err != nil {
			if cause := context.Cause(connCtx); cause != nil && connCtx.Err() != nil {
				if ctx.Err() != nil {
					return true, synced, ctx.Err()
				}
				return true, synced, cause
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return true, synced, fmt.Errorf("event stream: %w", err)
		}
		ev := DecodeEvent(name, id, data)
		switch ev := ev.(type) {
		case SyncEnd:
			synced = true
		case RefreshTokenRequested:
			s.refreshSoon()
		case Disconnected:
			s.markLapsed(epoch)
			handle(ev)
			return true, synced, fmt.Errorf("%w: %s", errDisconnected, ev.Reason)
		case Bye:
			handle(ev)
			return true, synced, ErrStreamBye
		}
		handle(ev)
		activity.Store(time.Now().UnixNano()) // time in the handler is not silence
	}
}

// connect opens the event stream with the newest token; on "Invalid token" it starts the session
// over and tries once more.
// It returns the epoch (the new_session) the stream belongs to.
func (s *Session) connect(ctx context.Context) (*http.Response, uint64, error) {
	const op = "events"
	for try := 0; ; try++ {
		token, gen, release, err := s.acquire(ctx)
		if err != nil {
			return nil, 0, err
		}
		epoch := s.epoch // read under acquire's lock
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+op+"?token="+url.QueryEscape(token), nil)
		if err != nil {
			release()
			return nil, 0, err
		}
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Cache-Control", "no-cache")
		start := time.Now()
		resp, err := s.c.stream.Do(req)
		release()
		if err != nil {
			err = &Error{Op: op, Reason: "network error", Kind: ErrTransient, Err: redact(err)}
			s.observeStream(start, err)
			return nil, 0, err
		}
		if resp.StatusCode == http.StatusOK {
			s.observeStream(start, nil)
			return resp, epoch, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		e := classify(op, resp.StatusCode, resultOf(body))
		if e == nil {
			e = &Error{Op: op, Status: resp.StatusCode, Reason: "unexpected status", Kind: ErrRefused}
		}
		s.observeStream(start, e)
		if e.Kind == ErrInvalidToken && try == 0 {
			if err := s.renew(ctx, gen, renewRestart); err != nil {
				return nil, 0, err
			}
			continue
		}
		return nil, 0, e
	}
}

func (s *Session) observeStream(start time.Time, err error) {
	if s.c.obs != nil {
		s.c.obs.RequestDone("events", time.Since(start), err)
	}
}
