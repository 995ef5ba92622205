package matrix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
)

// onMember acts on the bot's own membership: it joins rooms it is invited to by allowed users
// (declining other invites), and when it is kicked or banned it unlinks the room's meeting.
func (a *Adapter) onMember(ctx context.Context, evt *event.Event) {
	me := a.cli.UserID
	if evt.GetStateKey() != me.String() || evt.Sender == me {
		return
	}
	m := evt.Content.AsMember()
	log := a.log.With("room", evt.RoomID, "sender", evt.Sender)
	switch {
	case m.Membership == event.MembershipInvite && evt.Mautrix.EventSource&event.SourceInvite != 0:
		if !a.seen.add("invite " + evt.RoomID.String() + " " + evt.ID.String()) {
			return
		}
		if !allowed(a.cfg.Allow, a.ownServer, evt.Sender) {
			log.Info("declining an invite from a user not on the allow-list")
			if _, err := a.cli.LeaveRoom(ctx, evt.RoomID, &mautrix.ReqLeave{Reason: "not allowed to invite this bot"}); err != nil {
				log.Warn("cannot decline invite", "err", err)
			}
			return
		}
		if err := retry(ctx, log, "join room", func() error {
			_, err := a.cli.JoinRoomByID(ctx, evt.RoomID)
			return err
		}); err != nil {
			log.Error("cannot join room", "err", err)
			return
		}
		log.Info("joined room on invite")
	case (m.Membership == event.MembershipLeave || m.Membership == event.MembershipBan) &&
		evt.Mautrix.EventSource&event.SourceLeave != 0:
		if prev := evt.Unsigned.PrevContent; prev != nil {
			if pm, _ := prev.Raw["membership"].(string); pm != "" && pm != string(event.MembershipJoin) {
				return // an invite withdrawn, not a kick
			}
		}
		if evt.ID == "" || !a.seen.add("leave "+evt.ID.String()) {
			return
		}
		log.Info("removed from room, unlinking its meeting", "membership", m.Membership)
		req := chat.Request{
			Channel: chat.ChannelRef{Platform: Platform, Channel: evt.RoomID.String()},
			User:    chat.UserRef{ID: evt.Sender.String(), Name: a.displayName(ctx, evt.RoomID, evt.Sender)},
			Rights:  chat.Admin,
			Text:    "unlink",
		}
		a.queues.run(evt.RoomID, func() {
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.HandlerTimeout)
			defer cancel()
			// The core answers, but the bot can no longer post there: the reply is dropped.
			a.handle(hctx, log, req)
			// Forget the room so it leaves the bot's sync for good.
			if _, err := a.cli.ForgetRoom(hctx, evt.RoomID); err != nil {
				log.Warn("cannot forget the room", "err", err)
			}
		})
	}
}

// onMessage turns a room message addressed to the bot into a command. It ignores the bot's own
// messages, edits, notices (other bots), messages from users outside the allow-list, and anything
// not starting with !meet or a mention of the bot.
func (a *Adapter) onMessage(ctx context.Context, evt *event.Event) {
	if evt.Sender == a.cli.UserID || evt.Mautrix.EventSource&event.SourceLeave != 0 {
		return
	}
	content := evt.Content.AsMessage()
	if content.NewContent != nil || content.RelatesTo != nil && content.RelatesTo.Type == event.RelReplace {
		return
	}
	if content.MsgType != event.MsgText {
		return
	}
	content.RemoveReplyFallback()
	text, ok := parseCommand(content.Body, a.names)
	if !ok {
		return
	}
	if !a.seen.add(evt.ID.String()) {
		return
	}
	log := a.log.With("room", evt.RoomID, "sender", evt.Sender, "event", evt.ID)
	if !allowed(a.cfg.Allow, a.ownServer, evt.Sender) {
		log.Info("ignoring a command from a user not on the allow-list")
		return
	}
	verified := senderVerified(evt)
	// Commands run beside the sync, one at a time per room; Run waits for them before it returns.
	a.queues.run(evt.RoomID, func() {
		jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*a.cfg.HandlerTimeout)
		defer cancel()
		if a.cfg.RequireVerified && !verified {
			log.Info("refusing a command from a device not verified by its owner", "trust", evt.Mautrix.TrustState.String())
			r := chat.Reply{Text: unverifiedNotice(evt), Failed: true}
			// Not run, so the core cannot say whether it held a secret: a link's PIN at least.
			if linkHasPIN(text) {
				if note := a.protectPIN(jctx, log, evt, evt.RoomID); note != "" {
					r.Text += "\n\n" + note
				}
			}
			a.reply(jctx, log, evt, r)
			return
		}
		a.handleCommand(jctx, log, evt, text)
	})
}

