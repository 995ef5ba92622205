package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/meetbot/meetbot/chat"
)

// callBatch is the most participants one calls.participants.add or .remove request carries: a
// join storm of 500 is five requests, not 500.
const callBatch = 100

// callCard is one Slack Call that mirrors one occurrence of a meeting in one channel: created
// with calls.add, shown by a `call` block, its roster kept by a background loop that sends the
// difference between who is in the meeting and who Slack shows, a batch at a time, at most one
// request every callGap, waiting out rate limits. The loop ends the call when the meeting ends.
type callCard struct {
	ch         chat.ChannelRef
	occurrence string
	id         string    // Slack's call id
	started    time.Time // the meeting's start, for the duration at the end
	ts         string    // the call message, once posted: the thread of a threaded channel

	mu      sync.Mutex
	want    map[string]slackgo.CallParticipant // external_id → who should be shown
	have    map[string]slackgo.CallParticipant // what Slack shows
	end     *time.Duration                     // set when the meeting ended
	running bool
}

// callable reports whether m can be a Slack Call here: the token has calls:write, the core
// gave a join page and an occurrence id, and the bot knows its own user id (created_by).
func (a *Adapter) callable(m chat.MeetingState) bool {
	s := a.surfaceSet()
	return s.has(scopeCallsWrite) && s.botID != "" && m.Occurrence != "" && joinButton(m.JoinURL) != nil
}

// participantID is the call participant's external_id. It is derived from the display name, not
// the platform's participant id, so someone who leaves and rejoins (a new participant id) is one
// entry on the card; two people of the same name are one entry too, which the card could not
// tell apart anyway.
func participantID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "mb-" + hex.EncodeToString(sum[:8])
}

// roster is who the call card should show: everyone in the meeting (room systems and phones
// too, as external users with their display names), not those in the waiting room.
func roster(m chat.MeetingState) map[string]slackgo.CallParticipant {
	out := map[string]slackgo.CallParticipant{}
	add := func(name string) {
		name = strings.TrimSpace(oneLine(name))
		if name == "" {
			name = "Participant"
		}
		name = truncate(name, 80)
		id := participantID(name)
		out[id] = slackgo.CallParticipant{ExternalID: id, DisplayName: name}
	}
	if len(m.People) > 0 {
		for _, p := range m.People {
			if !p.Waiting {
				add(p.Name)
			}
		}
		return out
	}
	for _, n := range m.Present {
		add(n)
	}
	return out
}

// syncCall brings the channel's call card up to date with m: the first time it creates the Slack
// Call for m's occurrence (calls.add, with the first batch of the roster), until it succeeds it
// posts the call's `call` block in the channel, and every time it hands the roster to the loop. A rate limit comes back as
// *chat.RateLimitError (the relay retries the notification); any other refusal of calls.add
// turns the call card off for this occurrence (errCallRefused), and the channel gets the status
// message instead.
func (a *Adapter) syncCall(ctx context.Context, st *channelState, ch chat.ChannelRef, m chat.MeetingState) error {
	if st.call == nil {
		start := m.Started
		if start.IsZero() {
			start = a.now()
		}
		want := roster(m)
		first := firstBatch(want)
		call, err := a.api.AddCallContext(ctx, slackgo.AddCallParameters{
			JoinURL:          m.JoinURL,
			ExternalUniqueID: m.Occurrence,
			CreatedBy:        a.surfaceSet().botID,
			Title:            truncate(oneLine(meetingName(m)), 200),
			DateStart:        slackgo.JSONTime(start.Unix()),
			Participants:     first,
		})
		if err != nil {
			mapped := a.mapError(ch, err)
			var rl *chat.RateLimitError
			if errors.As(mapped, &rl) || errors.Is(mapped, chat.ErrChannelGone) {
				return fmt.Errorf("calls.add for %s: %w", ch, mapped)
			}
			st.callRefused = m.Occurrence
			a.log.Warn("calls.add refused; this meeting gets the status message", "channel", ch.String(), "err", err)
			return errCallRefused
		}
		c := &callCard{ch: ch, occurrence: m.Occurrence, id: call.ID, started: start,
			want: want, have: map[string]slackgo.CallParticipant{}}
		for _, p := range first {
			c.have[p.ExternalID] = p
		}
		st.call = c
		a.log.Info("call card started", "channel", ch.String(), "call", call.ID)
	}
	c := st.call
	if c.ts == "" {
		ts, err := a.postMessage(ctx, ch, renderCall(m, c.id), "")
		if err != nil {
			return err // the call stays; the retry posts its block
		}
		c.ts = ts
	}
	a.setRoster(c, roster(m))
	return nil
}

// renderCall is the call card's message: Slack draws the card (title, roster, Join) from the
// call itself; the text is the notification fallback.
func renderCall(m chat.MeetingState, callID string) message {
	return message{
		Text:   fmt.Sprintf("Meeting in progress: %s", nameText(meetingName(m))),
		Blocks: []slackgo.Block{slackgo.NewCallBlock(callID)},
	}
}

