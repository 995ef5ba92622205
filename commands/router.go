package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/joinurl"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/recording"
	"github.com/meetbot/meetbot/store"
)

// Meetings gives the core a session and the live roster of a linked meeting. relay.Supervisor
// implements it; cmd/bot wires it in. Every method is safe for concurrent use.
type Meetings interface {
	// Session returns a session in link's meeting: the listener's own where this replica listens,
	// else a pooled one. The core never closes it.
	Session(ctx context.Context, link store.Link) (*meetings.Session, error)
	// Roster returns the meeting's participants: the listener's live roster (from memory, no
	// request), else the answer of one participants request.
	Roster(ctx context.Context, link store.Link) ([]meetings.Participant, error)
	// Follow starts (or joins) the meeting's listener after link was stored, taking s over: from
	// then on the Meetings implementation owns s and closes it.
	Follow(ctx context.Context, link store.Link, s *meetings.Session) error
	// Unfollow is called after link was deleted: it stops the listener when no channel remains
	// linked to the meeting and ends its session.
	Unfollow(ctx context.Context, link store.Link) error
}

// Scheduler stores and runs schedules. scheduler.Scheduler implements it; cmd/bot wires it in.
type Scheduler interface {
	// Add validates s.Spec in s.TimeZone (a 5-field cron line or a one-time "2006-01-02 15:04"),
	// refuses a past time, computes NextRun, stores the schedule and starts it. Errors about the
	// spec offer UserMessage() string.
	Add(ctx context.Context, s store.Schedule) (store.Schedule, error)
	// Remove deletes schedule id of ch; the error wraps store.ErrNotFound when ch has no such one.
	Remove(ctx context.Context, ch chat.ChannelRef, id int64) error
	// List returns the schedules of ch, ordered by id.
	List(ctx context.Context, ch chat.ChannelRef) ([]store.Schedule, error)
}

// Config is what a Router needs. Store, Client and Meetings are required.
type Config struct {
	Store     store.Store
	Client    *meetings.Client
	Meetings  Meetings
	Scheduler Scheduler // nil: the schedule commands answer that schedules are off
	// APIServer is the checkJoin server's base URL, recorded in each link's MeetingRef.
	APIServer string
	// BotName is the display name the bot joins meetings with ("meetbot" when empty).
	BotName string
	// DefaultCloud is the node kind ("public" or "private", from MEET_CLOUD) for links whose kind
	// the user did not name and detection could not tell. Empty means public.
	DefaultCloud string
	// Recorder is the operator's recorder URL template (MEET_RECORDER_URL); the zero Template
	// turns record off.
	Recorder recording.Template
	// JoinURL is MEET_JOIN_URL: status and link's confirmation carry the meeting's join page as
	// Reply.JoinURL (a Join button or link). The zero Template leaves it out.
	JoinURL joinurl.Template
	// DefaultTimeZone is the IANA zone of schedules in channels that set none (SCHEDULE_TZ);
	// empty leaves the choice to the Scheduler.
	DefaultTimeZone string
	// SnapshotInterval is the least time between two slide snapshots of one meeting
	// (SNAPSHOT_INTERVAL), for notify's answer; zero means the default, 30 s.
	SnapshotInterval time.Duration
	Logger           *slog.Logger     // nil: discard
	Now              func() time.Time // nil: time.Now
	// LinkTTL is how long a channel's link is reused from memory before the store is read again
	// (default 2 s; negative reads the store for every command). A link changed through another
	// replica is seen within LinkTTL; this router's own link and unlink are seen at once.
	LinkTTL time.Duration
	// Observer, when set, is called once per request with the command's name ("unknown" for an
	// unknown command), its outcome ("ok"; "failed" when the command ran and did not do what was
	// asked; "refused" by rights, usage or node kind before it ran; "confirm" when it asked first;
	// "unknown" when a command that is not safe to repeat went unconfirmed; "unavailable" when the
	// platform or the database did not answer; "error" and "panic" for answers with a ref) and
	// how long it took, for metrics.
	Observer func(command, outcome string, d time.Duration)
}

// Router is the command core: it parses a request, checks rights and node support from the
// registry, runs the command and answers with a reply. It is safe for concurrent use.
type Router struct {
	cfg   Config
	reg   *registry
	log   *slog.Logger
	links *linkCache
}

var _ chat.Handler = (*Router)(nil)

// New returns a Router for cfg.
func New(cfg Config) *Router {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BotName == "" {
		cfg.BotName = "meetbot"
	}
	if cfg.DefaultCloud != string(meetings.PrivateCloud) {
		cfg.DefaultCloud = string(meetings.PublicCloud)
	}
	if cfg.LinkTTL == 0 {
		cfg.LinkTTL = defaultLinkTTL
	}
	return &Router{cfg: cfg, reg: newRegistry(), log: cfg.Logger, links: &linkCache{ttl: cfg.LinkTTL}}
}

