package relay

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// DefaultPace is the default Supervisor.Pace: at most one post per channel per second.
const DefaultPace = time.Second

// Retry pacing of one channel's outbox after an error other than a rate limit.
const (
	defaultBackoff    = 500 * time.Millisecond
	defaultMaxBackoff = 30 * time.Second
)

// Bounds of one channel's outbox.
const (
	// maxPending bounds the notices waiting for one channel (tens of bytes each): past it, the
	// oldest are dropped, counted and logged once, so a channel that cannot be posted to for a
	// long time costs a bounded amount of memory.
	maxPending = 10000
	// maxBatch bounds the notices one message covers; what is left goes into the next.
	maxBatch = 1000
	// minRefusedText is the length under which a refused single-line message is dropped rather
	// than shortened again.
	minRefusedText = 200
)

// outbox posts one channel's notices through a Poster, one goroutine per channel, so a slow
// channel holds up no other. An isolated notice is posted at once; after a post, what arrives
// within Pace is coalesced into the next message. Nothing is posted twice by the outbox itself;
// what it drops (a channel gone, a message refused for good, an overflow) it logs and counts.
type outbox struct {
	ch         chat.ChannelRef
	poster     chat.Poster
	settings   store.Settings
	pace       time.Duration
	backoff    time.Duration // first delay after a failed post; doubles up to maxBackoff
	maxBackoff time.Duration
	log        *slog.Logger
	obs        Observer
	state      func() chat.MeetingState // the meeting now, for Notification.Meeting; may be nil
	// fence, when set, is the listener's lease: a post starts only while the lease is held for
	// sure until at least margin from now, and its context ends margin before the lease could
	// lapse, so two replicas never post for one meeting at once.
	fence  *lease
	margin time.Duration
	// maxText is the longest text one message may carry (bytes; 0 = no limit): longer texts are
	// split at line ends, longer lines shortened.
	maxText int
	// bots, when set, reports which of the given participant uuids are the bot's own sessions;
	// joins and leaves through the API are checked against it just before they are posted.
	bots func(ctx context.Context, uuids []string) map[string]bool

	mu       sync.Mutex
	pending  []notice
	gone     bool
	overflow int // notices dropped since the last overflow log line

	wake      chan struct{} // capacity 1: something is pending
	closing   chan struct{} // closed by close: post what is pending at once, then stop
	closeOnce sync.Once
	done      chan struct{} // closed when run returns

	// acked is the sequence number up to which every notice was posted, left out by the
	// channel's settings, or given up on (the channel is gone, the message refused for good).
	acked atomic.Int64
}

func newOutbox(ch chat.ChannelRef, poster chat.Poster, settings store.Settings, pace time.Duration, log *slog.Logger, obs Observer, seq int64) *outbox {
	if pace <= 0 {
		pace = DefaultPace
	}
	o := &outbox{
		ch: ch, poster: poster, settings: settings, pace: pace,
		backoff: defaultBackoff, maxBackoff: defaultMaxBackoff,
		log: log, obs: obs,
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	o.acked.Store(seq)
	return o
}

// add queues notices in the order they happened. It never blocks.
func (o *outbox) add(ns ...notice) {
	if len(ns) == 0 {
		return
	}
	o.mu.Lock()
	if o.gone {
		o.mu.Unlock()
		return
	}
	for _, n := range ns {
		if n.kind == chat.Snapshot {
			o.pending = dropSnapshots(o.pending) // the newer picture replaces one not yet posted
		}
		o.pending = append(o.pending, n)
	}
	if over := len(o.pending) - maxPending; over > 0 {
		// Drop a tenth more than needed, so a flood costs one copy per thousand notices.
		over = min(len(o.pending), over+maxPending/10)
		o.pending = dropOldest(o.pending, over)
		if o.overflow == 0 {
			o.log.Error("channel cannot keep up; dropping its oldest notifications", "limit", maxPending)
		}
		o.overflow += over
		if o.obs != nil {
			o.obs.NotificationDropped(o.ch, over, errOverflow)
		}
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// errOverflow is what NotificationDropped reports for notices dropped because too many waited.
var errOverflow = errors.New("too many notifications waiting for the channel")

// take removes and returns what is pending, at most maxBatch notices, oldest first.
func (o *outbox) take() []notice {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.overflow > 0 && len(o.pending) < maxPending/2 {
		o.log.Warn("channel caught up after dropping notifications", "dropped", o.overflow)
		o.overflow = 0
	}
	if len(o.pending) <= maxBatch {
		b := o.pending
		o.pending = nil
		return b
	}
	b := append([]notice(nil), o.pending[:maxBatch]...)
	o.pending = append(o.pending[:0], o.pending[maxBatch:]...)
	return b
}

// more reports whether notices are pending.
func (o *outbox) more() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending) > 0
}

// close asks run to post what is pending without waiting for the pace, then return. The caller
// bounds the time this takes by cancelling run's context.
func (o *outbox) close() { o.closeOnce.Do(func() { close(o.closing) }) }

func (o *outbox) isClosing() bool {
	select {
	case <-o.closing:
		return true
	default:
		return false
	}
}

// run posts until ctx is done, or until close was called and nothing is left.
func (o *outbox) run(ctx context.Context) {
	defer close(o.done)
	var last time.Time // time of the latest post
	set := store.DefaultSettings()
	for {
		if !o.more() {
			select {
			case <-o.wake:
			case <-o.closing:
			case <-ctx.Done():
				return
			}
		}
		if !last.IsZero() && !o.isClosing() {
			if wait := o.pace - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-o.closing:
				case <-ctx.Done():
					t.Stop()
					return
				}
				t.Stop()
			}
		}
		batch := o.take()
		if len(batch) == 0 {
			if o.isClosing() {
				return
			}
			continue
		}
		posted, alive := o.deliver(ctx, batch, &set)
		if !alive {
			return
		}
		if posted {
			last = time.Now()
		}
	}
}

