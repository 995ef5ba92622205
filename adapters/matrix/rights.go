package matrix

import (
	"context"
	"errors"
	"fmt"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
)

// rightsFor maps a room member's power level to rights: at or above the level needed to kick is a
// host; at or above the level needed to change room state (state_default) is a channel admin;
// any other member is a member. Room version 12 creators have unlimited power, which
// PowerLevelsEventContent knows when its CreateEvent is set. pl may be nil for a room without power
// levels, where only the creator (named by create, which may be nil) has power.
func rightsFor(pl *event.PowerLevelsEventContent, create *event.Event, user id.UserID, member bool) chat.Rights {
	if !member {
		return chat.Anyone
	}
	if pl == nil {
		// Without m.room.power_levels the creator has 100 and everyone else 0.
		if create != nil && create.Sender == user {
			return chat.Admin
		}
		return chat.Member
	}
	level := pl.GetUserLevel(user)
	switch {
	case level >= pl.StateDefault():
		return chat.Admin
	case level >= pl.Kick():
		return chat.Host
	}
	return chat.Member
}

// Rights tells what user may do in the Matrix room ch now, from the room's power levels. It
// implements chat.RightsResolver.
func (a *Adapter) Rights(ctx context.Context, ch chat.ChannelRef, user chat.UserRef) (chat.Rights, error) {
	if ch.Platform != Platform {
		return chat.Anyone, fmt.Errorf("rights in %s: not a Matrix room", ch)
	}
	return a.rightsIn(ctx, id.RoomID(ch.Channel), id.UserID(user.ID))
}

func (a *Adapter) rightsIn(ctx context.Context, room id.RoomID, user id.UserID) (chat.Rights, error) {
	member, err := a.isJoined(ctx, room, user)
	if err != nil {
		return chat.Anyone, err
	}
	if !member {
		return chat.Anyone, nil
	}
	pl, create, err := a.powerLevels(ctx, room)
	if err != nil {
		return chat.Anyone, err
	}
	return rightsFor(pl, create, user, true), nil
}

// isJoined reports whether user is joined to room, asking the homeserver when the state store does
// not know.
func (a *Adapter) isJoined(ctx context.Context, room id.RoomID, user id.UserID) (bool, error) {
	m, err := a.state.GetMembership(ctx, room, user)
	if err == nil && m != "" && m != event.MembershipLeave {
		return m == event.MembershipJoin, nil
	}
	var content event.MemberEventContent
	err = a.cli.StateEvent(ctx, room, event.StateMember, user.String(), &content)
	switch {
	case errors.Is(err, mautrix.MNotFound):
		return false, nil
	case errors.Is(err, mautrix.MForbidden):
		return false, fmt.Errorf("membership of %s in %s: %w", user, room, chat.ErrChannelGone)
	case err != nil:
		return false, fmt.Errorf("membership of %s in %s: %w", user, room, err)
	}
	return content.Membership == event.MembershipJoin, nil
}

// powerLevels returns the room's power levels with its create event attached (nil if the room has
// none), from the state store or else from the homeserver.
func (a *Adapter) powerLevels(ctx context.Context, room id.RoomID) (*event.PowerLevelsEventContent, *event.Event, error) {
	create, err := a.state.GetCreate(ctx, room)
	if err != nil || create == nil {
		create, err = a.cli.FullStateEvent(ctx, room, event.StateCreate, "")
		if err != nil {
			return nil, nil, fmt.Errorf("create event of %s: %w", room, err)
		}
		if err := create.Content.ParseRaw(event.StateCreate); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
			return nil, nil, fmt.Errorf("create event of %s: %w", room, err)
		}
		create.RoomID = room
		if err := a.state.SetCreate(ctx, create); err != nil {
			a.log.Warn("cannot keep create event", "room", room, "err", err)
		}
	}
	pl, err := a.state.GetPowerLevels(ctx, room)
	if err != nil || pl == nil {
		pl = &event.PowerLevelsEventContent{}
		err = a.cli.StateEvent(ctx, room, event.StatePowerLevels, "", pl)
		if errors.Is(err, mautrix.MNotFound) {
			return nil, create, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("power levels of %s: %w", room, err)
		}
		if err := a.state.SetPowerLevels(ctx, room, pl); err != nil {
			a.log.Warn("cannot keep power levels", "room", room, "err", err)
		}
	}
	pl.CreateEvent = create
	return pl, create, nil
}
