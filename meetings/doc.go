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
// # Recording and live streaming
//
// The platform records and streams live by dialling a streaming RTMP participant into the
// meeting (API section 4): Dial with Protocol ProtocolRTMP, Streaming, KeepConferenceAlive
// KeepAliveNever and a RemoteDisplayName, to the recorder's or the stream's rtmp:// URL. The uuid
// Dial returns is that participant; it is listed at once as "connecting", becomes "conference"
// when the far end answers, and is removed when it does not within 30 s. Participant.IsStreaming
// (is_streaming_conference) marks it in the list and in events. JoinInfo.IsRecord and IsLive say
// whether the room may record or go live; a private-cloud node dials SIP and H.323 only.
// Destinations usually carry a stream key: this package never logs a dial's body, and its
// errors never carry it.
//
// # Tokens
//
// A Session refreshes its token every Expires×RefreshFraction (a third by default), one refresh
// at a time. Since refresh_session invalidates the old token, a refresh first waits for the
// requests already carrying it to be answered, and new requests wait for the refresh, so a
// request does not normally carry a token that a refresh has just replaced. Both waits are
// bounded: a refresh waits at most 2 s for those requests, and a request waits at most 2 s for a
// refresh before going ahead with the old token while it lives; a request that then comes back
// "Invalid token" is repeated with the new one. A refresh_token event triggers a refresh at
// once. When the platform answers "Invalid token" and no refresh explains it, or the token has
// lapsed, the session starts over with new_session and retries the request once; callers see
// nothing of it unless the new session fails too.
//
// # Errors
//
// Failures the platform reports are *Error values carrying the platform's own reason; their Kind is
// one of ErrInvalidToken, ErrInvalidPIN, ErrPINRequired, ErrForbidden, ErrNotFound, ErrBadRequest,
// ErrRefused or ErrTransient, so errors.Is(err, ErrForbidden) and errors.As(err, &e) both work.
// A deadline that passed before the platform answered is an *Error of kind
// ErrPlatformUnresponsive (it also matches context.DeadlineExceeded), and a node or redirect the
// client will not send a PIN or token to is one of kind ErrNodeRefused.
//
// Transient failures (HTTP 5xx, network errors) of commands that are safe to repeat are retried a
// bounded number of times with backoff. Commands that are not — Dial, SendMessage, SendDTMF,
// Transfer, AddCall, AckCall — are sent once: when no clear answer comes back (a 5xx, a dropped
// connection, a deadline), the error wraps ErrOutcomeUnknown around the *Error that came back,
// and the caller should look (Participants, Status) before trying again. Check ErrOutcomeUnknown
// before ErrPlatformUnresponsive and ErrTransient, which it may wrap.
//
// # Nodes
//
// PINs and tokens go to the node checkJoin named, and only there: an http:// node named by an
// https apiServer is refused, no request follows a redirect, and ClientOptions.NodeHosts can
// restrict the nodes to known host names and suffixes.
//
// # Concurrency
//
// Client and Session are safe for concurrent use. Roster is safe for concurrent use. The handler
// passed to Session.Events is called from one goroutine, one event at a time.
//
// No lock is held across network I/O, and every wait honours its context: a Session's token
// state sits behind a mutex held only to read or write it, and renewals run in a goroutine of
// their own with their own deadline, so a node that hangs delays a caller only as long as the
// caller's context allows (the error is then ErrPlatformUnresponsive), Close never waits for
// other requests, and other sessions are never affected. Info never waits at all. An event
// stream's request must get its response headers within ClientOptions.StreamConnectTimeout
// (15 s), and the wait before a reconnection never exceeds ClientOptions.ReconnectMax (30 s), so a
// meeting whose node answers again is followed again within a minute.
//
// # Backpressure
//
// Events calls the handler synchronously: while the handler runs, the stream is not read, and the
// platform's TCP buffers absorb what follows. A handler that blocks for long makes the platform
// see a slow client; hand slow work (posting to chat) to another goroutine. The idle watchdog only
// measures the time between reads of the connection, so time spent in the handler does not count
// against it, as long as the handler returns before the platform gives up on the connection.
package meetings
