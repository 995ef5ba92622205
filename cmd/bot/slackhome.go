package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/meetbot/meetbot/adapters/slack"
	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/joinurl"
	"github.com/meetbot/meetbot/store"
)

// slackHome gives the Slack Home tab its meetings: the store's links of one workspace, each with
// a join page from MEET_JOIN_URL, and what is live from Live.
type slackHome struct {
	Links   store.Links
	JoinURL joinurl.Template
	// Live returns the state of a meeting the relay follows now, ok false when it follows none.
	// Nil shows every meeting as not live. cmd/bot wires it to relay.Supervisor.Live.
	Live func(ctx context.Context, m store.MeetingRef) (state chat.MeetingState, ok bool)
	Log  *slog.Logger
}

var _ slack.HomeSource = slackHome{}

// LinkedMeetings lists the links of Slack workspace team. Links whose PIN cannot be read are
// still links, but AllLinks does not return them; they are left out with a warning.
func (h slackHome) LinkedMeetings(ctx context.Context, team string) ([]slack.HomeMeeting, error) {
	links, err := h.Links.AllLinks(ctx)
	var ue *store.UnreadableLinksError
	if errors.As(err, &ue) {
		h.Log.Warn("home tab: some links are unreadable and not shown", "err", err)
	} else if err != nil {
		return nil, fmt.Errorf("home tab links: %w", err)
	}
	var out []slack.HomeMeeting
	for _, l := range links {
		if l.Channel.Platform != slack.Platform || l.Channel.Workspace != team {
			continue
		}
		name := l.Name
		if name == "" {
			name = l.Meeting.Room
		}
		hm := slack.HomeMeeting{Channel: l.Channel, Name: name}
		if u, ok := h.JoinURL.Expand(joinurl.FromRoom(l.Meeting.Room, l.Name)); ok {
			hm.JoinURL = u
		}
		if h.Live != nil {
			if st, ok := h.Live(ctx, l.Meeting); ok && !st.Ended {
				hm.Live, hm.Present, hm.Locked = true, st.Present, st.Locked
				for _, p := range st.People {
					hm.Recording = hm.Recording || p.Streaming
				}
			}
		}
		out = append(out, hm)
	}
	return out, nil
}