// call is one request being handled: the parsed command and what the dispatcher loaded for it. It
// lives for one request and is never shared.
type call struct {
	reg       *registry
	req       chat.Request
	cmd       *command
	args      []Token
	skip      int        // how many bare words of req.Text precede args (the command word, /meet)
	confirmed bool       // the request ended with the word confirm
	link      store.Link // loaded when cmd.needsLink
	sealed    bool       // cmd.sealedOK and the link's PIN is sealed under another key: link not loaded
	private   bool       // the linked meeting runs on a private-cloud node
}

// word returns argument i's text, or "".
func (c *call) word(i int) string {
	if i < len(c.args) {
		return c.args[i].Text
	}
	return ""
}

// kw returns argument i folded as a keyword, or "" when it is absent or quoted.
func (c *call) kw(i int) string {
	if i < len(c.args) && !c.args[i].Quoted {
		return keyword(c.args[i].Text)
	}
	return ""
}

// group returns the group keyword (guests, all) argument i stands for, or "".
func (c *call) group(i int) string {
	k := c.kw(i)
	if k != "" && slices.Contains(c.cmd.groups, k) {
		return k
	}
	return ""
}

// line writes c back as a command line: its name and arguments, argument i replaced by
// replace[i] where given, quoted words kept quoted, and confirm at the end when confirm is set.
func (c *call) line(replace map[int]string, confirm bool) string {
	var b strings.Builder
	b.WriteString(c.cmd.name)
	for i, t := range c.args {
		b.WriteByte(' ')
		switch w, ok := replace[i]; {
		case ok:
			b.WriteString(quote(w))
		case t.Quoted:
			b.WriteString(quoteAlways(t.Text))
		default:
			b.WriteString(quote(t.Text))
		}
	}
	if confirm {
		b.WriteString(" confirm")
	}
	return b.String()
}

// text returns the command as the user gave it, with every word that could be a secret masked
// (secrets.go), for the audit log and logs.
func (c *call) text() string {
	var masked map[int]string
	if c.cmd.secrets != nil {
		masked = c.cmd.secrets(c.reg, c.args)
	}
	return c.line(masked, c.confirmed)
}

// Handle runs one request and returns the reply. It never fails: every failure is a reply.
func (r *Router) Handle(ctx context.Context, req chat.Request) chat.Reply {
	start := time.Now()
	c, reply, ok := r.parse(req)
	name := "unknown"
	if c != nil {
		name = c.cmd.name
	}
	out := outcomeFailed
	if ok {
		reply, out = r.dispatch(ctx, c)
	}
	if r.cfg.Observer != nil {
		r.cfg.Observer(name, string(out), time.Since(start))
	}
	// Judged from the words alone, parsed or not, so a malformed or unknown command that may hold
	// a PIN is flagged as surely as a well-formed link.
	toks, _ := words(req.Text)
	reply.CarriedSecret = r.reg.carriesSecret(toks)
	return reply
}

// words returns the tokens of a request's text without its /meet or !meet prefix, and whether it
// had one.
func words(text string) ([]Token, bool) {
	toks := Tokenize(text)
	if len(toks) > 0 && !toks[0].Quoted {
		// "/meet mute Bob" typed whole into a console or a Matrix room.
		if k := keyword(toks[0].Text); k == "/meet" || k == "!meet" {
			return toks[1:], true
		}
	}
	return toks, false
}

// parse finds the command of req. When it cannot, it returns the reply that says why.
func (r *Router) parse(req chat.Request) (*call, chat.Reply, bool) {
	toks, prefixed := words(req.Text)
	skip := 1
	if prefixed {
		skip = 2
	}
	if len(toks) == 0 {
		return nil, r.helpAll(false), false
	}
	cmd, ok := r.reg.lookup(toks[0].Text)
	if !ok || toks[0].Quoted {
		return nil, unknownReply(r.reg, toks[0].Text), false
	}
	return newCall(r.reg, req, cmd, toks[1:], skip), chat.Reply{}, true
}

