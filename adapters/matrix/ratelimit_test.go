package matrix

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/meetbot/meetbot/chat"
)

// faultyProxy stands between the bot and Dendrite and refuses the next message sends: limited
// ones with M_LIMIT_EXCEEDED and retry_after_ms, failing ones with 502.
type faultyProxy struct {
	limited, failing atomic.Int32
}

func (p *faultyProxy) start(t *testing.T, upstream string) string {
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/send/m.room.message/") {
			if p.limited.Add(-1) >= 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":700}`))
				return
			}
			if p.failing.Add(-1) >= 0 {
				http.Error(w, "bad gateway", http.StatusBadGateway)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestRateLimitsAndTransientFailures(t *testing.T) {
	srv := needHomeserver(t)
	var p faultyProxy
	alice := human(t, "alice")
	b := newBot(t, botOptions{homeserver: p.start(t, srv.URL)})
	room := b.room(t, alice, mautrix.ReqCreateRoom{})
	ch := chat.ChannelRef{Platform: "matrix", Channel: room.String()}
	ctx := context.Background()

	t.Run("Post returns the rate limit to the relay", func(t *testing.T) {
		p.limited.Store(1)
		err := b.Post(ctx, ch, chat.Notification{Text: "Alice joined"})
		var rl *chat.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter != 700*time.Millisecond {
			t.Fatalf("Post = %v, want a RateLimitError of 700ms", err)
		}
	})
	t.Run("Post retries a bad gateway once, posting once", func(t *testing.T) {
		p.failing.Store(1)
		if err := b.Post(ctx, ch, chat.Notification{Text: "Carol joined"}); err != nil {
			t.Fatalf("Post = %v", err)
		}
	})
	t.Run("replies wait out the rate limit", func(t *testing.T) {
		p.limited.Store(2)
		cmd := alice.Say(t, room, "!meet who")
		alice.WaitFor(t, wait, "the reply", replyTo(room, b.user.UserID, cmd))
		alice.Say(t, room, "!meet sentinel")
		alice.WaitFor(t, wait, "the sentinel reply", func(e *event.Event) bool {
			return e.Sender == b.user.UserID && e.Type == event.EventMessage && strings.Contains(notice(e).Body, "sentinel")
		})
		var replies, carol int
		for _, e := range alice.Events() {
			if replyTo(room, b.user.UserID, cmd)(e) {
				replies++
			}
			if e.Sender == b.user.UserID && e.Type == event.EventMessage && notice(e).Body == "Carol joined" {
				carol++
			}
		}
		if replies != 1 || carol != 1 {
			t.Errorf("saw %d replies and %d Carol notices, want exactly one each", replies, carol)
		}
	})
	t.Run("a room the bot is not in is gone", func(t *testing.T) {
		other, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat"})
		if err != nil {
			t.Fatal(err)
		}
		err = b.Post(ctx, chat.ChannelRef{Platform: "matrix", Channel: other.RoomID.String()}, chat.Notification{Text: "x"})
		if !errors.Is(err, chat.ErrChannelGone) {
			t.Errorf("Post to a foreign room = %v, want ErrChannelGone", err)
		}
	})
}
