package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/meetbot/meetbot/chat"
)

// Post sends one notification to a Slack channel (chat.Poster). The text is rendered inert for
// mrkdwn (plainText): names and chat messages in it cannot format, link or mention.
//
// With n.Threaded, while a meeting runs the channel has one "meeting in progress" message: the
// first notification posts it, every notification goes into its thread, and the message is
// edited in the background as the meeting changes; when the meeting ends it becomes a summary and
// the next meeting starts a new one. Without n.Threaded, or with no meeting running, the
// notification is a plain channel message.
//
// With a call card (calls:write, n.Meeting.JoinURL and n.Meeting.Occurrence set), the Slack
// Call's message takes the status message's place: calls.add on the meeting's first
// notification, its roster kept in the background, calls.end when it ends. Whatever the style,
// people waiting in n.Meeting.People get a waiting-room alert (unless n.NoWaitingAlerts), and a
// notification of only chat.Waiting posts no text of its own.
//
// n.Files go after the text, in the same thread (the channel when not threaded), through Slack's
// upload flow (postWithFiles); a retry of the same notification resumes at the step that failed.
//
// Post makes one chat.postMessage attempt for the notification and never retries it. Errors: a
// *chat.RateLimitError when Slack asks to slow down; chat.ErrChannelGone when the channel or the
// whole workspace can no longer be posted to (the bot was removed, the channel archived, the app
// uninstalled or its token revoked); any other error may be retried by the caller.
func (a *Adapter) Post(ctx context.Context, ch chat.ChannelRef, n chat.Notification) error {
	if len(n.Files) == 0 {
		_, err := a.postText(ctx, ch, n)
		return err
	}
	return a.postWithFiles(ctx, ch, n)
}

// postText posts n's text (none when it is empty) as Post documents and returns the thread its
// files belong in: the status message or call card of a threaded channel, else "" (the channel).
func (a *Adapter) postText(ctx context.Context, ch chat.ChannelRef, n chat.Notification) (string, error) {
	if ch.Platform != Platform || ch.Channel == "" {
		return "", fmt.Errorf("post to %s: not a Slack channel: %w", ch, chat.ErrChannelGone)
	}
	if a.teamGone(ch.Workspace) {
		return "", fmt.Errorf("post to %s: workspace stopped: %w", ch, chat.ErrChannelGone)
	}
	text := message{Text: truncateEscaped(plainText(n.Text), maxMessageText)}
	st := a.channelState(ch)
	// The channel's lock serialises its posts (and so holds across them): the order of messages
	// in a channel is the order of notifications.
	st.mu.Lock()
	defer st.mu.Unlock()
	stateless := !hasState(n.Meeting)
	if !n.NoWaitingAlerts && !stateless {
		if err := a.waitingAlerts(ctx, st, ch, n.Meeting); err != nil {
			return "", err
		}
		if onlyKinds(n.Kinds, chat.Waiting) && (st.waiting != nil || (st.hostWait != nil && !st.hostWait.started)) {
			return "", nil // the open waiting-room alert says it
		}
	}
	// The state says whether the meeting ended; a batch that ends one meeting and starts the next
	// carries MeetingEnded among its kinds but the new meeting's state. Only a notification with
	// no state at all is judged by its kinds.
	ended := n.Meeting.Ended ||
		(len(n.Meeting.Present) == 0 && len(n.Meeting.People) == 0 && n.Meeting.Started.IsZero() && slices.Contains(n.Kinds, chat.MeetingEnded))
	running := !ended && someoneIn(n.Meeting)

	if c := st.call; c != nil && ended {
		return a.closeCall(ctx, st, ch, n, text)
	}
	if c := st.call; c != nil && !stateless && c.occurrence != n.Meeting.Occurrence {
		// The meeting ended and began again between two notifications: a card per occurrence.
		a.endCall(c, a.now())
		st.call = nil
	}
	if (st.call != nil && !stateless) || (st.status == nil && running && st.callRefused != n.Meeting.Occurrence && a.callable(n.Meeting)) {
		// Creates the call the first time, posts its block until that succeeds, updates its roster.
		err := a.syncCall(ctx, st, ch, n.Meeting)
		if err != nil && !errors.Is(err, errCallRefused) {
			return "", err
		}
	}
	if c := st.call; c != nil {
		thread := ""
		if n.Threaded {
			thread = c.ts
		}
		_, err := a.postMessage(ctx, ch, text, thread)
		return thread, err
	}
	if !n.Threaded {
		_, err := a.postMessage(ctx, ch, text, "")
		return "", err
	}

	if st.status == nil {
		if ended || !running {
			_, err := a.postMessage(ctx, ch, text, "")
			return "", err
		}
		m := renderStatus(n.Meeting, a.now())
		ts, err := a.postMessage(ctx, ch, m, "")
		if err != nil {
			return "", err
		}
		st.status = &statusMsg{ch: ch, ts: ts, have: keyOf(m)}
	}
	sm := st.status
	if _, err := a.postMessage(ctx, ch, text, sm.ts); err != nil {
		var se slackgo.SlackErrorResponse
		if errors.As(err, &se) && (se.Err == "thread_not_found" || se.Err == "message_not_found") {
			st.status = nil // someone deleted the status message: the retry starts a new one
		}
		return "", err
	}
	state := n.Meeting
	if ended {
		state.Ended = true
		st.status = nil
	}
	a.editStatus(sm, renderStatus(state, a.now()))
	return sm.ts, nil
}

