package commands

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
)

// notLinked is the line for a command that needs a linked meeting in a channel without one.
const notLinked = "This channel is not linked to a meeting. Try: link <room> [pin]"

// userError is a failure whose message is meant for the user: bad input, a refusal, a name that
// matches no one. Its message is one clear line.
type userError struct{ msg string }

func (e *userError) Error() string { return e.msg }

// UserMessage returns the line to show the user.
func (e *userError) UserMessage() string { return e.msg }

// userErrorf returns a *userError with a formatted message.
func userErrorf(format string, args ...any) error {
	return &userError{msg: fmt.Sprintf(format, args...)}
}

// replyError carries a whole reply in place of an error line: the choices of an ambiguous name.
// The command did nothing.
type replyError struct {
	reply   chat.Reply
	outcome string // for the audit log
}

func (e *replyError) Error() string { return e.outcome }

// panicError stands for a handler that panicked; the panic is logged with its stack under ref.
type panicError struct{ ref string }

func (e *panicError) Error() string { return "handler panicked (ref " + e.ref + ")" }

// outcome is how a request ended. The Observer (metrics) and the dispatcher read it; it is decided
// from the error's type, never from the reply's words.
type outcome string

const (
	outcomeOK      outcome = "ok"      // the command did what was asked
	outcomeFailed  outcome = "failed"  // it ran and did not do what was asked, with a line saying why
	outcomeRefused outcome = "refused" // refused before it ran: rights, usage, node kind, no link
	outcomeConfirm outcome = "confirm" // it asked to confirm first
	// outcomeUnknown: a command that is not safe to repeat was sent and not confirmed.
	outcomeUnknown outcome = "unknown"
	// outcomeUnavailable: the platform or the bot's database did not answer; nothing was done.
	outcomeUnavailable outcome = "unavailable"
	outcomeError       outcome = "error" // answered with a reference, logged
	outcomePanic       outcome = "panic" // the handler panicked; answered with a reference
)

// Lines for the failures a user cannot fix by typing differently, but can wait out or check.
const (
	platformUnresponsiveLine = "The meeting's platform is not answering; try again in a minute."
	storeUnavailableLine     = "The bot's database is unavailable right now; try again shortly."
)

// explain returns the line to show for err from command, and the outcome it stands for. Errors
// that are not safe to show come back as ("", outcomeError): the caller answers with a reference
// and logs them. The checks go from the most specific to the least: a platform error may carry
// ErrOutcomeUnknown as its kind, and must not be reported as the platform's plain answer.
func explain(err error, command string) (string, outcome) {
	switch {
	case errors.Is(err, meetings.ErrOutcomeUnknown):
		return fmt.Sprintf("The platform did not confirm the %s; check `who` before trying again.", command), outcomeUnknown
	case errors.Is(err, meetings.ErrPlatformUnresponsive):
		return platformUnresponsiveLine, outcomeUnavailable
	case errors.Is(err, store.ErrUnavailable):
		return storeUnavailableLine, outcomeUnavailable
	}
	var um interface{ UserMessage() string }
	if errors.As(err, &um) {
		return um.UserMessage(), outcomeFailed
	}
	var me *meetings.Error
	if errors.As(err, &me) {
		reason := me.Reason
		if reason == "" {
			reason = "no reason given"
		}
		switch {
		case errors.Is(me, meetings.ErrTransient):
			return fmt.Sprintf("The meeting platform is not answering (%s); try again in a moment.", reason), outcomeUnavailable
		case errors.Is(me, meetings.ErrPINRequired):
			return "The room needs a PIN. Try: link <room> <pin>", outcomeFailed
		}
		return fmt.Sprintf("The platform answered: %s.", reason), outcomeFailed
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notLinked, outcomeFailed
	case errors.Is(err, store.ErrWrongKey):
		return "This channel's link was sealed under another secret key, so the bot cannot read its PIN. Link the channel again.", outcomeFailed
	case errors.Is(err, meetings.ErrSessionClosed):
		return "The bot's session in the meeting has just closed; try again in a moment.", outcomeFailed
	case errors.Is(err, context.DeadlineExceeded):
		return "The meeting platform took too long to answer; try again in a moment.", outcomeUnavailable
	}
	return "", outcomeError
}

// newRef returns a short reference that ties a reply to its log line.
func newRef() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
