package commands

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // timezone validates IANA names on hosts without a zone database

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
	"golang.org/x/text/unicode/norm"
)

// This file holds the handlers of the commands that configure the channel: link, unlink, notify,
// timezone, audit and the schedule commands.

func (r *Router) link(ctx context.Context, c *call) (chat.Reply, error) {
	room := strings.TrimSpace(norm.NFKC.String(c.word(0)))
	// After the room, the PIN and the node kind may come in either order.
	var rest []Token
	cloud, byUser := "", false
	for _, t := range c.args[1:] {
		switch {
		case t.Quoted || !isCloudWord(t.Text):
			rest = append(rest, t)
		case byUser:
			return chat.Reply{}, userErrorf("Say private or public once: %s.", c.cmd.usage[0])
		default:
			cloud, byUser = keyword(t.Text), true
		}
	}
	if len(rest) > 1 {
		return chat.Reply{}, userErrorf("Usage: %s.", c.cmd.usage[0])
	}
	pin := ""
	if len(rest) == 1 {
		pin = norm.NFKC.String(rest[0].Text)
	}
	if room == "" {
		return chat.Reply{}, userErrorf("Usage: %s.", c.cmd.usage[0])
	}
	r.links.forget(c.req.Channel)
	switch old, err := r.cfg.Store.GetLink(ctx, c.req.Channel); {
	case err == nil:
		return chat.Reply{}, userErrorf("This channel is already linked to %s. Run unlink first.", meetingName(old))
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrWrongKey):
		// Not linked, or linked under a lost key: a new link replaces it.
	default:
		return chat.Reply{}, fmt.Errorf("get link: %w", err)
	}

	info, err := r.cfg.Client.CheckJoin(ctx, room, pin, r.cfg.BotName)
	if err != nil {
		return chat.Reply{}, fmt.Errorf("check join %s: %w", room, err)
	}
	if info.IsDot {
		return chat.Reply{}, userErrorf("%s is a point-to-point call, not a meeting room.", room)
	}
	s, err := r.cfg.Client.Open(ctx, meetings.Room{Node: info.MCUHost, Alias: room},
		meetings.SessionOptions{DisplayName: r.cfg.BotName, PIN: pin, Hidden: true})
	if err != nil {
		return chat.Reply{}, fmt.Errorf("open session in %s: %w", room, err)
	}
	si := s.Info()
	if !byUser {
		cloud = r.cfg.DefaultCloud
		if detected := si.Cloud(); len(si.Present) > 0 && detected != "" {
			cloud = string(detected)
		}
	}
	l := store.Link{
		Channel:        c.req.Channel,
		Meeting:        store.MeetingRef{APIServer: r.cfg.Client.APIServer(), Room: room},
		Node:           info.MCUHost,
		Name:           info.ConferenceName,
		PIN:            chat.Secret(pin),
		Role:           strings.ToUpper(si.Role),
		Cloud:          cloud,
		CloudSetByUser: byUser,
		CreatedBy:      c.req.User.ID,
		CreatedAt:      r.cfg.Now(),
	}
	// Once stored, the link outlives this request: finish it even if the chat service gives up,
	// within a bound of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	closeSession := func() {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.Close(cctx); err != nil {
			r.log.Warn("end session after a failed link", "room", room, "err", err)
		}
	}
	defer r.links.forget(l.Channel)
	if err := r.cfg.Store.PutLink(ctx, l); err != nil {
		closeSession()
		return chat.Reply{}, fmt.Errorf("put link: %w", err)
	}
	// Follow owns s from here on, whatever it returns. When it fails, the link stays: the
	// Meetings implementation keeps its listeners in step with the stored links and picks it up.
	if err := r.cfg.Meetings.Follow(ctx, l, s); err != nil {
		r.log.Warn("follow after link; the stored link is picked up later", "meeting", l.Meeting.String(),
			"channel", l.Channel.String(), "err", err)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "linked this channel to %s", meetingName(l))
	if cloud == string(meetings.PrivateCloud) {
		b.WriteString(", on a private-cloud node")
	}
	b.WriteString(". ")
	if roster, err := r.cfg.Meetings.Roster(ctx, l); err != nil {
		r.log.Warn("roster after link", "meeting", l.Meeting.String(), "err", err)
	} else if len(roster) == 0 {
		b.WriteString("No one is in the meeting yet.")
	} else {
		fmt.Fprintf(&b, "Present: %s.", names(roster))
	}
	if !si.IsHost() {
		b.WriteString(" The PIN gave the bot guest rights, so the platform will refuse host commands; link with the host PIN to use them.")
	}
	reply := public("%s", b.String())
	reply.JoinURL = r.joinURL(l)
	return reply, nil
}