// closeCall posts n of a meeting that ended (into the call's thread in threaded mode), ends the
// channel's call card (calls.end with the duration, in the background) and, in threaded mode,
// posts the meeting's summary in the channel, as the status message would have become.
func (a *Adapter) closeCall(ctx context.Context, st *channelState, ch chat.ChannelRef, n chat.Notification, text message) (string, error) {
	c := st.call
	thread := ""
	if n.Threaded {
		thread = c.ts
	}
	if _, err := a.postMessage(ctx, ch, text, thread); err != nil {
		return "", err
	}
	a.endCall(c, a.now())
	st.call = nil
	if n.Threaded {
		state := n.Meeting
		state.Ended = true
		if state.Started.IsZero() {
			state.Started = c.started
		}
		if _, err := a.postMessage(ctx, ch, renderStatus(state, a.now()), ""); err != nil {
			a.log.Warn("meeting summary not posted", "channel", ch.String(), "err", err)
		}
	}
	return thread, nil
}

// hasState reports whether m describes a meeting at all: a notification of a schedule that ran,
// or one from a relay that fills no state, says nothing about the roster, so it must not empty
// the call card or close a waiting-room alert.
func hasState(m chat.MeetingState) bool {
	return m.Occurrence != "" || len(m.People) > 0 || len(m.Present) > 0 || m.Ended || !m.Started.IsZero() || m.WaitingForHost
}

// someoneIn reports whether anyone is in the meeting itself (not only in its waiting room).
func someoneIn(m chat.MeetingState) bool {
	if len(m.Present) > 0 {
		return true
	}
	for _, p := range m.People {
		if !p.Waiting {
			return true
		}
	}
	return false
}

// onlyKinds reports whether kinds is non-empty and holds only k.
func onlyKinds(kinds []chat.NoticeKind, k chat.NoticeKind) bool {
	for _, x := range kinds {
		if x != k {
			return false
		}
	}
	return len(kinds) > 0
}

// channelState is what Post remembers about one channel.
type channelState struct {
	team   string
	mu     sync.Mutex // serialises posts to the channel
	status *statusMsg // the open "meeting in progress" message, or nil
	call   *callCard  // the open call card, or nil
	// callRefused is the occurrence Slack would not make a call of (it gets the status message).
	callRefused string
	waiting     *waitAlert // the open waiting-room alert, or nil
	hostWait    *hostAlert // the "waiting for a host" alert of the latest occurrence, or nil

	filesMu sync.Mutex // serialises notifications with files, and guards files
	files   *filePost  // how far the latest one got, while the relay may retry it
}

func (a *Adapter) channelState(ch chat.ChannelRef) *channelState {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.channels[ch.String()]
	if !ok {
		st = &channelState{team: ch.Workspace}
		a.channels[ch.String()] = st
	}
	return st
}

func (a *Adapter) forgetChannel(ch chat.ChannelRef) {
	a.mu.Lock()
	delete(a.channels, ch.String())
	a.mu.Unlock()
}

// postMessage makes one chat.postMessage attempt, into thread when thread is set, and returns the
// message's ts. Errors are mapped as Post documents.
func (a *Adapter) postMessage(ctx context.Context, ch chat.ChannelRef, m message, thread string) (string, error) {
	if m.Text == "" && len(m.Blocks) == 0 {
		return "", nil // a notification of files only: its files carry it
	}
	opts := []slackgo.MsgOption{slackgo.MsgOptionText(m.Text, false), slackgo.MsgOptionDisableLinkUnfurl(),
		slackgo.MsgOptionDisableMediaUnfurl()}
	if len(m.Blocks) > 0 {
		opts = append(opts, slackgo.MsgOptionBlocks(m.Blocks...))
	}
	if thread != "" {
		opts = append(opts, slackgo.MsgOptionTS(thread))
	}
	_, ts, err := a.api.PostMessageContext(ctx, ch.Channel, opts...)
	if err != nil {
		return "", fmt.Errorf("post to %s: %w", ch, a.mapError(ch, err))
	}
	return ts, nil
}

// Slack error codes that mean a channel, or the whole workspace, is out of reach.
var (
	channelGoneCodes = []string{"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"}
	teamGoneCodes    = []string{"account_inactive", "token_revoked", "invalid_auth", "not_authed",
		"team_access_not_granted", "app_uninstalled", "team_not_found", "org_login_required"}
	// refusedCodes mean Slack will never take this message as it is (too long, invalid blocks, a
	// workspace policy, a revoked Enterprise Key): posting it again cannot help, a smaller or
	// plainer one may. restricted_action covers its variants (read-only, thread-only channels).
	refusedCodes = []string{"restricted_action", "invalid_blocks", "invalid_blocks_format", "msg_too_long",
		"ekm_access_denied", "too_many_attachments", "no_text", "invalid_attachments", "msg_blocks_too_long"}
)

