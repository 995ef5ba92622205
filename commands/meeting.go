package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/joinurl"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
	"golang.org/x/text/unicode/norm"
)

// This file holds the handlers of the commands that act on the linked meeting. Each runs after the
// dispatcher checked rights, arguments and the node kind (registry.go), with c.link loaded.

// public returns a reply the whole channel sees: a change to the meeting.
func public(format string, args ...any) chat.Reply {
	return chat.Reply{Text: fmt.Sprintf(format, args...), Public: true}
}

// maxNames is how many names a sentence lists before it counts the rest.
const maxNames = 10

// names lists display names as "Alice, Bob and Carol", or "Alice, Bob, … and 12 others" when
// there are more than maxNames.
func names(ps []meetings.Participant) string {
	n := min(len(ps), maxNames)
	ns := make([]string, n)
	for i, p := range ps[:n] {
		ns[i] = p.DisplayName
	}
	switch {
	case len(ps) == 0:
		return "no one"
	case len(ps) == 1:
		return ns[0]
	case len(ps) > maxNames:
		return fmt.Sprintf("%s and %d others", strings.Join(ns, ", "), len(ps)-maxNames)
	}
	return strings.Join(ns[:n-1], ", ") + " and " + ns[n-1]
}

// meetingName is how replies name the linked meeting.
func meetingName(l store.Link) string {
	if l.Name != "" && l.Name != l.Meeting.Room {
		return fmt.Sprintf("%s (%s)", l.Name, l.Meeting.Room)
	}
	return l.Meeting.Room
}