func (r *Router) unlink(ctx context.Context, c *call) (chat.Reply, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	defer r.links.forget(c.req.Channel)
	if err := r.cfg.Store.DeleteLink(ctx, c.req.Channel); err != nil {
		return chat.Reply{}, fmt.Errorf("delete link: %w", err)
	}
	if c.sealed {
		// Its PIN cannot be read, so no listener follows it and there is nothing to unfollow.
		return public("unlinked this channel; its link was sealed under another secret key, so it was " +
			"removed without being read. Link again to follow a meeting here."), nil
	}
	if err := r.cfg.Meetings.Unfollow(ctx, c.link); err != nil {
		// The channel is unlinked either way; the listener's owner cleans up what is left.
		r.log.Warn("unfollow after unlink", "meeting", c.link.Meeting.String(), "err", err)
	}
	return public("unlinked this channel from %s; the meeting itself goes on", meetingName(c.link)), nil
}

// notifyKinds maps the words of notify to the setting they change.
var notifyKinds = map[string]string{
	"joins": "joins", "join": "joins",
	"leaves": "leaves", "leave": "leaves",
	"presentations": "presentations", "presentation": "presentations",
	"chat": "chat", "thread": "thread", "threads": "thread", "threaded": "thread",
	"waiting":   "waiting",
	"snapshots": "snapshots", "snapshot": "snapshots", "slides": "snapshots",
	"report": "report", "reports": "report", "attendance": "report",
}

// onOff reads on|off (and their usual synonyms).
func onOff(k string) (bool, bool) {
	switch k {
	case "on", "yes", "true", "1":
		return true, true
	case "off", "no", "false", "0":
		return false, true
	}
	return false, false
}

