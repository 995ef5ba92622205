package meetings

import (
	"errors"
	"fmt"
	"net/http"
)

// The kinds of failure the platform reports (clarification 6). Every *Error has one of them as its
// Kind, so errors.Is(err, ErrForbidden) tells a caller what happened.
var (
	// ErrInvalidToken means the token was expired, released or unknown. A Session recovers from it
	// by itself with a fresh new_session; callers see it only when that fails too.
	ErrInvalidToken = errors.New("invalid token")
	// ErrInvalidPIN means new_session (or checkJoin) was given a wrong PIN.
	ErrInvalidPIN = errors.New("invalid PIN")
	// ErrPINRequired means the room has a PIN and none was given; Error.GuestPINNeeded says whether
	// guests need one too.
	ErrPINRequired = errors.New("PIN required")
	// ErrForbidden means the caller's role may not do this (a guest calling a host-only command).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound means the room or the participant does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBadRequest means the platform refused the request's body or a value in it (400, 415).
	ErrBadRequest = errors.New("bad request")
	// ErrRefused means the platform understood the request and answered result false.
	ErrRefused = errors.New("refused")
	// ErrTransient means the platform or the network failed in a way that may pass (5xx, network
	// errors); the client has already retried a bounded number of times.
	ErrTransient = errors.New("transient failure")
	// ErrOutcomeUnknown means a command that is not safe to repeat (dial, say, dtmf, transfer, a
	// call answer) may or may not have been carried out: the request reached the network and no
	// clear answer came back (a 5xx, a dropped connection, a deadline). It is not retried; the
	// caller should tell the user to check (who, status). It wraps the *Error (or the
	// ErrPlatformUnresponsive *Error) that says what came back, so errors.As still finds it.
	ErrOutcomeUnknown = errors.New("outcome unknown")
	// ErrPlatformUnresponsive means the platform did not answer within the caller's deadline (or
	// an event stream's ClientOptions.StreamConnectTimeout). It is the Kind of an *Error whose
	// Err is the deadline's error; such a failure is not retried, as the deadline is spent. A
	// command that is not safe to repeat returns it wrapped in ErrOutcomeUnknown when the request
	// had been sent, so check ErrOutcomeUnknown first.
	ErrPlatformUnresponsive = errors.New("platform not answering")
	// ErrNodeRefused means the client will not send a PIN or token where it was asked to: the
	// node checkJoin named would downgrade an https apiServer to http, is not among
	// ClientOptions.NodeHosts, or a platform answer redirected elsewhere (redirects are never
	// followed). Reason names the host, never a PIN or token.
	ErrNodeRefused = errors.New("node refused")
	// ErrSessionClosed means the Session was closed; it is not an *Error.
	ErrSessionClosed = errors.New("session closed")
	// ErrStreamIdle is the StreamLost error when the event stream stayed silent for longer than
	// the idle timeout (the platform sends keep-alive comments well within it).
	ErrStreamIdle = errors.New("event stream idle")
	// ErrStreamBye is the StreamLost error when the platform closed the stream with a bye event.
	ErrStreamBye = errors.New("event stream closed by the platform")
)

// Error is a failure the platform reported, a transient failure after the retries ran out, a
// deadline the platform did not answer within (ErrPlatformUnresponsive), or a node the client
// refused to talk to (ErrNodeRefused).
// Reason is the platform's own words (or the HTTP status text when it gave none) and is safe to
// show users; it never contains a token or a PIN.
type Error struct {
	Op             string // the command: "mute", "new_session", "checkJoin", …
	Status         int    // HTTP status; 0 for network errors
	Reason         string // the platform's reason, e.g. "Invalid role"
	Kind           error  // ErrInvalidToken, ErrForbidden, …
	GuestPINNeeded bool   // with ErrPINRequired: whether guests need a PIN too
	Err            error  // the underlying network error, if any
}

// Error describes e as "op: reason (HTTP status)".
func (e *Error) Error() string {
	switch {
	case e.Status == 0 && e.Err != nil:
		return fmt.Sprintf("%s: %s: %v", e.Op, e.Reason, e.Err)
	case e.Status == 0:
		return fmt.Sprintf("%s: %s", e.Op, e.Reason)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Op, e.Reason, e.Status)
}

// Is reports whether target is e's Kind, so errors.Is(err, ErrNotFound) works.
func (e *Error) Is(target error) bool { return target != nil && target == e.Kind }

// Unwrap returns the underlying network error, if any.
func (e *Error) Unwrap() error { return e.Err }

// classify turns an HTTP status and the answer's result into an *Error, or nil when the status is
// a success. result is the raw "result" member (nil when absent or the body is not the envelope).
func classify(op string, status int, result []byte) *Error {
	if status >= 200 && status < 300 {
		return nil
	}
	e := &Error{Op: op, Status: status, Reason: reasonOf(result)}
	if e.Reason == "" {
		e.Reason = http.StatusText(status)
		if e.Reason == "" {
			e.Reason = fmt.Sprintf("status %d", status)
		}
	}
	switch {
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		switch {
		case equalFoldStr(e.Reason, "Invalid token"):
			e.Kind = ErrInvalidToken
		case equalFoldStr(e.Reason, "Invalid PIN"):
			e.Kind = ErrInvalidPIN
		default:
			if pinReq, guestPIN, ok := pinRequired(result); ok && pinReq {
				e.Kind = ErrPINRequired
				e.Reason = "PIN required"
				e.GuestPINNeeded = !equalFoldStr(guestPIN, "none")
			} else if status == http.StatusUnauthorized {
				e.Kind = ErrInvalidToken
			} else {
				e.Kind = ErrForbidden
			}
		}
	case status == http.StatusNotFound:
		e.Kind = ErrNotFound
	case status == http.StatusBadRequest || status == http.StatusUnsupportedMediaType ||
		status == http.StatusUnprocessableEntity || status == http.StatusRequestEntityTooLarge:
		e.Kind = ErrBadRequest
	case status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		e.Kind = ErrTransient
	default:
		e.Kind = ErrRefused
	}
	return e
}

// transientStatus reports whether an HTTP status is worth retrying.
func transientStatus(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}

// reasonOf returns result when it is a JSON string (clarification 6: then it is the reason,
// whatever status says).
func reasonOf(result []byte) string {
	if s, ok := jsonString(result); ok {
		return s
	}
	return ""
}

// pinRequired reads {"pin":"required","guest_pin":"none"}.
func pinRequired(result []byte) (required bool, guestPIN string, ok bool) {
	if len(result) == 0 || firstNonSpace(result) != '{' {
		return false, "", false
	}
	err := eachMember(result, func(key, val []byte) error {
		switch string(key) {
		case "pin":
			s := valString(val)
			required = equalFoldStr(s, "required")
			ok = true
		case "guest_pin":
			guestPIN = valString(val)
		}
		return nil
	})
	if err != nil {
		return false, "", false
	}
	return required, guestPIN, ok
}