// newCall returns the call of cmd with args. The trailing word confirm confirms a command that
// asks first.
func newCall(g *registry, req chat.Request, cmd *command, args []Token, skip int) *call {
	c := &call{reg: g, req: req, cmd: cmd, args: args, skip: skip}
	if n := len(c.args); n > 0 && c.kw(n-1) == "confirm" && (cmd.confirm || cmd.private.support == confirmOnly) {
		c.args, c.confirmed = c.args[:n-1], true
	}
	// People type "mute Alice Zhang" without quotes: when the name is the last argument, the
	// words after it belong to it.
	if last := cmd.nameArg; last >= 0 && last == cmd.maxArgs-1 && len(c.args) > cmd.maxArgs {
		words := make([]string, 0, len(c.args)-last)
		for _, t := range c.args[last:] {
			words = append(words, t.Text)
		}
		c.args = append(c.args[:last:last], Token{Text: strings.Join(words, " "), Quoted: true})
	}
	return c
}

// unknownReply answers an unknown command word with the nearest command.
func unknownReply(g *registry, word string) chat.Reply {
	// No command word holds a digit; one that does may be a PIN typed first or a whole quoted line.
	word = maskDigits(word)
	if len([]rune(word)) > 40 {
		word = string([]rune(word)[:40]) + "…"
	}
	if near := g.nearest(word); near != "" {
		return failed("Unknown command %q. Did you mean %s? Try: help", word, near)
	}
	return failed("Unknown command %q. Try: help", word)
}

// failed returns a private reply with one line, marked as failed.
func failed(format string, args ...any) chat.Reply {
	return chat.Reply{Text: fmt.Sprintf(format, args...), Failed: true}
}

// dispatch checks c against the registry (rights, arguments, link, node kind), runs its handler,
// writes the audit entry and returns the reply with its outcome for the Observer.
func (r *Router) dispatch(ctx context.Context, c *call) (chat.Reply, outcome) {
	reply, err := r.check(ctx, c)
	out := outcomeRefused
	if reply != nil {
		out = outcomeConfirm
	}
	if err == nil && reply == nil {
		var rep chat.Reply
		rep, err = r.run(ctx, c)
		reply = &rep
		out = outcomeOK
	}
	if err != nil {
		var rerr *replyError
		errOut := outcomeFailed
		if errors.As(err, &rerr) {
			reply = &rerr.reply
		} else {
			var rep chat.Reply
			rep, errOut = r.errorReply(c, err)
			reply = &rep
		}
		switch {
		case errOut != outcomeFailed:
			// Not answering, outcome unknown, a reference: whether before or while it ran.
			out = errOut
		case out == outcomeOK:
			out = outcomeFailed
		}
	}
	if c.req.Scheduled && reply.Confirm != nil {
		// No one is there to confirm a scheduled run.
		rep := failed("Not run, since it asks to confirm: %s Schedule it with confirm at the end.", reply.Confirm.Prompt)
		reply = &rep
	}
	switch {
	case reply.Failed && out == outcomeOK:
		out = outcomeFailed
	case reply.Confirm != nil:
		out = outcomeConfirm
	}
	r.log.DebugContext(ctx, "command", "command", c.text(), "channel", c.req.Channel.String(),
		"user", c.req.User.ID, "outcome", string(out))
	// A scheduled run is audited by the scheduler, under the schedule's number, once per run.
	if c.cmd.changes && !c.req.Scheduled {
		r.auditEntry(ctx, c, *reply, err)
	}
	return *reply, out
}

// check applies the registry's rules to c before its handler runs. It returns a reply when the
// command must not run (a confirmation to ask), or an error.
func (r *Router) check(ctx context.Context, c *call) (*chat.Reply, error) {
	cmd := c.cmd
	if c.req.Rights < cmd.rights {
		return nil, userErrorf("You need %s rights for %s.", cmd.rights, cmd.name)
	}
	if len(c.args) < cmd.minArgs || (cmd.maxArgs >= 0 && len(c.args) > cmd.maxArgs) {
		hint := ""
		if cmd.nameArg >= 0 && cmd.nameArg != cmd.maxArgs-1 {
			hint = ` Put a name with spaces in quotes: "Alice Zhang".`
		}
		return nil, userErrorf("Usage: %s.%s", strings.Join(cmd.usage, " | "), hint)
	}
	if !cmd.needsLink {
		return nil, nil
	}
	link, err := r.links.get(ctx, r.cfg.Store, c.req.Channel)
	if err != nil {
		if cmd.sealedOK && errors.Is(err, store.ErrWrongKey) {
			c.sealed = true
			return nil, nil
		}
		return nil, fmt.Errorf("get link of %s: %w", c.req.Channel, err)
	}
	c.link = link
	c.private = link.Cloud == string(meetings.PrivateCloud)
	if !c.private {
		return nil, nil
	}
	switch rule := cmd.private; rule.support {
	case unsupported:
		return nil, userErrorf("This meeting runs on a private-cloud node, which does not support %s.", rule.what)
	case noEffect:
		return nil, userErrorf("%s has no effect on a private-cloud node, so nothing was done.", upperFirst(rule.what))
	case confirmOnly:
		if c.confirmed || cmd.nameArg < 0 || c.group(cmd.nameArg) != "" {
			return nil, nil
		}
		p, err := r.resolveArg(ctx, c, cmd.nameArg)
		if err != nil {
			return nil, err
		}
		if err := refuseUnsupported(p, cmd.capability); err != nil {
			return nil, err // before asking to confirm what could not be done
		}
		return &chat.Reply{
			Confirm: &chat.Confirm{
				Prompt: fmt.Sprintf("This meeting runs on a private-cloud node, where %s %s %s anyway?",
					rule.what, upperFirst(cmd.name), p.DisplayName),
				Command: c.line(map[int]string{cmd.nameArg: idRef(p.UUID)}, true),
				Label:   upperFirst(cmd.name),
			},
		}, nil
	}
	return nil, nil
}