func word(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func (r *Router) notify(ctx context.Context, c *call) (chat.Reply, error) {
	set, err := r.cfg.Store.GetSettings(ctx, c.req.Channel)
	if err != nil {
		return chat.Reply{}, fmt.Errorf("get settings: %w", err)
	}
	if len(c.args) == 0 {
		return chat.Reply{Text: fmt.Sprintf("This channel hears: joins %s, leaves %s, presentations %s, chat %s, waiting %s; thread %s; "+
			"slide snapshots %s, attendance report %s. "+
			"Change one with: notify joins|leaves|presentations|chat|waiting|thread|snapshots|report on|off",
			word(set.Joins), word(set.Leaves), word(set.Presentations), word(set.Chat), word(set.Waiting), word(set.Threaded),
			word(set.Snapshots), word(set.Report))}, nil
	}
	kind, ok := notifyKinds[c.kw(0)]
	on, ok2 := onOff(c.kw(1))
	if !ok || !ok2 {
		return chat.Reply{}, userErrorf("Usage: %s.", c.cmd.usage[1])
	}
	switch kind {
	case "joins":
		set.Joins = on
	case "leaves":
		set.Leaves = on
	case "presentations":
		set.Presentations = on
	case "chat":
		set.Chat = on
	case "thread":
		set.Threaded = on
	case "waiting":
		set.Waiting = on
	case "snapshots":
		set.Snapshots = on
	case "report":
		set.Report = on
	}
	if err := r.cfg.Store.PutSettings(ctx, c.req.Channel, set); err != nil {
		return chat.Reply{}, fmt.Errorf("put settings: %w", err)
	}
	switch kind {
	case "thread":
		return public("turned threaded notifications %s", word(on)), nil
	case "snapshots":
		return r.snapshotsTurned(ctx, c, on), nil
	case "report":
		if on {
			return public("turned the attendance report on: when the meeting ends, its thread gets a CSV of who " +
				"attended and for how long, and a chart"), nil
		}
		return public("turned the attendance report off"), nil
	case "waiting":
		return public("turned waiting-room alerts %s", word(on)), nil
	}
	return public("turned %s notifications %s", kind, word(on)), nil
}

// zone returns the time zone schedules of the channel are read in, or "" for the scheduler's
// default.
func (r *Router) zone(set store.ChannelSettings) string {
	if set.TimeZone != "" {
		return set.TimeZone
	}
	return r.cfg.DefaultTimeZone
}

func (r *Router) timezone(ctx context.Context, c *call) (chat.Reply, error) {
	set, err := r.cfg.Store.GetSettings(ctx, c.req.Channel)
	if err != nil {
		return chat.Reply{}, fmt.Errorf("get settings: %w", err)
	}
	if len(c.args) == 0 {
		zone := r.zone(set)
		if zone == "" {
			zone = "the bot's default time zone (SCHEDULE_TZ)"
		}
		return chat.Reply{Text: fmt.Sprintf("Schedules here are read in %s. Change it with: timezone <IANA zone>", zone)}, nil
	}
	name := norm.NFKC.String(c.word(0))
	if _, err := time.LoadLocation(name); err != nil || name == "" || name == "Local" {
		return chat.Reply{}, userErrorf("%q is not an IANA time zone such as Europe/Berlin or Asia/Shanghai.", c.word(0))
	}
	set.TimeZone = name
	if err := r.cfg.Store.PutSettings(ctx, c.req.Channel, set); err != nil {
		return chat.Reply{}, fmt.Errorf("put settings: %w", err)
	}
	return public("schedules made here are now read in %s", name), nil
}

func (r *Router) audit(ctx context.Context, c *call) (chat.Reply, error) {
	n := 10
	if len(c.args) > 0 {
		v, err := strconv.Atoi(keyword(c.word(0)))
		if err != nil || v < 1 {
			return chat.Reply{}, userErrorf("Usage: audit [n], with n a number from 1 to 100.")
		}
		n = min(v, 100)
	}
	es, err := r.cfg.Store.RecentAudit(ctx, c.req.Channel, n)
	if err != nil {
		return chat.Reply{}, fmt.Errorf("recent audit: %w", err)
	}
	if len(es) == 0 {
		return chat.Reply{Text: "Nothing has been done in this channel yet."}, nil
	}
	t := &chat.Table{Columns: []string{"Time (UTC)", "Who", "Command", "Outcome"}}
	for _, e := range es {
		who := e.User.Name
		if who == "" {
			who = e.User.ID
		}
		t.Rows = append(t.Rows, chat.Row{Cells: []string{e.Time.UTC().Format("2006-01-02 15:04"), who, e.Command, e.Outcome}})
	}
	return chat.Reply{Text: fmt.Sprintf("The latest %d commands here, newest first:", len(es)), Table: t}, nil
}

var (
	cronField = regexp.MustCompile(`^[0-9A-Za-z*/,?-]+$`)
	dateWord  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	clockWord = regexp.MustCompile(`^\d{1,2}:\d{2}$`)
)

// splitSpec separates a schedule's spec from its command: the first argument when quoted, else
// five cron fields or a date and a time typed without quotes.
func splitSpec(args []Token) (spec string, rest []Token, ok bool) {
	if len(args) < 2 {
		return "", nil, false
	}
	if args[0].Quoted || strings.IndexFunc(args[0].Text, isSep) >= 0 {
		return strings.TrimSpace(norm.NFKC.String(args[0].Text)), args[1:], true
	}
	norms := func(n int) string {
		ws := make([]string, n)
		for i := range ws {
			ws[i] = norm.NFKC.String(args[i].Text)
		}
		return strings.Join(ws, " ")
	}
	if len(args) >= 3 && dateWord.MatchString(norm.NFKC.String(args[0].Text)) && clockWord.MatchString(norm.NFKC.String(args[1].Text)) {
		return norms(2), args[2:], true
	}
	if len(args) >= 6 {
		for i := range 5 {
			if !cronField.MatchString(norm.NFKC.String(args[i].Text)) {
				return "", nil, false
			}
		}
		return norms(5), args[5:], true
	}
	return "", nil, false
}

func (r *Router) schedule(ctx context.Context, c *call) (chat.Reply, error) {
	if r.cfg.Scheduler == nil {
		return chat.Reply{}, userErrorf("Schedules are not available on this bot.")
	}
	spec, rest, ok := splitSpec(c.args)
	if !ok || len(rest) == 0 || rest[0].Quoted {
		return chat.Reply{}, userErrorf(`Usage: %s, with the time in quotes: schedule "0 9 * * 1-5" unlock.`, c.cmd.usage[0])
	}
	sub, found := r.reg.lookup(rest[0].Text)
	if !found {
		if near := r.reg.nearest(rest[0].Text); near != "" {
			return chat.Reply{}, userErrorf("Unknown command %q to schedule. Did you mean %s?", maskDigits(rest[0].Text), near)
		}
		return chat.Reply{}, userErrorf("Unknown command %q to schedule. Try: help", maskDigits(rest[0].Text))
	}
	if !sub.schedulable {
		return chat.Reply{}, userErrorf("%s cannot be scheduled.", sub.name)
	}
	if c.req.Rights < sub.rights {
		return chat.Reply{}, userErrorf("You need %s rights for %s.", sub.rights, sub.name)
	}
	if l, err := r.links.get(ctx, r.cfg.Store, c.req.Channel); err == nil && l.Cloud == string(meetings.PrivateCloud) {
		switch rule := sub.private; rule.support {
		case unsupported:
			return chat.Reply{}, userErrorf("This meeting runs on a private-cloud node, which does not support %s.", rule.what)
		case noEffect:
			return chat.Reply{}, userErrorf("%s has no effect on a private-cloud node, so it was not scheduled.", upperFirst(rule.what))
		}
	}
	sc := newCall(r.reg, c.req, sub, rest[1:], 0)
	if n := len(sc.args); n < sub.minArgs || (sub.maxArgs >= 0 && n > sub.maxArgs) {
		return chat.Reply{}, userErrorf("Usage: %s.", strings.Join(sub.usage, " | "))
	}
	if sub.secrets != nil && len(sub.secrets(r.reg, sc.args)) > 0 {
		// The command is stored as typed and shown by schedules and in every run's message.
		return chat.Reply{}, userErrorf("A schedule cannot hold a PIN or a stream key: it would be stored and shown with the schedule.")
	}
	// A command that asks to confirm when run by hand is confirmed now, since no one is there to
	// click when it runs.
	if !sc.confirmed && (sub.confirm || r.asksOnThisNode(ctx, sc)) {
		return chat.Reply{Confirm: &chat.Confirm{
			Prompt:  fmt.Sprintf("Schedule %s? It runs without asking again.", sc.text()),
			Command: c.cmd.name + " " + quoteAlways(spec) + " " + sc.line(nil, true),
			Label:   "Schedule",
		}}, nil
	}
	set, err := r.cfg.Store.GetSettings(ctx, c.req.Channel)
	if err != nil {
		return chat.Reply{}, fmt.Errorf("get settings: %w", err)
	}
	_, oneTimeErr := time.Parse("2006-01-02 15:04", spec)
	s, err := r.cfg.Scheduler.Add(ctx, store.Schedule{
		Channel:   c.req.Channel,
		Spec:      spec,
		TimeZone:  r.zone(set),
		Command:   sc.text(),
		CreatedBy: c.req.User,
		Rights:    c.req.Rights,
		OneTime:   oneTimeErr == nil,
		CreatedAt: r.cfg.Now(),
	})
	if err != nil {
		return chat.Reply{}, fmt.Errorf("add schedule: %w", err)
	}
	next := ""
	if !s.NextRun.IsZero() {
		next = ", next at " + when(s.NextRun, s.TimeZone)
	}
	// The command and spec are arguments, not part of the format: escaping them too printed 100%%.
	return public("scheduled #%d: %s at %q (%s)%s", s.ID, s.Command, s.Spec, s.TimeZone, next), nil
}

// asksOnThisNode reports whether c asks to confirm on the channel's node (mute on a private node).
func (r *Router) asksOnThisNode(ctx context.Context, c *call) bool {
	if c.cmd.private.support != confirmOnly || c.cmd.nameArg < 0 {
		return false
	}
	l, err := r.links.get(ctx, r.cfg.Store, c.req.Channel)
	return err == nil && l.Cloud == string(meetings.PrivateCloud) && c.group(c.cmd.nameArg) == ""
}

// when formats a run time in its schedule's zone.
func when(t time.Time, zone string) string {
	if loc, err := time.LoadLocation(zone); err == nil {
		t = t.In(loc)
	}
	return t.Format("Mon 2 Jan 15:04 MST")
}

func (r *Router) schedules(ctx context.Context, c *call) (chat.Reply, error) {
	if r.cfg.Scheduler == nil {
		return chat.Reply{}, userErrorf("Schedules are not available on this bot.")
	}
	ss, err := r.cfg.Scheduler.List(ctx, c.req.Channel)
	if err != nil {
		return chat.Reply{}, fmt.Errorf("list schedules: %w", err)
	}
	if len(ss) == 0 {
		return chat.Reply{Text: `Nothing is scheduled here. Try: schedule "0 9 * * 1-5" unlock`}, nil
	}
	t := &chat.Table{Columns: []string{"Id", "When", "Command", "Next run", "By"}}
	for _, s := range ss {
		next := "done"
		if !s.NextRun.IsZero() {
			next = when(s.NextRun, s.TimeZone)
		}
		by := s.CreatedBy.Name
		if by == "" {
			by = s.CreatedBy.ID
		}
		row := chat.Row{Cells: []string{strconv.FormatInt(s.ID, 10), s.Spec + " (" + s.TimeZone + ")", s.Command, next, by}}
		if c.req.Rights >= chat.Host {
			row.Actions = []chat.Action{{Label: "Remove", Command: fmt.Sprintf("unschedule %d", s.ID), Danger: true}}
		}
		t.Rows = append(t.Rows, row)
	}
	return chat.Reply{Text: fmt.Sprintf("%d scheduled here:", len(ss)), Table: t}, nil
}

func (r *Router) unschedule(ctx context.Context, c *call) (chat.Reply, error) {
	if r.cfg.Scheduler == nil {
		return chat.Reply{}, userErrorf("Schedules are not available on this bot.")
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(keyword(c.word(0)), "#"), 10, 64)
	if err != nil {
		return chat.Reply{}, userErrorf("%q is not a schedule id; see schedules.", c.word(0))
	}
	if err := r.cfg.Scheduler.Remove(ctx, c.req.Channel, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return chat.Reply{}, userErrorf("There is no schedule #%d in this channel. Try: schedules", id)
		}
		return chat.Reply{}, fmt.Errorf("remove schedule %d: %w", id, err)
	}
	return public("removed schedule #%d", id), nil
}

// snapshotsTurned answers notify snapshots: a private-cloud node sends no presentation frames,
// so there the setting is kept (the link may move to a public node) but the channel is told it
// will see nothing.
func (r *Router) snapshotsTurned(ctx context.Context, c *call, on bool) chat.Reply {
	if !on {
		return public("turned slide snapshots off")
	}
	if l, err := r.links.get(ctx, r.cfg.Store, c.req.Channel); err == nil && l.Cloud == string(meetings.PrivateCloud) {
		return public("turned slide snapshots on, but this meeting runs on a private-cloud node, which sends no " +
			"presentation frames, so no snapshots will be posted while it does")
	}
	return public("turned slide snapshots on: the meeting's thread gets a picture of the shared slides when they "+
		"change, at most one every %s", r.snapshotEvery())
}

// snapshotEvery is the least time between two snapshots, as the relay is configured.
func (r *Router) snapshotEvery() time.Duration {
	if r.cfg.SnapshotInterval > 0 {
		return r.cfg.SnapshotInterval
	}
	return 30 * time.Second
}
