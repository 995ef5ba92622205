package matrix

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
)

// pendingChoices remembers, per room and user, the last numbered choices or confirmation the bot
// offered, so "!meet 2" or "!meet confirm" can pick them up. Safe for concurrent use.
type pendingChoices struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[pendingKey]offer
}

type pendingKey struct {
	room id.RoomID
	user id.UserID
}

type offer struct {
	target  id.RoomID // the room the offered commands act on
	choices []chat.Action
	confirm *chat.Confirm
	at      time.Time
}

func newPendingChoices(ttl time.Duration, now func() time.Time) *pendingChoices {
	return &pendingChoices{ttl: ttl, now: now, m: make(map[pendingKey]offer)}
}

// remember keeps what reply offers; a reply offering nothing forgets the previous offer.
func (p *pendingChoices) remember(room id.RoomID, user id.UserID, target id.RoomID, reply chat.Reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := pendingKey{room, user}
	if len(reply.Choices) == 0 && reply.Confirm == nil {
		delete(p.m, k)
		return
	}
	p.m[k] = offer{target: target, choices: reply.Choices, confirm: reply.Confirm, at: p.now()}
	// Drop stale offers now and then, so the map does not grow with every user ever seen.
	if len(p.m) > 256 {
		for k, o := range p.m {
			if p.now().Sub(o.at) > p.ttl {
				delete(p.m, k)
			}
		}
	}
}

// pick maps "2", "confirm" or "yes" to the command offered to this user in this room. found is
// false when text is no pick or nothing fresh was offered; then text goes to the core unchanged.
// A number out of range answers with a hint instead (hint != "").
func (p *pendingChoices) pick(room id.RoomID, user id.UserID, text string) (cmd string, target id.RoomID, hint string, found bool) {
	t := strings.ToLower(strings.TrimSpace(text))
	n, numErr := strconv.Atoi(t)
	isConfirm := t == "confirm" || t == "yes"
	if numErr != nil && !isConfirm {
		return "", "", "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := pendingKey{room, user}
	o, ok := p.m[k]
	if !ok || p.now().Sub(o.at) > p.ttl {
		delete(p.m, k)
		return "", "", "", false
	}
	switch {
	case isConfirm && o.confirm != nil:
		delete(p.m, k)
		return o.confirm.Command, o.target, "", true
	case numErr == nil && len(o.choices) > 0:
		if n < 1 || n > len(o.choices) {
			return "", "", "Pick a number from 1 to " + strconv.Itoa(len(o.choices)) + ".", true
		}
		delete(p.m, k)
		return o.choices[n-1].Command, o.target, "", true
	}
	return "", "", "", false
}