// errCallRefused: Slack would not create the call; the channel gets the status message.
var errCallRefused = errors.New("call card refused")

// firstBatch is the part of want that calls.add carries, in a stable order.
func firstBatch(want map[string]slackgo.CallParticipant) []slackgo.CallParticipant {
	all := sortedParticipants(want)
	return all[:min(len(all), callBatch)]
}

func sortedParticipants(m map[string]slackgo.CallParticipant) []slackgo.CallParticipant {
	out := make([]slackgo.CallParticipant, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].DisplayName+out[i].ExternalID < out[j].DisplayName+out[j].ExternalID
	})
	return out
}

// setRoster asks the card to show want, starting its loop if idle.
func (a *Adapter) setRoster(c *callCard, want map[string]slackgo.CallParticipant) {
	c.mu.Lock()
	if c.end == nil {
		c.want = want
	}
	a.kickCall(c)
	c.mu.Unlock()
}

// endCall asks the card's loop to end the call (calls.end with the meeting's duration).
func (a *Adapter) endCall(c *callCard, now time.Time) {
	d := now.Sub(c.started)
	if d < 0 {
		d = 0
	}
	c.mu.Lock()
	c.end = &d
	a.kickCall(c)
	c.mu.Unlock()
}

// kickCall starts c's loop unless it runs. c.mu is held.
func (a *Adapter) kickCall(c *callCard) {
	if c.running {
		return
	}
	c.running = true
	a.work.Add(1)
	go func() {
		defer a.work.Done()
		a.callLoop(a.base, c)
	}()
}

// callLoop sends roster differences, removes before adds, one batch per request, until Slack
// shows what is wanted; once the meeting ended it ends the call instead. It gives up after five
// failures in a row; a rate limit is waited out and is not a failure.
func (a *Adapter) callLoop(ctx context.Context, c *callCard) {
	var last time.Time
	failures := 0
	for {
		if wait := a.callGap - time.Since(last); !last.IsZero() && wait > 0 && !sleep(ctx, wait) {
			break
		}
		c.mu.Lock()
		end := c.end
		var method string
		var batch []slackgo.CallParticipant
		if end == nil {
			for _, p := range sortedParticipants(c.have) {
				if _, ok := c.want[p.ExternalID]; !ok && len(batch) < callBatch {
					batch = append(batch, p) // the whole object: Slack ignores a remove by external_id alone
				}
			}
			method = "calls.participants.remove"
			if len(batch) == 0 {
				method = "calls.participants.add"
				for _, p := range sortedParticipants(c.want) {
					if _, ok := c.have[p.ExternalID]; !ok && len(batch) < callBatch {
						batch = append(batch, p)
					}
				}
			}
			if len(batch) == 0 {
				c.running = false
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()

		var err error
		switch {
		case end != nil:
			method = "calls.end"
			err = a.api.EndCallContext(ctx, c.id, slackgo.EndCallParameters{Duration: max(*end, time.Second)})
		case method == "calls.participants.remove":
			err = a.api.CallRemoveParticipantsContext(ctx, c.id, batch)
		default:
			err = a.api.CallAddParticipantsContext(ctx, c.id, batch)
		}
		last = time.Now()
		if err == nil {
			failures = 0
			if end != nil {
				a.log.Info("call card ended", "channel", c.ch.String(), "call", c.id, "duration", end.Round(time.Second))
				c.mu.Lock()
				c.running = false
				c.mu.Unlock()
				return
			}
			c.mu.Lock()
			for _, p := range batch {
				if method == "calls.participants.add" {
					c.have[p.ExternalID] = p
				} else {
					delete(c.have, p.ExternalID)
				}
			}
			c.mu.Unlock()
			continue
		}
		mapped := a.mapError(c.ch, err)
		var rl *chat.RateLimitError
		if errors.As(mapped, &rl) {
			if !sleep(ctx, rl.RetryAfter) {
				break
			}
			continue
		}
		failures++
		if errors.Is(mapped, chat.ErrChannelGone) {
			failures = 5
		}
		if failures >= 5 || ctx.Err() != nil {
			a.log.Error("gave up keeping the call card", "channel", c.ch.String(), "call", c.id, "method", method, "err", err)
			break
		}
		a.log.Warn("call card request failed; will retry", "channel", c.ch.String(), "method", method, "err", err)
		if !sleep(ctx, time.Duration(failures)*time.Second) {
			break
		}
	}
	c.mu.Lock()
	c.running = false
	c.mu.Unlock()
}

// meetingName is what a message calls the meeting.
func meetingName(m chat.MeetingState) string {
	switch {
	case m.Name != "":
		return m.Name
	case m.Room != "":
		return m.Room
	}
	return "the meeting"
}
