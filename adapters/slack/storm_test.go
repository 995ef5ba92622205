package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
)

// miniRelay stands in for relay's outbox (unexported there): it paces Post calls for one channel,
// waits out a *chat.RateLimitError and coalesces everything pending into the next message.
type miniRelay struct {
	mu      sync.Mutex
	pending []string
	state   chat.MeetingState
	done    bool
	wake    chan struct{}

	attempts int
}

func (r *miniRelay) join(name string) {
	r.mu.Lock()
	r.pending = append(r.pending, name)
	r.state.Present = append(r.state.Present, name)
	r.state.Total++
	r.state.Peak = max(r.state.Peak, len(r.state.Present))
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *miniRelay) finish() {
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *miniRelay) run(ctx context.Context, p chat.Poster, ch chat.ChannelRef, pace time.Duration) error {
	for {
		r.mu.Lock()
		batch, state, done := r.pending, r.state, r.done
		r.pending = nil
		state.Present = slices.Clone(state.Present)
		r.mu.Unlock()
		if len(batch) == 0 {
			if done {
				return nil
			}
			select {
			case <-r.wake:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		r.attempts++
		err := p.Post(ctx, ch, chat.Notification{Text: strings.Join(batch, ", ") + " joined",
			Kinds: []chat.NoticeKind{chat.Joined}, Meeting: state, Threaded: true})
		wait := pace
		if err != nil {
			r.mu.Lock()
			r.pending = append(batch, r.pending...) // coalesce: the refused names go first next time
			r.mu.Unlock()
			var rl *chat.RateLimitError
			if !errors.As(err, &rl) {
				return fmt.Errorf("post: %w", err)
			}
			wait = max(wait, rl.RetryAfter)
		}
		if !sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// TestJoinStorm: 300 people join a linked meeting while the Web API answers some posts with 429
// and Retry-After. Every name is posted exactly once (none lost, none doubled), the adapter makes
// one attempt per Post, the pace and Retry-After hold, and the status message ends up counting
// all 300.
func TestJoinStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about four seconds")
	}
	f := newFakeSlack(t)
	refused := map[int]bool{1: true, 5: true, 6: true}
	f.on("chat.postMessage", func(n int, _ url.Values) (int, http.Header, string) {
		if refused[n] {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, ""
		}
		return 0, nil, ""
	})
	a, _ := newTestAdapter(t, f, &recorder{})
	const pace = 100 * time.Millisecond
	names := make([]string, 300)
	for i := range names {
		names[i] = fmt.Sprintf("Guest %03d", i)
	}
	names[150] = "<!channel>"

	r := &miniRelay{wake: make(chan struct{}, 1), state: chat.MeetingState{Name: "All hands", Started: time.Now()}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		for _, n := range names {
			r.join(n)
			time.Sleep(5 * time.Millisecond)
		}
		r.finish()
	}()
	if err := r.run(ctx, a, general, pace); err != nil {
		t.Fatal(err)
	}

	posts := f.callsOf("chat.postMessage")
	if len(posts) != r.attempts+1 {
		t.Errorf("%d chat.postMessage calls for %d Post calls plus one status message: the adapter retried on its own", len(posts), r.attempts)
	}
	seen := map[string]int{}
	var statusTS string
	var last time.Time
	for i, p := range posts {
		if i > 0 && posts[i-1].Status == http.StatusTooManyRequests {
			if gap := p.At.Sub(posts[i-1].At); gap < time.Second-pace/2 {
				t.Errorf("post %d came %s after a 429 with Retry-After: 1", i+1, gap)
			}
		}
		if p.Status != http.StatusOK {
			continue
		}
		thread := p.Form.Get("thread_ts")
		if thread == "" {
			if statusTS != "" {
				t.Errorf("a second status message was posted")
			}
			statusTS = p.TS
			continue
		}
		if thread != statusTS {
			t.Errorf("reply in thread %q, want the status message %q", thread, statusTS)
		}
		if !last.IsZero() && p.At.Sub(last) < pace/2 {
			t.Errorf("two replies %s apart; pace is %s", p.At.Sub(last), pace)
		}
		last = p.At
		text, ok := strings.CutSuffix(p.Form.Get("text"), " joined")
		if !ok {
			t.Errorf("unexpected text %q", p.Form.Get("text"))
		}
		for _, n := range strings.Split(text, ", ") {
			seen[n]++
		}
	}
	for _, n := range names {
		want := escape(n)
		if seen[want] != 1 {
			t.Errorf("%q posted %d times, want once", want, seen[want])
		}
		delete(seen, want)
	}
	if len(seen) > 0 {
		t.Errorf("names posted that nobody joined as: %v", seen)
	}
	if seen["<!channel>"] != 0 {
		t.Error("a raw <!channel> reached Slack")
	}
	eventually(t, "status message counts 300", func() bool {
		ups := f.callsOf("chat.update")
		return len(ups) > 0 && strings.Contains(ups[len(ups)-1].Form.Get("blocks"), "In the meeting (300)")
	})
}
