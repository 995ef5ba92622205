package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/meetbot/meetbot/chat"
)

// maxBody bounds an inbound request body; Slack's are a few kilobytes.
const maxBody = 1 << 20

// removedText answers commands from a workspace that uninstalled the app or revoked its token.
const removedText = "meetbot was removed from this workspace, so it no longer runs meetings here. Reinstall the app to use /meet again."

// verified wraps an endpoint: it reads the raw body, checks Slack's signature over it (and the
// five-minute timestamp window) and refuses replays, all before anything is parsed. A request
// that fails gets 401 and changes nothing. The body is put back for the library's parsers.
func (a *Adapter) verified(next func(w http.ResponseWriter, r *http.Request, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.SigningSecret == "" {
			http.Error(w, "slack HTTP endpoints are disabled: no signing secret", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		sv, err := slackgo.NewSecretsVerifier(r.Header, a.cfg.SigningSecret.Reveal())
		if err == nil {
			_, _ = sv.Write(body)
			err = sv.Ensure()
		}
		if err != nil {
			a.log.Warn("refused unsigned or stale request", "path", r.URL.Path, "err", err)
			http.Error(w, "invalid request signature", http.StatusUnauthorized)
			return
		}
		if !a.replay.first(r.Header.Get("X-Slack-Signature"), a.now()) {
			a.log.Warn("refused replayed request", "path", r.URL.Path)
			http.Error(w, "replayed request", http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next(w, r, body)
	})
}

// invocation is one command from Slack, typed or clicked, with where to answer.
type invocation struct {
	Channel     chat.ChannelRef
	User        chat.UserRef
	Text        string
	ResponseURL string
	ThreadTS    string
}

// serveCommand acknowledges a slash command at once and runs it in the background.
func (a *Adapter) serveCommand(w http.ResponseWriter, r *http.Request, _ []byte) {
	cmd, err := slackgo.SlashCommandParse(r)
	if err != nil {
		http.Error(w, "bad slash command", http.StatusBadRequest)
		return
	}
	inv, ok := commandInvocation(cmd, r.PostForm.Get("thread_ts"))
	if !ok {
		http.Error(w, "slash command lacks team, channel, user or response_url", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	a.goWork(func(ctx context.Context) { a.runCommand(ctx, inv) })
}

// commandInvocation reads a slash command; ok is false when it lacks what an answer needs.
func commandInvocation(cmd slackgo.SlashCommand, threadTS string) (invocation, bool) {
	inv := invocation{
		Channel:     chat.ChannelRef{Platform: Platform, Workspace: cmd.TeamID, Channel: cmd.ChannelID},
		User:        chat.UserRef{ID: cmd.UserID, Name: cmd.UserName},
		Text:        strings.TrimSpace(cmd.Text),
		ResponseURL: cmd.ResponseURL,
		ThreadTS:    threadTS,
	}
	if inv.Text == "" {
		inv.Text = "help"
	}
	ok := cmd.TeamID != "" && cmd.ChannelID != "" && cmd.UserID != "" && cmd.ResponseURL != ""
	return inv, ok
}

// serveInteraction acknowledges a button press at once and runs its command in the background.
func (a *Adapter) serveInteraction(w http.ResponseWriter, r *http.Request, _ []byte) {
	ic, err := slackgo.InteractionCallbackParse(r)
	if err != nil {
		http.Error(w, "bad interaction payload", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	a.dispatchInteraction(ic)
}

// press is a button press: the command on the button and the block it came from.
type press struct {
	invocation
	Kind   string // kindRow, kindChoice, kindConfirm
	Source string // for rows: the command whose reply the table was
}

// interactionPress reads a block action of ours; ok is false for anything else.
func interactionPress(ic slackgo.InteractionCallback) (press, bool) {
	if ic.Type != slackgo.InteractionTypeBlockActions || len(ic.ActionCallback.BlockActions) == 0 {
		return press{}, false
	}
	act := ic.ActionCallback.BlockActions[0]
	if act == nil {
		return press{}, false
	}
	kind, source, ok := parseBlockID(act.BlockID)
	text := strings.TrimSpace(act.Value)
	if !ok || text == "" {
		return press{}, false
	}
	channel := ic.Channel.ID
	if channel == "" {
		channel = ic.Container.ChannelID
	}
	team := ic.Team.ID
	if team == "" {
		team = ic.User.TeamID
	}
	thread := ic.Container.ThreadTs
	if thread == "" {
		thread = ic.Message.ThreadTimestamp
	}
	p := press{
		invocation: invocation{
			Channel:     chat.ChannelRef{Platform: Platform, Workspace: team, Channel: channel},
			User:        chat.UserRef{ID: ic.User.ID, Name: firstNonEmpty(ic.User.Name, ic.User.Profile.DisplayName)},
			Text:        text,
			ResponseURL: ic.ResponseURL,
			ThreadTS:    thread,
		},
		Kind:   kind,
		Source: source,
	}
	if team == "" || channel == "" || ic.User.ID == "" || ic.ResponseURL == "" {
		return press{}, false
	}
	return p, true
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// dispatchInteraction runs a press of one of our buttons in the background; it ignores anything
// else (other interaction types, foreign blocks).
func (a *Adapter) dispatchInteraction(ic slackgo.InteractionCallback) {
	p, ok := interactionPress(ic)
	if !ok {
		a.log.Debug("ignored interaction", "type", ic.Type)
		return
	}
	a.goWork(func(ctx context.Context) { a.runPress(ctx, p) })
}

// serveEvent answers url_verification and stops work for a workspace on app_uninstalled and
// tokens_revoked. Other events are acknowledged and ignored.
func (a *Adapter) serveEvent(w http.ResponseWriter, _ *http.Request, body []byte) {
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil && ev.Type == "" {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	if ev.Type == slackevents.URLVerification {
		if v, ok := ev.Data.(*slackevents.EventsAPIURLVerificationEvent); ok {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"challenge": v.Challenge})
			return
		}
	}
	a.handleEvent(ev)
	w.WriteHeader(http.StatusOK)
}

// handleEvent acts on the Events API events the adapter subscribes to.
func (a *Adapter) handleEvent(ev slackevents.EventsAPIEvent) {
	if ev.Type != slackevents.CallbackEvent {
		return
	}
	switch ev.InnerEvent.Type {
	case string(slackevents.AppUninstalled), string(slackevents.AppUninstalledTeam):
		a.markGone(ev.TeamID, "app uninstalled")
	case string(slackevents.TokensRevoked):
		if t, ok := ev.InnerEvent.Data.(*slackevents.TokensRevokedEvent); ok && len(t.Tokens.Bot) == 0 {
			return // only user tokens, which the bot does not use
		}
		a.markGone(ev.TeamID, "tokens revoked")
	}
}

// handle resolves the user's rights and runs inv through the command core.
func (a *Adapter) handle(ctx context.Context, inv invocation) chat.Reply {
	rights, err := a.rights.resolve(ctx, inv.User.ID)
	if err != nil {
		a.log.Warn("rights lookup failed; using what is known", "user", inv.User.ID, "rights", rights, "err", err)
	}
	return a.h.Handle(ctx, chat.Request{Channel: inv.Channel, User: inv.User, Rights: rights, Text: inv.Text})
}

// runCommand runs a typed command and answers through its response_url: in the channel (and
// thread) for a public reply, to the requester alone otherwise.
func (a *Adapter) runCommand(ctx context.Context, inv invocation) {
	if a.teamGone(inv.Channel.Workspace) {
		a.respond(ctx, inv, message{Text: removedText}, false, false)
		return
	}
	reply := a.handle(ctx, inv)
	msg := renderReply(reply, replyOptions{Requester: inv.User.ID, Source: inv.Text})
	a.respond(ctx, inv, msg, reply.Public, false)
}

// runPress runs a button's command through the same core and rights checks as a typed one, then
// updates the message the button was on:
//   - a public result is posted in the channel, attributed to the presser;
//   - a table's message is redrawn by running the table's command again (Mute becomes Unmute);
//   - a choices or confirm message is replaced by the result.
func (a *Adapter) runPress(ctx context.Context, p press) {
	if a.teamGone(p.Channel.Workspace) {
		a.respond(ctx, p.invocation, message{Text: removedText}, false, false)
		return
	}
	reply := a.handle(ctx, p.invocation)
	if reply.Public {
		a.respond(ctx, p.invocation, renderReply(reply, replyOptions{Requester: p.User.ID, Source: p.Text}), true, false)
	}
	switch {
	case p.Kind == kindRow && reply.Table == nil:
		if !reply.Public {
			// A refusal or error: tell the presser, keep the table.
			a.respond(ctx, p.invocation, renderReply(reply, replyOptions{Source: p.Text}), false, false)
		}
		if p.Source != "" && (reply.Public || !reply.Failed) {
			src := p.invocation
			src.Text = p.Source
			fresh := a.handle(ctx, src)
			if fresh.Table != nil {
				a.respond(ctx, p.invocation, renderReply(fresh, replyOptions{Source: p.Source}), false, true)
			}
		}
	default:
		private := reply
		private.Public = false
		a.respond(ctx, p.invocation, renderReply(private, replyOptions{Source: p.Text}), false, true)
	}
}

// respond delivers msg through inv's response_url: in_channel when public, else ephemeral; with
// replace, it replaces the message the interaction came from. A refusal from Slack (5xx, 429) is
// tried once more; a network error is not, so nothing is said twice.
func (a *Adapter) respond(ctx context.Context, inv invocation, msg message, public, replace bool) {
	wm := &slackgo.WebhookMessage{Text: msg.Text, ResponseType: slackgo.ResponseTypeEphemeral, ReplaceOriginal: replace}
	if public {
		wm.ResponseType = slackgo.ResponseTypeInChannel
	}
	if len(msg.Blocks) > 0 {
		wm.Blocks = &slackgo.Blocks{BlockSet: msg.Blocks}
	}
	if !replace {
		wm.ThreadTimestamp = inv.ThreadTS
	}
	no := false
	wm.UnfurlLinks, wm.UnfurlMedia = &no, &no
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		err = slackgo.PostWebhookCustomHTTPContext(ctx, inv.ResponseURL, a.httpc, wm)
		var sc slackgo.StatusCodeError
		var rl *slackgo.RateLimitedError
		wait := time.Second
		switch {
		case err == nil:
			return
		case errors.As(err, &rl):
			wait = rl.RetryAfter
		case errors.As(err, &sc) && sc.Code >= 500:
		default:
			attempt = 2
			continue
		}
		if !sleep(ctx, wait) {
			break
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the response_url is a credential: keep it out of the log
	}
	a.log.Error("reply not delivered", "channel", inv.Channel.String(), "user", inv.User.ID, "err", err)
}

// sleep waits d or until ctx is done; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// replayCache remembers the signatures of accepted requests for longer than the timestamp
// window, so the same signed request cannot be run twice.
type replayCache struct {
	mu   sync.Mutex
	seen map[string]time.Time // signature → when it may be forgotten
}

func newReplayCache() *replayCache { return &replayCache{seen: map[string]time.Time{}} }

// replayWindow outlasts the five-minute timestamp window on either side.
const replayWindow = 11 * time.Minute

// first records sig and reports whether it was new.
func (c *replayCache) first(sig string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until, ok := c.seen[sig]; ok && now.Before(until) {
		return false
	}
	if len(c.seen) >= 1024 {
		for k, until := range c.seen {
			if !now.Before(until) {
				delete(c.seen, k)
			}
		}
	}
	c.seen[sig] = now.Add(replayWindow)
	return true
}
