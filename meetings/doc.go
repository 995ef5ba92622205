// Package meetings is a typed client of the meeting platform's in-meeting management API
// (shared/api/platform-api.md): checkJoin, sessions that own their token, every conference and
// participant command, the server-sent event stream decoded into a closed set of events, and a
// Roster that turns that stream into real joins, updates and leaves.
//
// # Usage
//
//	c, err := meetings.NewClient("https://api.example.cn", meetings.ClientOptions{Logger: log})
//	info, err := c.CheckJoin(ctx, "1061", pin, "meetbot")
//	s, err := c.Open(ctx, meetings.Room{Node: info.MCUHost, Alias: "1061"},
//		meetings.SessionOptions{DisplayName: "meetbot", PIN: pin, Hidden: true})
//	defer s.Close(context.Background())
//	err = s.Mute(ctx, uuid)
//
//	roster := meetings.NewRoster()
//	err = s.Events(ctx, func(ev meetings.Event) {
//		for _, ch := range roster.Apply(ev) {
//			// ch.Kind is Joined, Updated or Left
//		}
//	})
//
// # Tokens
//
// A Session refreshes its token every Expires×RefreshFraction (a third by default), one refresh
// at a time. While a refresh is in flight, new requests wait for it, and a refresh waits for the
// requests already in flight, so no request carries a token that a refresh has just replaced. A
// refresh_token event triggers a refresh at once. When the platform answers "Invalid token", or the
// token has lapsed, the session starts over with new_session and retries the request once; callers
// see nothing of it unless the new session fails too.
//
// # Errors
//
// Failures the platform reports are *Error values carrying the platform's own reason; their Kind is
// one of ErrInvalidToken, ErrInvalidPIN, ErrPINRequired, ErrForbidden, ErrNotFound, ErrBadRequest,
// ErrRefused or ErrTransient, so errors.Is(err, ErrForbidden) and errors.As(err, &e) both work.
// Transient failures (HTTP 5xx) are retried a bounded number of times with backoff first.
//
// # Concurrency
//
// Client and Session are safe for concurrent use. Roster is safe for concurrent use. The handler
// passed to Session.Events is called from one goroutine, one event at a time.
//
// # Backpressure
//
// Events calls the handler synchronously: while the handler runs, the stream is not read, and the
// platform's TCP buffers absorb what follows. A handler that blocks for long makes the platform
// see a slow client; hand slow work (posting to chat) to another goroutine. The idle watchdog only
// measures the time between reads of the connection, so time spent in the handler does not count
// against it, as long as the handler returns before the platform gives up on the connection.
package meetings
