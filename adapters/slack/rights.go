package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/meetbot/meetbot/chat"
)

// Rights tells what user may do in ch now (chat.RightsResolver):
//
//   - a deactivated or unknown user: chat.Anyone (help only);
//   - a workspace admin or owner (users.info): chat.Admin (link, unlink, notify, and all a host may);
//   - a user named in Config.Hosts, or a member of a user group named there: chat.Host;
//   - anyone else: chat.Member.
//
// Answers are cached for a few minutes. If a lookup fails, Rights returns the rights it could
// establish without it (Host for a user named directly, else Member) together with the error.
func (a *Adapter) Rights(ctx context.Context, ch chat.ChannelRef, user chat.UserRef) (chat.Rights, error) {
	if ch.Workspace != "" && a.teamGone(ch.Workspace) {
		return chat.Anyone, fmt.Errorf("rights of %s in %s: %w", user.ID, ch, chat.ErrChannelGone)
	}
	r, err := a.rights.resolve(ctx, user.ID)
	if err != nil {
		return r, fmt.Errorf("rights of %s in %s: %w", user.ID, ch, err)
	}
	return r, nil
}

// rightsCache resolves and caches users' rights and user groups' members.
type rightsCache struct {
	api   *slackgo.Client
	users map[string]bool // user ids named in Hosts
	group []string        // user-group ids named in Hosts
	now   func() time.Time
	ttl   time.Duration

	mu      sync.Mutex
	info    map[string]userEntry  // user id → users.info facts
	members map[string]groupEntry // group id → members
}

type userEntry struct {
	admin, deleted bool
	until          time.Time
}

type groupEntry struct {
	members map[string]bool
	until   time.Time
}

func newRightsCache(api *slackgo.Client, hosts []string, now func() time.Time, ttl time.Duration) *rightsCache {
	c := &rightsCache{api: api, users: map[string]bool{}, now: now, ttl: ttl,
		info: map[string]userEntry{}, members: map[string]groupEntry{}}
	for _, id := range hosts {
		if strings.HasPrefix(id, "S") {
			c.group = append(c.group, id)
		} else {
			c.users[id] = true
		}
	}
	return c
}

// resolve maps a user to rights; see Adapter.Rights.
func (c *rightsCache) resolve(ctx context.Context, user string) (chat.Rights, error) {
	if user == "" {
		return chat.Anyone, nil
	}
	fallback := chat.Member
	if c.users[user] {
		fallback = chat.Host
	}
	u, err := c.userInfo(ctx, user)
	if err != nil {
		var se slackgo.SlackErrorResponse
		if errors.As(err, &se) && se.Err == "user_not_found" {
			return chat.Anyone, nil
		}
		return fallback, err
	}
	switch {
	case u.deleted:
		return chat.Anyone, nil
	case u.admin:
		return chat.Admin, nil
	case c.users[user]:
		return chat.Host, nil
	}
	var errs []error
	for _, g := range c.group {
		in, err := c.inGroup(ctx, g, user)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if in {
			return chat.Host, nil
		}
	}
	return chat.Member, errors.Join(errs...)
}

func (c *rightsCache) userInfo(ctx context.Context, user string) (userEntry, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.info[user]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e, nil
	}
	u, err := c.api.GetUserInfoContext(ctx, user)
	if err != nil {
		return userEntry{}, fmt.Errorf("users.info %s: %w", user, err)
	}
	e = userEntry{admin: u.IsAdmin || u.IsOwner || u.IsPrimaryOwner, deleted: u.Deleted, until: now.Add(c.ttl)}
	c.mu.Lock()
	c.info[user] = e
	c.mu.Unlock()
	return e, nil
}

func (c *rightsCache) inGroup(ctx context.Context, group, user string) (bool, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.members[group]
	c.mu.Unlock()
	if !ok || !now.Before(e.until) {
		ids, err := c.api.GetUserGroupMembersContext(ctx, group)
		if err != nil {
			return false, fmt.Errorf("usergroups.users.list %s: %w", group, err)
		}
		e = groupEntry{members: make(map[string]bool, len(ids)), until: now.Add(c.ttl)}
		for _, id := range ids {
			e.members[id] = true
		}
		c.mu.Lock()
		c.members[group] = e
		c.mu.Unlock()
	}
	return e.members[user], nil
}
