package relay

import (
	"context"
	"sync"
	"time"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
)

// botParticipants is the part of the store that records the bot's own participants for every
// replica.
type botParticipants = store.Bots

// bots knows the bot's own participants by uuid, never by name: a guest who calls themselves
// like the bot is a guest. Its own sessions it knows at once; other replicas' it learns from the
// store, which each replica writes when it opens a session and clears when it closes one.
type bots struct {
	reg botParticipants // nil: only this replica's sessions are known

	mu     sync.Mutex
	local  map[string]map[string]bool // meeting key → uuids of this replica's sessions
	remote map[string]map[string]bool // meeting key → uuids the store last named
}

func newBots(reg botParticipants) *bots {
	return &bots{reg: reg, local: map[string]map[string]bool{}, remote: map[string]map[string]bool{}}
}

// is reports whether uuid is one of the bot's participants in meeting key, as last known. It does
// no I/O.
func (b *bots) is(key, uuid string) bool {
	if uuid == "" {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.local[key][uuid] || b.remote[key][uuid]
}

// add records a session of this replica in meeting key.
func (b *bots) add(ctx context.Context, key, uuid string) error {
	if uuid == "" {
		return nil
	}
	b.mu.Lock()
	if b.local[key] == nil {
		b.local[key] = map[string]bool{}
	}
	b.local[key][uuid] = true
	b.mu.Unlock()
	if b.reg == nil {
		return nil
	}
	return b.reg.AddBotParticipant(ctx, key, uuid)
}

// remove forgets a session of this replica in meeting key.
func (b *bots) remove(ctx context.Context, key, uuid string) error {
	if uuid == "" {
		return nil
	}
	b.mu.Lock()
	delete(b.local[key], uuid)
	if len(b.local[key]) == 0 {
		delete(b.local, key)
	}
	b.mu.Unlock()
	if b.reg == nil {
		return nil
	}
	return b.reg.RemoveBotParticipant(ctx, key, uuid)
}

// among asks the store afresh which of uuids are the bot's participants in meeting key; when the
// store cannot say, it answers from what it knew.
func (b *bots) among(ctx context.Context, key string, uuids []string) map[string]bool {
	if b.reg != nil {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ids, err := b.reg.BotParticipants(ctx, key)
		cancel()
		if err == nil {
			set := make(map[string]bool, len(ids))
			for _, id := range ids {
				set[id] = true
			}
			b.mu.Lock()
			b.remote[key] = set
			b.mu.Unlock()
		}
	}
	out := map[string]bool{}
	for _, u := range uuids {
		if b.is(key, u) {
			out[u] = true
		}
	}
	return out
}

// isBot reports whether p is one of the bot's own participants in meeting key: sess's current
// one, or any other session of any replica. It is the one place that decides it.
func (s *Supervisor) isBot(key string, sess *meetings.Session, p meetings.Participant) bool {
	if p.UUID == "" {
		return false
	}
	if sess != nil && p.UUID == sess.ParticipantUUID() {
		return true
	}
	return s.bots.is(key, p.UUID)
}

// botsAmong reports which of uuids are the bot's participants in meeting key, asking the store.
func (s *Supervisor) botsAmong(ctx context.Context, key string, sess *meetings.Session, uuids []string) map[string]bool {
	out := s.bots.among(ctx, key, uuids)
	if sess != nil {
		self := sess.ParticipantUUID()
		for _, u := range uuids {
			if u == self {
				out[u] = true
			}
		}
	}
	return out
}

// recordBot records sess's participant for meeting key, again when the session started over with
// a new participant (new_session gives a new uuid).
func (s *Supervisor) recordBot(ctx context.Context, key string, sess *meetings.Session) {
	uuid := sess.ParticipantUUID()
	s.mu.Lock()
	old, ok := s.recorded[sess]
	if ok && old == uuid {
		s.mu.Unlock()
		return
	}
	s.recorded[sess] = uuid
	s.mu.Unlock()
	if err := s.bots.add(ctx, key, uuid); err != nil {
		s.logger().Warn("record the bot's participant; will retry", "meeting", key, "err", err)
		s.mu.Lock()
		delete(s.recorded, sess)
		s.mu.Unlock()
		return
	}
	if ok && old != "" {
		_ = s.bots.remove(ctx, key, old)
	}
}

// forgetBot removes sess's participant from the bot's participants of meeting key (the session
// was closed).
func (s *Supervisor) forgetBot(ctx context.Context, key string, sess *meetings.Session) {
	s.mu.Lock()
	uuid, ok := s.recorded[sess]
	delete(s.recorded, sess)
	s.mu.Unlock()
	if !ok {
		uuid = sess.ParticipantUUID()
	}
	if err := s.bots.remove(ctx, key, uuid); err != nil && ctx.Err() == nil {
		s.logger().Warn("forget the bot's participant; it stays recorded until the meeting's next listener", "meeting", key, "err", err)
	}
}