// refused reports whether a Slack error code refuses the message for good.
func refused(code string) bool {
	for _, c := range refusedCodes {
		if code == c || strings.HasPrefix(code, c+"_") {
			return true
		}
	}
	return false
}

// defaultRetryAfter is the wait when Slack says "ratelimited" without a Retry-After.
const defaultRetryAfter = time.Second

// mapError turns a Web API error into what chat.Poster promises: *chat.RateLimitError for a rate
// limit, chat.ErrChannelGone for a channel or workspace out of reach (which also stops the
// workspace when its token is gone), else err itself.
func (a *Adapter) mapError(ch chat.ChannelRef, err error) error {
	var rl *slackgo.RateLimitedError
	if errors.As(err, &rl) {
		d := rl.RetryAfter
		if d <= 0 {
			d = defaultRetryAfter
		}
		return &chat.RateLimitError{RetryAfter: d, Err: err}
	}
	var sc slackgo.StatusCodeError
	if errors.As(err, &sc) && sc.Code == http.StatusTooManyRequests {
		return &chat.RateLimitError{RetryAfter: defaultRetryAfter, Err: err}
	}
	var se slackgo.SlackErrorResponse
	if !errors.As(err, &se) {
		return err
	}
	switch {
	case se.Err == "ratelimited" || se.Err == "rate_limited":
		return &chat.RateLimitError{RetryAfter: defaultRetryAfter, Err: err}
	case slices.Contains(channelGoneCodes, se.Err):
		a.forgetChannel(ch)
		return fmt.Errorf("%w: %w", chat.ErrChannelGone, err)
	case slices.Contains(teamGoneCodes, se.Err):
		a.markGone(ch.Workspace, se.Err)
		return fmt.Errorf("%w: %w", chat.ErrChannelGone, err)
	case refused(se.Err):
		return fmt.Errorf("%w: %w", chat.ErrMessageRefused, err)
	}
	return err
}

// statusMsg is one "meeting in progress" message and the edits it still needs. Edits run in one
// background goroutine per message, at most one every statusGap, always with the newest content.
type statusMsg struct {
	ch chat.ChannelRef
	ts string

	mu      sync.Mutex
	want    *message
	have    string // key of what the message shows now
	running bool
}

// keyOf identifies a message's content, to skip edits that change nothing.
func keyOf(m message) string {
	b, err := json.Marshal(struct {
		T string
		B []slackgo.Block
	}{m.Text, m.Blocks})
	if err != nil {
		return m.Text
	}
	return string(b)
}

// editStatus asks for sm to show m, starting its edit loop if idle.
func (a *Adapter) editStatus(sm *statusMsg, m message) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.want = &m
	if sm.running || keyOf(m) == sm.have {
		return
	}
	sm.running = true
	a.work.Add(1)
	go func() {
		defer a.work.Done()
		a.statusLoop(a.base, sm)
	}()
}

// statusLoop edits sm until it shows the newest wanted content, the adapter stops, or it gives up.
func (a *Adapter) statusLoop(ctx context.Context, sm *statusMsg) {
	var last time.Time
	failures := 0
	for {
		if wait := a.statusGap - time.Since(last); !last.IsZero() && wait > 0 && !sleep(ctx, wait) {
			break
		}
		sm.mu.Lock()
		m := *sm.want
		key := keyOf(m)
		if key == sm.have || a.teamGone(sm.ch.Workspace) {
			sm.running = false
			sm.mu.Unlock()
			return
		}
		sm.mu.Unlock()

		_, _, _, err := a.api.UpdateMessageContext(ctx, sm.ch.Channel, sm.ts,
			slackgo.MsgOptionText(m.Text, false), slackgo.MsgOptionBlocks(m.Blocks...))
		last = time.Now()
		if err == nil {
			failures = 0
			sm.mu.Lock()
			sm.have = key
			sm.mu.Unlock()
			continue
		}
		mapped := a.mapError(sm.ch, err)
		var rl *chat.RateLimitError
		var se slackgo.SlackErrorResponse
		switch {
		case errors.As(mapped, &rl):
			if !sleep(ctx, rl.RetryAfter) {
				break
			}
			continue
		case errors.Is(mapped, chat.ErrChannelGone),
			errors.As(err, &se) && (se.Err == "message_not_found" || se.Err == "cant_update_message"):
			a.log.Warn("status message can no longer be edited", "channel", sm.ch.String(), "err", err)
			failures = 5
		default:
			failures++
			a.log.Warn("status message edit failed; will retry", "channel", sm.ch.String(), "err", err)
		}
		if failures >= 5 || ctx.Err() != nil {
			if failures >= 5 {
				a.log.Error("gave up editing status message", "channel", sm.ch.String(), "err", err)
			}
			break
		}
		if !sleep(ctx, time.Duration(failures)*time.Second) {
			break
		}
	}
	sm.mu.Lock()
	sm.running = false
	sm.mu.Unlock()
}
