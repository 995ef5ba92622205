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
// hopeless: the room is gone (ErrNotFound), a new session is refused (ErrInvalidPIN,
// ErrPINRequired, ErrForbidden, ErrBadRequest), or the node redirected (ErrNodeRefused).
//
// Each connection uses the newest token; a stream survives token refreshes and is reopened only
// when it drops (clarification 5). After every (re)connection handle receives StreamConnected,
// then the platform's sync (clarification 4). When the stream drops — an error, a bye event, the
// idle watchdog (no line for ClientOptions.IdleTimeout), no response headers within
// ClientOptions.StreamConnectTimeout (ErrPlatformUnresponsive), or a disconnect event — handle
// receives StreamLost and Events reconnects after an exponential backoff with jitter that never
// exceeds ClientOptions.ReconnectMax. A refresh_token event refreshes the token at once.
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
		// Never longer than ReconnectMax, jitter included: a node that answers again is
		// followed again within ReconnectMax (plus StreamConnectTimeout for an attempt that
		// was hanging when it recovered).
		wait := min(max(jitter(backoff), retry), s.c.reconnMax)
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
	for _, k := range []error{ErrNotFound, ErrInvalidPIN, ErrPINRequired, ErrForbidden, ErrBadRequest, ErrNodeRefused} {
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
	connCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, epoch, err := s.connect(connCtx, cancel)
	if err != nil {
		return false, false, err
	}
	defer resp.Body.Close()
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

// errNoHeaders is the cause that ends a connection whose response headers did not come within
// ClientOptions.StreamConnectTimeout.
var errNoHeaders = errors.New("no response headers in time")

// connect opens the event stream with the newest token; on "Invalid token" it starts the session
// over and tries once more. ctx is the connection's context and cancel ends it: the response
// headers must come within the client's StreamConnectTimeout, or the request is abandoned with
// an *Error of kind ErrPlatformUnresponsive, so a node that accepts the connection and never
// answers cannot hold the stream (or anything else) for good.
// It returns the epoch (the new_session) the stream belongs to.
func (s *Session) connect(ctx context.Context, cancel context.CancelCauseFunc) (*http.Response, uint64, error) {
	const op = "events"
	var inv invalidTokens
	for {
		t, release, err := s.acquire(ctx, op)
		if err != nil {
			return nil, 0, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+op+"?token="+url.QueryEscape(t.token), nil)
		if err != nil {
			release()
			return nil, 0, err
		}
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Cache-Control", "no-cache")
		start := time.Now()
		timeout := s.c.connTimeout
		headers := time.AfterFunc(timeout, func() { cancel(errNoHeaders) })
		resp, err := s.c.stream.Do(req)
		inTime := headers.Stop()
		release()
		if !inTime || errors.Is(context.Cause(ctx), errNoHeaders) {
			if err == nil {
				resp.Body.Close()
			}
			err = &Error{Op: op, Reason: fmt.Sprintf("no answer within %v", timeout), Kind: ErrPlatformUnresponsive, Err: errNoHeaders}
			s.observeStream(start, err)
			return nil, 0, err
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, ctx.Err() // Events' context ended: it returns
			}
			e := requestFailure(ctx, op, err)
			s.observeStream(start, e)
			return nil, 0, e
		}
		if resp.StatusCode == http.StatusOK {
			s.observeStream(start, nil)
			return resp, t.epoch, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		var e *Error
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			e = redirectRefused(op, response{status: resp.StatusCode, header: resp.Header})
		} else if e = classify(op, resp.StatusCode, resultOf(body)); e == nil {
			e = &Error{Op: op, Status: resp.StatusCode, Reason: "unexpected status", Kind: ErrRefused}
		}
		s.observeStream(start, e)
		if e.Kind == ErrInvalidToken {
			if again, err := inv.retry(ctx, s, op, t.gen); again {
				continue
			} else if err != nil {
				return nil, 0, err
			}
		}
		return nil, 0, e
	}
}

func (s *Session) observeStream(start time.Time, err error) {
	if s.c.obs != nil {
		s.c.obs.RequestDone("events", time.Since(start), err)
	}
}
