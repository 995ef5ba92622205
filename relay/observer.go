package relay

import (
	"time"

	"github.com/meetbot/meetbot/chat"
)

// Observer receives metrics hooks from a Supervisor. Its methods are called from many goroutines
// and must not block; a nil Observer is allowed everywhere.
type Observer interface {
	// NotificationPosted is called after a notification covering events events was posted to
	// ch; latency runs from the oldest of those events to the end of the post.
	NotificationPosted(ch chat.ChannelRef, events int, latency time.Duration)
	// PostFailed is called for each refused post that will be retried or given up on.
	PostFailed(ch chat.ChannelRef, err error)
	// NotificationDropped is called when notices covering events events will never reach ch:
	// the chat service refused their message for good (err wraps chat.ErrMessageRefused), or
	// more waited for the channel than the outbox keeps.
	NotificationDropped(ch chat.ChannelRef, events int, err error)
	// StreamReconnected is called when a listener's event stream comes back after a drop.
	StreamReconnected(meeting string)
	// Listening is called with the number of meetings this replica listens to, when it changes.
	Listening(n int)
}
