package relay

import (
	"errors"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// linkPaused reports whether l is paused (a host removed the bot; `link` again resumes it).
func linkPaused(l store.Link) bool { return l.Paused }

// unreadableLinks reports whether err says only that some links could not be unsealed, and
// names their channels; the links returned with it are good.
func unreadableLinks(err error) ([]chat.ChannelRef, bool) {
	var ue *store.UnreadableLinksError
	if errors.As(err, &ue) {
		return ue.Channels, true
	}
	return nil, false
}