// senderVerified reports whether evt came encrypted from a device its owner cross-signed (trusted
// on first use or verified by the bot's identity).
func senderVerified(evt *event.Event) bool {
	return evt.Mautrix.WasEncrypted && evt.Mautrix.TrustState >= id.TrustStateCrossSignedTOFU
}

// unverifiedNotice says why a command was not run under Config.RequireVerified.
func unverifiedNotice(evt *event.Event) string {
	if !evt.Mautrix.WasEncrypted {
		return "I did not run that: this bot only takes commands from verified devices, and in an unencrypted room I cannot tell which device sent a message. Send it from an encrypted room or a direct message with me."
	}
	return "I did not run that: this bot only takes commands from devices verified by their owner, and the device you sent it from is not. " +
		"Verify it from one of your other sessions (in Element: Settings → Sessions), or sign in again with your recovery key, then send the command again."
}

// handleCommand runs one command and answers in the room, as a reply to the command.
func (a *Adapter) handleCommand(ctx context.Context, log *slog.Logger, evt *event.Event, text string) {
	room, sender := evt.RoomID, evt.Sender
	target := room
	var notes []string
	if text == "" {
		text = "help"
	}
	if cmd, picked, hint, found := a.pending.pick(room, sender, text); found {
		if hint != "" {
			a.reply(ctx, log, evt, chat.Reply{Text: hint, Failed: true})
			return
		}
		text, target = cmd, picked
	} else if cmd, named, ok := splitLinkTarget(text); ok {
		resolved, err := a.resolveRoom(ctx, named)
		if errors.Is(err, errNoSuchAlias) {
			a.reply(ctx, log, evt, chat.Reply{Text: fmt.Sprintf("There is no room %s.", named), Failed: true})
			return
		}
		if err != nil {
			log.Warn("cannot resolve a room alias", "alias", named, "err", err)
			a.reply(ctx, log, evt, chat.Reply{Text: fmt.Sprintf("I cannot look up %s now; try again in a moment.", named), Failed: true})
			return
		}
		joined, err := a.isJoined(ctx, resolved, a.cli.UserID)
		if err != nil || !joined {
			text := fmt.Sprintf("I am not in %s: invite me there first, then link again.", named)
			// The core never sees this one, so it cannot say whether it held a PIN.
			if linkHasPIN(cmd) {
				if note := a.protectPIN(ctx, log, evt, resolved); note != "" {
					text += "\n\n" + note
				}
			}
			a.reply(ctx, log, evt, chat.Reply{Text: text, Failed: true})
			return
		}
		text, target = cmd, resolved
	}
	rights, err := a.rightsIn(ctx, target, sender)
	if err != nil {
		log.Warn("cannot read power levels; treating the sender as a plain member", "err", err)
		rights = chat.Member
	}
	req := chat.Request{
		Channel: chat.ChannelRef{Platform: Platform, Channel: target.String()},
		User:    chat.UserRef{ID: sender.String(), Name: a.displayName(ctx, room, sender)},
		Rights:  rights,
		Text:    text,
	}
	hctx, cancel := context.WithTimeout(ctx, a.cfg.HandlerTimeout)
	reply := a.handle(hctx, log, req)
	cancel()
	a.pending.remember(room, sender, target, reply)
	// The core says whether the text held a secret, whatever the command and its word order.
	if reply.CarriedSecret {
		if note := a.protectPIN(ctx, log, evt, target); note != "" {
			notes = append(notes, note)
		}
	}
	for _, n := range notes {
		if reply.Text != "" {
			reply.Text += "\n\n"
		}
		reply.Text += n
	}
	a.reply(ctx, log, evt, reply)
}

// handle calls the core, turning a panic into a reply and a log line.
func (a *Adapter) handle(ctx context.Context, log *slog.Logger, req chat.Request) (reply chat.Reply) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("command panicked", "panic", r)
			reply = chat.Reply{Text: "Something went wrong.", Failed: true}
		}
	}()
	return a.handler.Handle(ctx, req)
}

