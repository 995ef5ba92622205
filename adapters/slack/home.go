package slack

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/meetbot/meetbot/chat"
)

// HomeSource gives the App Home tab its meetings. cmd/bot implements it over the store (the
// links) and the relay (who is in now).
type HomeSource interface {
	// LinkedMeetings returns the meetings linked to channels of Slack workspace team, in the
	// order to show them. The adapter shows a viewer only those in channels they are a member of.
	LinkedMeetings(ctx context.Context, team string) ([]HomeMeeting, error)
}

// HomeMeeting is one linked meeting as the Home tab shows it.
type HomeMeeting struct {
	Channel chat.ChannelRef
	Name    string // the conference name (or the room, when it has none)
	// Live is set when the relay follows the meeting now; Present, Locked and Recording are
	// known only then.
	Live      bool
	Present   []string // display names of who is in now
	Locked    bool
	Recording bool   // someone records or streams
	JoinURL   string // from MEET_JOIN_URL; empty for no Join button
}

// maxHomeMeetings bounds the meetings one Home tab lists (Slack allows 100 blocks in a view).
const maxHomeMeetings = 30

// publishHome publishes user's Home tab in team: the meetings linked there in channels user is
// a member of. Channels whose membership cannot be checked are left out: nothing about a channel
// the viewer is not in.
func (a *Adapter) publishHome(ctx context.Context, team, user string) {
	if a.cfg.Home == nil || a.teamGone(team) {
		return
	}
	all, err := a.cfg.Home.LinkedMeetings(ctx, team)
	if err != nil {
		a.log.Warn("home tab: linked meetings not readable; showing what was read", "team", team, "err", err)
	}
	var shown []HomeMeeting
	for _, m := range all {
		if m.Channel.Platform != Platform || m.Channel.Workspace != team {
			continue
		}
		in, err := a.members.isMember(ctx, m.Channel.Channel, user)
		if err != nil {
			// Without channels:read (an app not reinstalled from the new manifest) this fails
			// for every channel on every open: say it once in a while.
			if ok, held := a.logs.allow("home-members", a.now()); ok {
				a.log.Warn("home tab: membership not checked; channel left out (does the token have channels:read and groups:read?)",
					"channel", m.Channel.String(), "err", err, "similar_not_logged", held)
			}
			continue
		}
		if in {
			shown = append(shown, m)
		}
	}
	view := slackgo.HomeTabViewRequest{Type: slackgo.VTHomeTab, Blocks: slackgo.Blocks{BlockSet: renderHome(shown)}}
	if _, err := a.api.PublishViewContext(ctx, slackgo.PublishViewContextRequest{UserID: user, View: view}); err != nil {
		a.log.Warn("home tab not published", "team", team, "user", user, "err", a.mapError(chat.ChannelRef{Platform: Platform, Workspace: team}, err))
	}
}

// renderHome renders the Home tab's blocks for the meetings a viewer may see.
func renderHome(ms []HomeMeeting) []slackgo.Block {
	blocks := []slackgo.Block{
		slackgo.NewHeaderBlock(plain("Your meetings")),
	}
	if len(ms) == 0 {
		return append(blocks, slackgo.NewSectionBlock(mrkdwn(
			"No meeting is linked to a channel you are in. In a channel, `/meet link <room>` links one."), nil, nil))
	}
	for i, m := range ms {
		if i == maxHomeMeetings {
			blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more", len(ms)-i))))
			break
		}
		name := m.Name
		if name == "" {
			name = "a meeting"
		}
		head := fmt.Sprintf("*%s* in <#%s>", nameText(name), m.Channel.Channel)
		var facts string
		switch {
		case !m.Live:
			facts = ":white_circle: Nobody in the meeting"
		default:
			facts = fmt.Sprintf(":large_green_circle: *In the meeting (%d):* %s", len(m.Present), nameList(m.Present, 15))
			if m.Locked {
				facts += "\n:lock: Locked"
			}
			if m.Recording {
				facts += "\n:red_circle: Recording"
			}
		}
		var acc *slackgo.Accessory
		if b := joinButton(m.JoinURL); b != nil {
			b.ActionID = fmt.Sprintf("mb-join-%d", i)
			acc = slackgo.NewAccessory(b)
		}
		blocks = append(blocks, slackgo.NewDividerBlock(),
			slackgo.NewSectionBlock(mrkdwn(truncateEscaped(head+"\n"+facts, maxSectionText)), nil, acc))
	}
	return blocks
}

// memberCache answers whether a user is a member of a channel (conversations.members), caching
// each channel's members for a short while: the Home tab is opened often, by many viewers.
type memberCache struct {
	api *slackgo.Client
	now func() time.Time
	ttl time.Duration

	mu    sync.Mutex
	chans map[string]memberEntry
}

type memberEntry struct {
	members map[string]bool
	until   time.Time
}

func newMemberCache(api *slackgo.Client, now func() time.Time, ttl time.Duration) *memberCache {
	return &memberCache{api: api, now: now, ttl: ttl, chans: map[string]memberEntry{}}
}

// maxMemberPages bounds the conversations.members pages read for one channel (1,000 each).
const maxMemberPages = 50

// errTooManyMembers: a channel too large to list is not shown (membership unknown).
var errTooManyMembers = errors.New("channel has too many members to check")

func (c *memberCache) isMember(ctx context.Context, channel, user string) (bool, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.chans[channel]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.members[user], nil
	}
	e = memberEntry{members: map[string]bool{}, until: now.Add(c.ttl)}
	cursor := ""
	for page := 0; ; page++ {
		if page == maxMemberPages {
			return false, fmt.Errorf("conversations.members %s: %w", channel, errTooManyMembers)
		}
		ids, next, err := c.api.GetUsersInConversationContext(ctx, &slackgo.GetUsersInConversationParameters{
			ChannelID: channel, Cursor: cursor, Limit: 1000})
		if err != nil {
			return false, fmt.Errorf("conversations.members %s: %w", channel, err)
		}
		for _, id := range ids {
			e.members[id] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	c.mu.Lock()
	c.chans[channel] = e
	c.mu.Unlock()
	return e.members[user], nil
}
