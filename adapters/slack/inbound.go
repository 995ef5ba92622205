package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/meetbot/meetbot/chat"
)

// removedText answers commands from a workspace that uninstalled the app or revoked its token.
const removedText = "meetbot was removed from this workspace, so it no longer runs meetings here. Reinstall the app to use /meet again."

// verified wraps an endpoint that takes bodies of at most limit bytes. In order, and each step
// before the next costs anything: the signature headers must be well formed and fresh (401), the
// declared size within limit (413), a read slot free (503); then the body is read (within the
// body timeout, 408; within the memory budget, 503), its signature checked (401), and its nonce
// claimed in the replay guard (401 for a replay, 503 when the guard cannot answer). A refused
// request changes nothing and its connection is closed, so the server does not read the rest of
// its body either. The body is put back for the library's parsers.
func (a *Adapter) verified(limit int64, next func(w http.ResponseWriter, r *http.Request, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.SigningSecret == "" {
			a.refuse(w, r, http.StatusUnauthorized, "slack HTTP endpoints are disabled: no signing secret", nil)
			return
		}
		sh, err := parseSignedHeaders(r.Header, a.now())
		if err != nil {
			a.refuse(w, r, http.StatusUnauthorized, "invalid request signature", err)
			return
		}
		if r.ContentLength > limit {
			a.refuse(w, r, http.StatusRequestEntityTooLarge, "request body too large", errTooLarge)
			return
		}
		release, ok := a.gate.enter(r.ContentLength)
		if !ok {
			w.Header().Set("Retry-After", "1")
			a.refuse(w, r, http.StatusServiceUnavailable, "too many requests being read; try again", errBusy)
			return
		}
		body, held, status, err := a.readBody(w, r, limit)
		if err == nil && !sh.verify(a.cfg.SigningSecret.Reveal(), body) {
			status, err = http.StatusUnauthorized, errBadSignature
		}
		a.gate.give(held)
		release()
		if err != nil {
			a.refuse(w, r, status, http.StatusText(status), err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		fresh, err := a.replay.ClaimNonce(ctx, sh.nonce(), replayTTL)
		cancel()
		if err != nil {
			// Fail closed: a guard that cannot answer (the database is down) cannot tell a replay
			// from a fresh request, and running a captured "end confirm" twice is worse than
			// asking the user to try again. Slack shows the 503 to the user.
			a.log.Error("replay check failed; refused the request", "path", r.URL.Path, "err", err)
			a.refuse(w, r, http.StatusServiceUnavailable, "cannot check for replays right now; try again", nil)
			return
		}
		if !fresh {
			a.refuse(w, r, http.StatusUnauthorized, "replayed request", errReplayed)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next(w, r, body)
	})
}

// Refusal reasons for the log (the signature errors are in guard.go).
var (
	errTooLarge = errors.New("declared body larger than the endpoint takes")
	errBusy     = errors.New("every read slot is taken")
	errSlowBody = errors.New("body not received in time")
	errReplayed = errors.New("replayed request")
)

// readBody reads at most limit bytes of r's body within the body timeout, drawing its memory
// from the gate's budget. It returns the bytes it holds of the budget, to be given back, and on
// failure the status to answer.
func (a *Adapter) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, int64, int, error) {
	// Not every ResponseWriter can set deadlines (the fuzz tests' recorder); the server's
	// ReadTimeout still bounds the read then.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(a.bodyTimeout))
	body, held, err := a.gate.read(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return body, held, 0, nil
	case errors.As(err, &tooLarge):
		return nil, held, http.StatusRequestEntityTooLarge, errTooLarge
	case errors.Is(err, errBudget):
		w.Header().Set("Retry-After", "1")
		return nil, held, http.StatusServiceUnavailable, errBudget
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, held, http.StatusRequestTimeout, errSlowBody
	}
	return nil, held, http.StatusBadRequest, fmt.Errorf("read body: %w", err)
}

// refuse answers status with msg and closes the connection. The refusal is logged, at most once
// per reason every few seconds.
func (a *Adapter) refuse(w http.ResponseWriter, r *http.Request, status int, msg string, why error) {
	w.Header().Set("Connection", "close")
	http.Error(w, msg, status)
	// After the handler, net/http reads up to 256 KiB of an unread body to keep the connection,
	// however slowly it comes. A read deadline already past makes it give up at once.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	if a.cfg.Refused != nil {
		a.cfg.Refused(r.URL.Path, status)
	}
	if why == nil {
		return
	}
	// Keyed by what the sender cannot vary (a read error may name its address), so the gate's
	// memory stays as small as the set of endpoints and statuses.
	if ok, held := a.logs.allow(r.URL.Path+" "+strconv.Itoa(status), a.now()); ok {
		a.log.Warn("refused request", "path", r.URL.Path, "status", status, "why", why, "similar_refusals_not_logged", held)
	}
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

// handleEvent acts on the Events API events the adapter subscribes to: app_home_opened publishes
// the viewer's Home tab in the background; app_uninstalled and tokens_revoked stop the workspace.
func (a *Adapter) handleEvent(ev slackevents.EventsAPIEvent) {
	if ev.Type != slackevents.CallbackEvent {
		return
	}
	switch ev.InnerEvent.Type {
	case string(slackevents.AppUninstalled), string(slackevents.AppUninstalledTeam):
		a.markGone(ev.TeamID, "app uninstalled")
	case string(slackevents.AppHomeOpened):
		if h, ok := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); ok && h.Tab == "home" && h.User != "" && ev.TeamID != "" {
			a.goWork(func(ctx context.Context) { a.publishHome(ctx, ev.TeamID, h.User) })
		}
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
//   - a choices or confirm message is replaced by the result;
//   - a waiting-room alert is edited to say who admitted whom (a refusal goes to the presser).
func (a *Adapter) runPress(ctx context.Context, p press) {
	if a.teamGone(p.Channel.Workspace) {
		a.respond(ctx, p.invocation, message{Text: removedText}, false, false)
		return
	}
	reply := a.handle(ctx, p.invocation)
	if p.Kind == kindWaiting {
		// The alert itself says who admitted whom; a refusal goes to the presser alone. The
		// alert is never replaced by the reply: it stays the one message of its burst.
		if reply.Public && !reply.Failed && strings.HasPrefix(p.Text, "admit ") && a.admittedFromAlert(p.Channel, p.Text, p.User.ID) {
			return
		}
		if reply.Public {
			a.respond(ctx, p.invocation, renderReply(reply, replyOptions{Requester: p.User.ID, Source: p.Text}), true, false)
			return
		}
		private := reply
		private.Public = false
		a.respond(ctx, p.invocation, renderReply(private, replyOptions{Source: p.Text}), false, false)
		return
	}
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