// part is one message of a notification split to the channel's size limit.
type part struct {
	n chat.Notification
}

// deliver posts batch, retrying as the chat service asks and coalescing what arrives meanwhile.
// It reports whether it posted, and false for alive when the outbox must stop (ctx done, the
// lease lost or the channel gone).
//
// Errors are told apart so that none makes the outbox retry forever: a rate limit is waited out
// (coalescing meanwhile); chat.ErrChannelGone stops the channel; chat.ErrMessageRefused splits the
// message in two, shortens a single line, and drops what is still refused (one log line, and
// Observer.NotificationDropped); anything else is retried with backoff.
func (o *outbox) deliver(ctx context.Context, batch []notice, set *store.ChannelSettings) (posted, alive bool) {
	delay := o.backoff
	for {
		// Settings are read at each flush, so `notify … off` takes effect at once.
		if s, err := o.settings.GetSettings(ctx, o.ch); err == nil {
			*set = s
		} else if ctx.Err() == nil {
			o.log.Warn("read channel settings; using the last known", "err", err)
		}
		last := batch[len(batch)-1].seq
		batch = o.withoutBots(ctx, batch)
		n, ok := coalesce(batch, *set)
		if !ok {
			o.acked.Store(last)
			return false, true
		}
		if batch[len(batch)-1].kind != chat.MeetingEnded && o.state != nil {
			n.Meeting = o.state() // after every event of the batch
		}
		parts := split(n, o.maxText)
		sent := 0
		for len(parts) > 0 {
			err := o.post(ctx, parts[0].n)
			if err == nil {
				parts = parts[1:]
				sent++
				delay = o.backoff
				continue
			}
			if ctx.Err() != nil || errors.Is(err, errLeaseLost) {
				o.log.Warn("stopped before posting", "events", len(batch), "err", err)
				return false, false
			}
			if o.obs != nil {
				o.obs.PostFailed(o.ch, err)
			}
			var wait time.Duration
			var rl *chat.RateLimitError
			switch {
			case errors.Is(err, chat.ErrChannelGone):
				o.mu.Lock()
				o.gone = true
				dropped := len(o.pending) + len(batch)
				o.pending = nil
				o.mu.Unlock()
				o.acked.Store(math.MaxInt64)
				o.log.Warn("channel gone; no more notifications to it", "dropped_events", dropped, "err", err)
				return false, false
			case errors.Is(err, chat.ErrMessageRefused):
				if smaller, ok := shrink(parts[0]); ok {
					o.log.Warn("message refused; posting it in smaller pieces", "bytes", len(parts[0].n.Text), "err", err)
					parts = append(smaller, parts[1:]...)
					continue
				}
				o.log.Error("message refused for good; dropped", "bytes", len(parts[0].n.Text), "events", len(batch), "err", err)
				if o.obs != nil {
					o.obs.NotificationDropped(o.ch, len(batch), err)
				}
				parts = parts[1:]
				continue
			case errors.As(err, &rl):
				wait = max(rl.RetryAfter, 10*time.Millisecond)
				o.log.Warn("rate limited; coalescing until retry", "retry_after", wait, "events", len(batch))
			default:
				wait = delay
				delay = min(2*delay, o.maxBackoff)
				o.log.Warn("post failed; will retry", "in", wait, "events", len(batch), "err", err)
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				o.log.Warn("stopped before posting", "events", len(batch))
				return false, false
			}
			if sent == 0 {
				// Nothing of this message went out yet: fold in what arrived meanwhile.
				batch = append(batch, o.take()...)
				break
			}
		}
		if len(parts) > 0 {
			continue // coalesce again with the newcomers
		}
		o.acked.Store(last)
		if o.obs != nil && sent > 0 {
			o.obs.NotificationPosted(o.ch, len(batch), time.Since(batch[0].at))
		}
		return sent > 0, true
	}
}

