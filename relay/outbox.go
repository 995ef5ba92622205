package relay

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

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

// outbox posts one channel's notices through a Poster, one goroutine per channel, so a slow
// channel holds up no other. An isolated notice is posted at once; after a post, what arrives
// within Pace is coalesced into the next message. Nothing is dropped (except for a channel that
// is gone) and nothing is posted twice by the outbox itself.
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

	mu      sync.Mutex
	pending []notice
	gone    bool

	wake      chan struct{} // capacity 1: something is pending
	closing   chan struct{} // closed by close: post what is pending at once, then stop
	closeOnce sync.Once
	done      chan struct{} // closed when run returns

	// acked is the sequence number up to which every notice was posted, left out by the
	// channel's settings, or given up on because the channel is gone.
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
	o.pending = append(o.pending, ns...)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// take removes and returns everything pending.
func (o *outbox) take() []notice {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := o.pending
	o.pending = nil
	return b
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
		select {
		case <-o.wake:
		case <-o.closing:
		case <-ctx.Done():
			return
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

// deliver posts batch, retrying as the chat service asks and coalescing what arrives meanwhile.
// It reports whether it posted, and false for alive when the outbox must stop (ctx done or the
// channel gone).
func (o *outbox) deliver(ctx context.Context, batch []notice, set *store.ChannelSettings) (posted, alive bool) {
	delay := o.backoff
	for {
		// Settings are read at each flush, so `notify … off` takes effect at once.
		if s, err := o.settings.GetSettings(ctx, o.ch); err == nil {
			*set = s
		} else if ctx.Err() == nil {
			o.log.Warn("read channel settings; using the last known", "err", err)
		}
		n, ok := coalesce(batch, *set)
		if !ok {
			o.acked.Store(batch[len(batch)-1].seq)
			return false, true
		}
		if batch[len(batch)-1].kind != chat.MeetingEnded && o.state != nil {
			n.Meeting = o.state() // after every event of the batch
		}
		err := o.poster.Post(ctx, o.ch, n)
		if err == nil {
			o.acked.Store(batch[len(batch)-1].seq)
			if o.obs != nil {
				o.obs.NotificationPosted(o.ch, len(batch), time.Since(batch[0].at))
			}
			return true, true
		}
		if ctx.Err() != nil {
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
		batch = append(batch, o.take()...)
	}
}
