package relay

import (
	"context"
	"time"

	"github.com/meetbot/meetbot/store"
)

// What the Supervisor does when the platform disconnects the bot for good (a meeting ended, a
// host removed it), and the bookkeeping of meetings it stays out of for a while.

// exited stops a listener whose participant the platform disconnected for good. After an end,
// the relay keeps the lease and stays out of the meeting for RejoinAfterEnd. After a removal it
// pauses the meeting's links in the store (each channel was told) and hands the lease back once
// they are paused; until then it keeps the lease, so no replica rejoins.
func (s *Supervisor) exited(l *Listener, why exit) {
	s.mu.Lock()
	if s.lis[l.key] != l {
		s.mu.Unlock()
		return
	}
	delete(s.lis, l.key)
	s.setBusy(l.key)
	r := resting{until: time.Now().Add(s.rejoinAfterEnd())}
	if why == removed {
		r = resting{reason: "a host removed " + s.botName() + " from the meeting"}
	}
	s.rest[l.key] = r
	s.mu.Unlock()
	s.finish(l, drain, keepLease)
	s.report()
	if why == removed {
		ctx, cancel := context.WithTimeout(s.base, 5*time.Second)
		s.pauseResting(ctx, nil)
		cancel()
	} else {
		l.log.Info("the meeting ended; following the room again later", "in", s.rejoinAfterEnd())
	}
}

// setBusy marks meeting k busy (opening, or its listener stopping). Call with mu held.
func (s *Supervisor) setBusy(k string) {
	if s.busy[k] == nil {
		s.busy[k] = make(chan struct{})
	}
}

// clearBusy marks meeting k no longer busy and wakes whoever waits for it. Call with mu held.
func (s *Supervisor) clearBusy(k string) {
	if ch := s.busy[k]; ch != nil {
		close(ch)
		delete(s.busy, k)
	}
}

func (s *Supervisor) botName() string {
	if s.BotName == "" {
		return "meetbot"
	}
	return s.BotName
}

// pauseResting stores the pause of every meeting a host removed the bot from, and hands back
// the lease of those it paused; until the pause is stored (the database is unreachable) the
// lease stays held, so no replica rejoins meanwhile. With byMeeting (a resync's unpaused links),
// a removed meeting with no unpaused link left is done.
func (s *Supervisor) pauseResting(ctx context.Context, byMeeting map[string][]store.Link) {
	s.mu.Lock()
	var todo []string
	for k, r := range s.rest {
		if r.until.IsZero() {
			todo = append(todo, k)
		}
	}
	s.mu.Unlock()
	for _, k := range todo {
		s.mu.Lock()
		r, still := s.rest[k]
		s.mu.Unlock()
		if !still || !r.until.IsZero() {
			continue
		}
		if byMeeting != nil {
			if _, linked := byMeeting[k]; !linked {
				s.unrest(ctx, k) // paused (or unlinked) in the store already
				continue
			}
		}
		m, found := s.meetingOf(ctx, k, byMeeting)
		if !found {
			continue
		}
		if err := s.Store.PauseMeeting(ctx, m, r.reason); err != nil {
			s.logger().Warn("pause the links of a meeting the bot was removed from; will retry", "meeting", k, "err", err)
			continue
		}
		s.logger().Info("links paused: a host removed the bot", "meeting", k)
		s.unrest(ctx, k)
	}
}

// unrest ends the rest of meeting k and hands its lease back.
func (s *Supervisor) unrest(ctx context.Context, k string) {
	s.mu.Lock()
	delete(s.rest, k)
	s.mu.Unlock()
	s.leases.release(ctx, k)
}

// meetingOf finds the MeetingRef of key k among the links.
func (s *Supervisor) meetingOf(ctx context.Context, k string, byMeeting map[string][]store.Link) (store.MeetingRef, bool) {
	if ls := byMeeting[k]; len(ls) > 0 {
		return ls[0].Meeting, true
	}
	links, err := s.Store.AllLinks(ctx)
	if _, ok := unreadableLinks(err); err != nil && !ok {
		return store.MeetingRef{}, false
	}
	for _, l := range links {
		if l.Meeting.Key() == k {
			return l.Meeting, true
		}
	}
	return store.MeetingRef{}, false
}