// participantAction runs one participant command on the participant argument i names.
func (r *Router) participantAction(ctx context.Context, c *call, i int,
	do func(s *meetings.Session, ctx context.Context, uuid string) error, done string) (chat.Reply, error) {
	p, err := r.resolveArg(ctx, c, i)
	if err != nil {
		return chat.Reply{}, err
	}
	if err := refuseUnsupported(p, c.cmd.capability); err != nil {
		return chat.Reply{}, err
	}
	s, err := r.session(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	if err := do(s, ctx, p.UUID); err != nil {
		return chat.Reply{}, fmt.Errorf("%s %s: %w", c.cmd.name, p.UUID, err)
	}
	return public(done, p.DisplayName), nil
}

// conferenceAction runs one conference command.
func (r *Router) conferenceAction(ctx context.Context, c *call,
	do func(s *meetings.Session, ctx context.Context) error, done string) (chat.Reply, error) {
	s, err := r.session(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	if err := do(s, ctx); err != nil {
		return chat.Reply{}, fmt.Errorf("%s: %w", c.cmd.name, err)
	}
	return public("%s", done), nil
}

func (r *Router) status(ctx context.Context, c *call) (chat.Reply, error) {
	s, err := r.session(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	st, err := s.Status(ctx)
	if err != nil {
		return chat.Reply{}, fmt.Errorf("service status: %w", err)
	}
	roster, err := r.roster(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	var b strings.Builder
	in, waiting := 0, 0
	var presenters []meetings.Participant
	for _, p := range roster {
		switch {
		case p.Waiting():
			waiting++
		default:
			in++
		}
		if p.IsPresenting {
			presenters = append(presenters, p)
		}
	}
	fmt.Fprintf(&b, "%s: %d present", meetingName(c.link), in)
	if waiting > 0 {
		fmt.Fprintf(&b, ", %d waiting", waiting)
	}
	if st.Locked {
		b.WriteString(", locked")
	}
	if st.GuestsMuted {
		b.WriteString(", guests muted")
	}
	b.WriteString(".")
	if len(presenters) > 0 {
		fmt.Fprintf(&b, " %s is presenting.", names(presenters))
	}
	if !st.Started {
		b.WriteString(" It is waiting for a host to start the meeting.")
	}
	if streams, err := store.LoadStreams(ctx, r.cfg.Store, c.link.Meeting.Key()); err == nil {
		loc := r.location(ctx, c)
		for _, kind := range []string{streamRecording, streamLive} {
			if s, ok := streams[kind]; ok && (inRoster(roster, s.UUID) || r.cfg.Now().Sub(s.Since) < dialGrace) {
				fmt.Fprintf(&b, "\n● %s since %s", map[string]string{streamRecording: "Recording", streamLive: "Live"}[kind], s.Since.In(loc).Format("15:04"))
			}
		}
	}
	if c.private {
		b.WriteString(" It runs on a private-cloud node.")
	}
	return chat.Reply{Text: b.String(), JoinURL: r.joinURL(c.link)}, nil
}

// joinURL returns link's web join page from MEET_JOIN_URL, or "" when none is configured or
// the template needs a field the link has not. It never carries the PIN.
func (r *Router) joinURL(l store.Link) string {
	u, _ := r.cfg.JoinURL.Expand(joinurl.FromRoom(l.Meeting.Room, l.Name))
	return u
}

func inRoster(roster []meetings.Participant, uuid string) bool {
	for _, p := range roster {
		if p.UUID == uuid {
			return true
		}
	}
	return false
}

func (r *Router) who(ctx context.Context, c *call) (chat.Reply, error) {
	roster, err := r.roster(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	if len(roster) == 0 {
		return chat.Reply{Text: fmt.Sprintf("No one is in %s.", meetingName(c.link))}, nil
	}
	host := c.req.Rights >= chat.Host
	// When someone joined and over what are details: shown where there is room (a wide terminal).
	t := &chat.Table{Columns: []string{"Name", "Role", "Audio", "Presenting", "State", "Joined", "Via"}, Details: 2}
	loc := r.location(ctx, c)
	for _, p := range roster {
		audio, presenting, state := "on", "", "in meeting"
		if p.IsMuted {
			audio = "muted"
		}
		if p.IsPresenting {
			presenting = "yes"
		}
		switch {
		case p.Waiting():
			state = "waiting"
		case p.ServiceType == "connecting":
			state = "connecting"
		case p.ServiceType == "ivr":
			state = "entering PIN"
		case p.IsStreaming:
			state = "streaming"
		}
		joined := ""
		if p.StartTime > 0 {
			joined = time.Unix(p.StartTime, 0).In(loc).Format("15:04")
		}
		row := chat.Row{Cells: []string{p.DisplayName, roleName(p), audio, presenting, state, joined, p.Protocol}}
		if host {
			// No button for what the node says cannot be done to this participant.
			id := idRef(p.UUID)
			switch {
			case !supports(p, canMute):
			case p.IsMuted:
				row.Actions = append(row.Actions, chat.Action{Label: "Unmute", Command: "unmute " + id})
			default:
				row.Actions = append(row.Actions, chat.Action{Label: "Mute", Command: "mute " + id})
			}
			if p.Waiting() {
				row.Actions = append(row.Actions, chat.Action{Label: "Admit", Command: "admit " + id})
			}
			if supports(p, canDisconnect) {
				row.Actions = append(row.Actions, chat.Action{Label: "Kick", Command: "kick " + id, Danger: true})
			}
		}
		t.Rows = append(t.Rows, row)
	}
	n := "people"
	if len(roster) == 1 {
		n = "person"
	}
	return chat.Reply{Text: fmt.Sprintf("%d %s in %s:", len(roster), n, meetingName(c.link)), Table: t}, nil
}

func (r *Router) mute(ctx context.Context, c *call) (chat.Reply, error) {
	if c.group(0) == "guests" {
		return r.conferenceAction(ctx, c, (*meetings.Session).MuteGuests, "muted all guests")
	}
	return r.participantAction(ctx, c, 0, (*meetings.Session).Mute, "muted %s")
}

func (r *Router) unmute(ctx context.Context, c *call) (chat.Reply, error) {
	if c.group(0) == "guests" {
		return r.conferenceAction(ctx, c, (*meetings.Session).UnmuteGuests, "unmuted all guests")
	}
	return r.participantAction(ctx, c, 0, (*meetings.Session).Unmute, "unmuted %s")
}

func (r *Router) vmute(ctx context.Context, c *call) (chat.Reply, error) {
	return r.participantAction(ctx, c, 0, (*meetings.Session).VideoMute, "stopped %s's video")
}

func (r *Router) unvmute(ctx context.Context, c *call) (chat.Reply, error) {
	return r.participantAction(ctx, c, 0, (*meetings.Session).VideoUnmute, "allowed %s's video again")
}

func (r *Router) kick(ctx context.Context, c *call) (chat.Reply, error) {
	return r.participantAction(ctx, c, 0, (*meetings.Session).Kick, "disconnected %s")
}

func (r *Router) spotlight(ctx context.Context, c *call) (chat.Reply, error) {
	return r.participantAction(ctx, c, 0, (*meetings.Session).SpotlightOn, "spotlighted %s")
}

func (r *Router) unspotlight(ctx context.Context, c *call) (chat.Reply, error) {
	return r.participantAction(ctx, c, 0, (*meetings.Session).SpotlightOff, "took the spotlight off %s")
}

func (r *Router) end(ctx context.Context, c *call) (chat.Reply, error) {
	if !c.confirmed {
		roster, err := r.roster(ctx, c)
		if err != nil {
			return chat.Reply{}, err
		}
		prompt := fmt.Sprintf("End %s for all %d participants?", meetingName(c.link), len(roster))
		if len(roster) == 1 {
			prompt = fmt.Sprintf("End %s for its one participant?", meetingName(c.link))
		}
		return chat.Reply{Confirm: &chat.Confirm{Prompt: prompt, Command: "end confirm", Label: "End meeting"}}, nil
	}
	return r.conferenceAction(ctx, c, (*meetings.Session).DisconnectAll, "ended the meeting: everyone was disconnected")
}

func (r *Router) lock(ctx context.Context, c *call) (chat.Reply, error) {
	return r.conferenceAction(ctx, c, (*meetings.Session).Lock, "locked the meeting: new guests wait to be admitted")
}

func (r *Router) unlock(ctx context.Context, c *call) (chat.Reply, error) {
	return r.conferenceAction(ctx, c, (*meetings.Session).Unlock, "unlocked the meeting")
}

func (r *Router) start(ctx context.Context, c *call) (chat.Reply, error) {
	return r.conferenceAction(ctx, c, (*meetings.Session).StartService, "started the meeting")
}

func (r *Router) admit(ctx context.Context, c *call) (chat.Reply, error) {
	if c.group(0) != "all" {
		p, err := r.resolveArg(ctx, c, 0)
		if err != nil {
			return chat.Reply{}, err
		}
		if !p.Waiting() {
			return chat.Reply{}, userErrorf("%s is not waiting to be admitted.", p.DisplayName)
		}
		s, err := r.session(ctx, c)
		if err != nil {
			return chat.Reply{}, err
		}
		if err := s.Admit(ctx, p.UUID); err != nil {
			return chat.Reply{}, fmt.Errorf("admit %s: %w", p.UUID, err)
		}
		return public("admitted %s", p.DisplayName), nil
	}
	roster, err := r.roster(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	var waiting []meetings.Participant
	for _, p := range roster {
		if p.Waiting() {
			waiting = append(waiting, p)
		}
	}
	if len(waiting) == 0 {
		return chat.Reply{}, userErrorf("No one is waiting to be admitted.")
	}
	s, err := r.session(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	for i, p := range waiting {
		if err := s.Admit(ctx, p.UUID); err != nil {
			if i == 0 {
				return chat.Reply{}, fmt.Errorf("admit %s: %w", p.UUID, err)
			}
			msg, _ := explain(err, c.cmd.name)
			return public("admitted %s; then %s", names(waiting[:i]), msg), nil
		}
	}
	return public("admitted %s", names(waiting)), nil
}

// dialProtocols are the protocols dial accepts, as the platform names them.
var dialProtocols = []string{"sip", "h323", "rtmp", "mssip", "phone", "auto"}

func (r *Router) dial(ctx context.Context, c *call) (chat.Reply, error) {
	d := meetings.DialRequest{Destination: c.word(0), Protocol: "auto", Role: "guest"}
	if dest, proto, ok := inferDialProtocol(d.Destination); ok {
		d.Destination, d.Protocol = dest, proto // a protocol word below still wins
	}
	usage := userErrorf("Usage: %s.", c.cmd.usage[0])
	for i := 1; i < len(c.args); i++ {
		switch k := c.kw(i); {
		case slices.Contains(dialProtocols, k):
			d.Protocol = k
		case k == "as":
			role, ok := roleWord(c.kw(i + 1))
			if !ok {
				return chat.Reply{}, userErrorf("Say as guest or as chair.")
			}
			d.Role = role
			i++
		case k == "name":
			if i+1 >= len(c.args) {
				return chat.Reply{}, usage
			}
			d.RemoteDisplayName = strings.Join(texts(c.args[i+1:]), " ")
			i = len(c.args)
		default:
			return chat.Reply{}, userErrorf("%q is not a protocol (%s), as guest|chair or name <display>.",
				c.word(i), strings.Join(dialProtocols, ", "))
		}
	}
	// The destination as replies show it: an RTMP URL without its stream key.
	shown := maskStreamURL(d.Destination)
	if allowed := c.cmd.private.protocols; c.private && len(allowed) > 0 && !slices.Contains(allowed, d.Protocol) {
		return chat.Reply{}, userErrorf("This meeting runs on a private-cloud node, which dials only over %s, not %s. Try: dial %s %s",
			strings.Join(allowed, " or "), d.Protocol, quote(shown), allowed[0])
	}
	s, err := r.session(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	if _, err := s.Dial(ctx, d); err != nil {
		return chat.Reply{}, fmt.Errorf("dial: %w", err)
	}
	return public("dialling %s over %s as %s", shown, d.Protocol, roleLabel(d.Role)), nil
}

// roleWord reads chair|host|guest as the platform's role.
func roleWord(k string) (string, bool) {
	switch k {
	case "chair", "host":
		return "chair", true
	case "guest":
		return "guest", true
	}
	return "", false
}

func roleLabel(role string) string {
	if role == "chair" {
		return "a host (chair)"
	}
	return "a guest"
}

// layouts are the layouts override_layout accepts.
var layouts = []string{"1:0", "4:0", "1:7", "1:21", "2:21"}

func (r *Router) layout(ctx context.Context, c *call) (chat.Reply, error) {
	l := keyword(c.word(0))
	if !slices.Contains(layouts, l) {
		return chat.Reply{}, userErrorf("%q is not a layout; choose one of %s.", c.word(0), strings.Join(layouts, ", "))
	}
	base := meetings.LayoutOverride{VADBackfill: true, Layout: l}
	hosts, guests := base, base
	hosts.Audience = "hosts"
	var overrides []meetings.LayoutOverride
	who := "everyone"
	switch k := c.kw(1); k {
	case "":
		overrides = []meetings.LayoutOverride{hosts, guests}
	case "hosts":
		overrides, who = []meetings.LayoutOverride{hosts}, "hosts"
	case "guests":
		overrides, who = []meetings.LayoutOverride{guests}, "guests"
	default:
		return chat.Reply{}, userErrorf("Say hosts or guests after the layout, or nothing for everyone.")
	}
	s, err := r.session(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	if err := s.OverrideLayout(ctx, overrides...); err != nil {
		return chat.Reply{}, fmt.Errorf("override layout: %w", err)
	}
	return public("set the layout to %s for %s", l, who), nil
}

func (r *Router) say(ctx context.Context, c *call) (chat.Reply, error) {
	text := skipWords(c.req.Text, c.skip)
	if text == "" {
		return chat.Reply{}, userErrorf("Usage: say <text>.")
	}
	payload := text
	if c.req.User.Name != "" {
		payload = c.req.User.Name + ": " + text
	}
	s, err := r.session(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	if err := s.SendMessage(ctx, payload); err != nil {
		return chat.Reply{}, fmt.Errorf("message: %w", err)
	}
	return public("said in the meeting: %s", text), nil
}

// dtmfDigits are the touch-tones the platform sends.
const dtmfDigits = "0123456789*#ABCD"

func (r *Router) dtmf(ctx context.Context, c *call) (chat.Reply, error) {
	digits := strings.ToUpper(norm.NFKC.String(c.word(1)))
	if digits == "" || strings.Trim(digits, dtmfDigits) != "" {
		return chat.Reply{}, userErrorf("%q are not touch-tones: use 0-9, *, # and A-D.", c.word(1))
	}
	return r.participantAction(ctx, c, 0, func(s *meetings.Session, ctx context.Context, uuid string) error {
		return s.SendDTMF(ctx, uuid, digits)
	}, "sent the tones "+digits+" to %s")
}

func (r *Router) role(ctx context.Context, c *call) (chat.Reply, error) {
	role, ok := roleWord(c.kw(1))
	if !ok {
		return chat.Reply{}, userErrorf("Say chair or guest: role <name> chair|guest.")
	}
	return r.participantAction(ctx, c, 0, func(s *meetings.Session, ctx context.Context, uuid string) error {
		return s.SetRole(ctx, uuid, role)
	}, "made %s "+roleLabel(role))
}

func (r *Router) transfer(ctx context.Context, c *call) (chat.Reply, error) {
	t := meetings.TransferRequest{Room: norm.NFKC.String(c.word(1)), Role: "guest"}
	// After the room, the PIN and the role clause may come in either order, each once.
	usage := userErrorf("Usage: %s.", c.cmd.usage[0])
	pinSet, roleSet := false, false
	for rest := c.args[2:]; len(rest) > 0; {
		if !rest[0].Quoted && keyword(rest[0].Text) == "as" {
			if roleSet || len(rest) < 2 {
				return chat.Reply{}, usage
			}
			role, ok := roleWord(keyword(rest[1].Text))
			if !ok || rest[1].Quoted {
				return chat.Reply{}, userErrorf("Say as chair or as guest.")
			}
			t.Role, roleSet, rest = role, true, rest[2:]
			continue
		}
		if pinSet {
			return chat.Reply{}, usage
		}
		t.PIN, pinSet, rest = norm.NFKC.String(rest[0].Text), true, rest[1:]
	}
	return r.participantAction(ctx, c, 0, func(s *meetings.Session, ctx context.Context, uuid string) error {
		return s.Transfer(ctx, uuid, t)
	}, "moved %s to "+esc(t.Room)+" as "+roleLabel(t.Role))
}

func (r *Router) presentation(ctx context.Context, c *call) (chat.Reply, error) {
	switch c.kw(0) {
	case "allow":
		return r.participantAction(ctx, c, 1, (*meetings.Session).AllowPresentation, "let %s receive the presentation")
	case "deny":
		return r.participantAction(ctx, c, 1, (*meetings.Session).DenyPresentation, "stopped sending the presentation to %s")
	}
	return chat.Reply{}, userErrorf("Usage: %s.", c.cmd.usage[0])
}

func (r *Router) delay(ctx context.Context, c *call) (chat.Reply, error) {
	switch c.kw(0) {
	case "cancel":
		return r.participantAction(ctx, c, 1, (*meetings.Session).CancelDelay, "cancelled %s's delay")
	case "resume":
		return r.participantAction(ctx, c, 1, (*meetings.Session).ResumeDelay, "resumed %s's delay")
	}
	return chat.Reply{}, userErrorf("Usage: %s.", c.cmd.usage[0])
}

// esc escapes s for use inside a format string.
func esc(s string) string { return strings.ReplaceAll(s, "%", "%%") }