// protectPIN deals with a secret (a PIN, a stream key) typed where others can read it. In a
// direct message with the bot nothing is needed. Elsewhere the bot redacts the message when its
// power allows, else it says the secret stays visible and suggests a direct message. The returned
// note is added to the reply.
func (a *Adapter) protectPIN(ctx context.Context, log *slog.Logger, evt *event.Event, target id.RoomID) string {
	if a.isDirect(ctx, evt.RoomID) {
		return ""
	}
	if a.canRedact(ctx, evt.RoomID) {
		_, err := a.cli.RedactEvent(ctx, evt.RoomID, evt.ID, mautrix.ReqRedact{Reason: "contained a secret"})
		if err == nil {
			return "I removed your message because it showed a secret (a meeting PIN or key) to everyone here."
		}
		log.Warn("cannot redact a message with a secret", "err", err)
	}
	return fmt.Sprintf("Your message shows a secret (a meeting PIN or key) to everyone in this room and stays in its history; I do not have the power to remove it, so please delete it yourself. "+
		"Next time, send it from a direct message with me, e.g. %s link <room> <pin> in %s", Prefix, target)
}

// isDirect reports whether only the bot and one other user are in room.
func (a *Adapter) isDirect(ctx context.Context, room id.RoomID) bool {
	members, err := a.state.GetRoomJoinedOrInvitedMembers(ctx, room)
	if err != nil || len(members) == 0 {
		resp, err := a.cli.JoinedMembers(ctx, room)
		if err != nil {
			return false
		}
		return len(resp.Joined) <= 2
	}
	return len(members) <= 2
}

// canRedact reports whether the bot's power level allows redacting other users' messages.
func (a *Adapter) canRedact(ctx context.Context, room id.RoomID) bool {
	pl, _, err := a.powerLevels(ctx, room)
	if err != nil || pl == nil {
		return false
	}
	return pl.GetUserLevel(a.cli.UserID) >= pl.Redact()
}

var errNoSuchAlias = errors.New("no such room alias")

// resolveRoom turns a room id or alias into a room id.
func (a *Adapter) resolveRoom(ctx context.Context, ref string) (id.RoomID, error) {
	if ref[0] == '!' {
		return id.RoomID(ref), nil
	}
	resp, err := a.cli.ResolveAlias(ctx, id.RoomAlias(ref))
	if err != nil {
		if errors.Is(err, mautrix.MNotFound) {
			return "", errNoSuchAlias
		}
		return "", fmt.Errorf("resolve %s: %w", ref, err)
	}
	return resp.RoomID, nil
}

// maxNameRunes bounds a display name as the bot passes it on: Matrix allows long ones, and a name
// is not the place for a paragraph.
const maxNameRunes = 64

// displayName returns how user is called in room, or their localpart.
func (a *Adapter) displayName(ctx context.Context, room id.RoomID, user id.UserID) string {
	if m, err := a.state.TryGetMember(ctx, room, user); err == nil && m != nil {
		// Anyone picks their display name: the core gets it as one line of plain text.
		if name := oneLine(m.Displayname); name != "" {
			if r := []rune(name); len(r) > maxNameRunes {
				name = string(r[:maxNameRunes]) + "…"
			}
			return name
		}
	}
	if lp := localpart(user); lp != "" {
		return lp
	}
	return user.String()
}

// reply sends r as an m.notice replying to evt, waiting out rate limits a few times.
func (a *Adapter) reply(ctx context.Context, log *slog.Logger, evt *event.Event, r chat.Reply) {
	msg := renderReply(r)
	if msg.Plain == "" {
		return
	}
	content := noticeContent(msg)
	content.RelatesTo = &event.RelatesTo{InReplyTo: &event.InReplyTo{EventID: evt.ID}}
	if rel := evt.Content.AsMessage().RelatesTo; rel != nil && rel.Type == event.RelThread {
		// A command typed in a thread is answered in that thread.
		content.RelatesTo.Type, content.RelatesTo.EventID = event.RelThread, rel.EventID
	}
	if _, err := a.sendPatiently(ctx, evt.RoomID, content); err != nil {
		log.Error("cannot send reply", "err", err)
	}
}