// run calls c's handler, turning a panic into an error with a reference.
func (r *Router) run(ctx context.Context, c *call) (reply chat.Reply, err error) {
	defer func() {
		if p := recover(); p != nil {
			ref := newRef()
			r.log.ErrorContext(ctx, "command panicked", "ref", ref, "command", c.text(),
				"channel", c.req.Channel.String(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			reply, err = chat.Reply{}, &panicError{ref: ref}
		}
	}()
	return c.cmd.run(r, ctx, c)
}

// errorReply turns a handler's error into the reply and its outcome: a safe line, or a reference
// logged once.
func (r *Router) errorReply(c *call, err error) (chat.Reply, outcome) {
	var pe *panicError
	if errors.As(err, &pe) {
		return failed("Something went wrong (ref %s)", pe.ref), outcomePanic // logged with the stack already
	}
	msg, out := explain(err, c.cmd.name)
	if out != outcomeError {
		if errors.Is(err, meetings.ErrForbidden) && strings.EqualFold(c.link.Role, "GUEST") {
			msg += " The bot is in this meeting as a guest; link again with the host PIN to use host commands."
		}
		return chat.Reply{Text: msg, Failed: true}, out
	}
	ref := newRef()
	r.log.Error("command failed", "ref", ref, "command", c.text(), "channel", c.req.Channel.String(),
		"user", c.req.User.ID, "err", err)
	return failed("Something went wrong (ref %s)", ref), outcomeError
}

// auditEntry records a command that changes a meeting or the channel, with its outcome.
func (r *Router) auditEntry(ctx context.Context, c *call, reply chat.Reply, err error) {
	ok := err == nil && !reply.Failed && reply.Confirm == nil
	outcome := "ok"
	switch {
	case reply.Confirm != nil:
		outcome = "asked to confirm"
	case !ok:
		outcome = firstLine(reply.Text)
	}
	e := store.AuditEntry{Time: r.cfg.Now(), Channel: c.req.Channel, User: c.req.User, Command: c.text(), Outcome: outcome, OK: ok}
	// The audit entry is written even when the request's context has just ended.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.cfg.Store.AppendAudit(actx, e); err != nil {
		r.log.Warn("audit entry lost", "command", e.Command, "channel", c.req.Channel.String(), "err", err)
	}
}

// skipWords returns s without its first n words, which must be bare (unquoted), and without the
// spaces around the rest.
func skipWords(s string, n int) string {
	for range n {
		s = strings.TrimLeftFunc(s, isSep)
		_, size := utf8.DecodeRuneInString(s)
		if i := strings.IndexFunc(s[size:], func(r rune) bool { return isSep(r) || breaksWord(r) }); i >= 0 {
			s = s[size+i:]
		} else {
			s = ""
		}
	}
	return strings.TrimFunc(s, isSep)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// session returns the session of c's linked meeting.
func (r *Router) session(ctx context.Context, c *call) (*meetings.Session, error) {
	s, err := r.cfg.Meetings.Session(ctx, c.link)
	if err != nil {
		return nil, fmt.Errorf("session for %s: %w", c.link.Meeting, err)
	}
	return s, nil
}

// roster returns the live roster of c's linked meeting.
func (r *Router) roster(ctx context.Context, c *call) ([]meetings.Participant, error) {
	ps, err := r.cfg.Meetings.Roster(ctx, c.link)
	if err != nil {
		return nil, fmt.Errorf("roster of %s: %w", c.link.Meeting, err)
	}
	// Every reply composes names into its text: each is one line, so a name cannot add a line of
	// its own. The roster is the relay's; the names are changed in a copy.
	out := make([]meetings.Participant, len(ps))
	for i, p := range ps {
		p.DisplayName = chat.OneLine(p.DisplayName)
		out[i] = p
	}
	return out, nil
}