// errLeaseLost is returned by post when the listener's lease is gone: another replica posts now.
var errLeaseLost = errors.New("lease lost")

// post posts n once, fenced by the listener's lease when there is one.
func (o *outbox) post(ctx context.Context, n chat.Notification) error {
	if o.fence == nil {
		return o.poster.Post(ctx, o.ch, n)
	}
	if !o.fence.wait(ctx, o.margin) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errLeaseLost
	}
	pctx, cancel := context.WithDeadline(ctx, o.fence.heldUntil().Add(-o.margin))
	defer cancel()
	return o.poster.Post(pctx, o.ch, n)
}

// withoutBots drops the joins and leaves of participants that turn out to be the bot's own
// sessions (another replica's, recorded after its participant appeared).
func (o *outbox) withoutBots(ctx context.Context, batch []notice) []notice {
	if o.bots == nil {
		return batch
	}
	var uuids []string
	for _, n := range batch {
		if n.api && n.who != "" && (n.kind == chat.Joined || n.kind == chat.Left) {
			uuids = append(uuids, n.who)
		}
	}
	if len(uuids) == 0 {
		return batch
	}
	bots := o.bots(ctx, uuids)
	if len(bots) == 0 {
		return batch
	}
	out := batch[:0:0]
	for _, n := range batch {
		if n.api && bots[n.who] && (n.kind == chat.Joined || n.kind == chat.Left) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// split cuts n into messages of at most max bytes of text, at line ends; a line longer than max
// is shortened with "…". max 0 means no limit.
func split(n chat.Notification, max int) (parts []part) {
	if max <= 0 || len(n.Text) <= max {
		return []part{{n: n}}
	}
	// The files go with the last part only, after all the text.
	files := n.Files
	n.Files = nil
	defer func() {
		if len(parts) > 0 {
			parts[len(parts)-1].n.Files = files
		}
	}()
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			m := n
			m.Text = b.String()
			parts = append(parts, part{n: m})
			b.Reset()
		}
	}
	for _, line := range strings.Split(n.Text, "\n") {
		line = truncate(line, max)
		if b.Len() > 0 && b.Len()+1+len(line) > max {
			flush()
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
	}
	flush()
	return parts
}

// shrink makes a refused message smaller: two halves by lines, or a single line cut to half. It
// reports false when the message is too small to be worth shortening again.
func shrink(p part) ([]part, bool) {
	text := p.n.Text
	if lines := strings.Split(text, "\n"); len(lines) > 1 {
		h := len(lines) / 2
		a, b := p, p
		a.n.Files = nil // the files go with the second half only
		a.n.Text = strings.Join(lines[:h], "\n")
		b.n.Text = strings.Join(lines[h:], "\n")
		return []part{a, b}, true
	}
	if len(text) < minRefusedText {
		return nil, false
	}
	p.n.Text = truncate(text, len(text)/2)
	return []part{p}, true
}

// truncate shortens s to at most max bytes, ending in "…" when it cut, without splitting a
// character.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	cut := max - len(ellipsis)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
