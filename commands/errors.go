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

// safeMessage returns the line to show for err and whether it is safe to show. Errors that are not
// safe are answered with a reference and logged.
func safeMessage(err error) (string, bool) {
	var um interface{ UserMessage() string }
	if errors.As(err, &um) {
		return um.UserMessage(), true
	}
	var me *meetings.Error
	if errors.As(err, &me) {
		reason := me.Reason
		if reason == "" {
			reason = "no reason given"
		}
		switch {
		case errors.Is(me, meetings.ErrTransient):
			return fmt.Sprintf("The meeting platform is not answering (%s); try again in a moment.", reason), true
		case errors.Is(me, meetings.ErrPINRequired):
			return "The room needs a PIN. Try: link <room> <pin>", true
		}
		return fmt.Sprintf("The platform answered: %s.", reason), true
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notLinked, true
	case errors.Is(err, store.ErrWrongKey):
		return "This channel's link was sealed under another secret key, so the bot cannot read its PIN. Link the channel again.", true
	case errors.Is(err, meetings.ErrSessionClosed):
		return "The bot's session in the meeting has just closed; try again in a moment.", true
	case errors.Is(err, context.DeadlineExceeded):
		return "The meeting platform took too long to answer; try again in a moment.", true
	}
	return "", false
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
