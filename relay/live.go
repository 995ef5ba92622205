package relay

import (
	"context"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// Live returns the state of meeting m as this replica's listener sees it now (who is in, locked,
// recording), ok false when this replica does not follow it. Slack's Home tab reads it.
func (s *Supervisor) Live(_ context.Context, m store.MeetingRef) (chat.MeetingState, bool) {
	s.mu.Lock()
	l := s.lis[m.Key()]
	s.mu.Unlock()
	if l == nil || l.tr == nil {
		return chat.MeetingState{}, false
	}
	st := l.currentState()
	return st, !st.Ended
}
