package slack

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
)

var general = chat.ChannelRef{Platform: "slack", Workspace: testTeam, Channel: testChan}

// TestPostPlain posts a notification as one escaped chat.postMessage to the linked channel.
func TestPostPlain(t *testing.T) {
	f := newFakeSlack(t)
	a, _ := newTestAdapter(t, f, &recorder{})
	err := a.Post(context.Background(), general, chat.Notification{Text: "<!channel> & <@U1> joined", Kinds: []chat.NoticeKind{chat.Joined}})
	if err != nil {
		t.Fatal(err)
	}
	calls := f.callsOf("chat.postMessage")
	if len(calls) != 1 {
		t.Fatalf("%d posts, want 1", len(calls))
	}
	form := calls[0].Form
	if form.Get("channel") != testChan || form.Get("text") != "&lt;!channel&gt; &amp; &lt;@U1&gt; joined" || form.Get("thread_ts") != "" {
		t.Errorf("posted channel %q text %q thread %q", form.Get("channel"), form.Get("text"), form.Get("thread_ts"))
	}
}

// TestPostErrors maps Slack's answers to what the relay decides on, with exactly one attempt each.
func TestPostErrors(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantRetry  time.Duration // > 0: want *chat.RateLimitError with this RetryAfter
		wantGone   bool
		wantTeamGo bool
		wantRefuse bool // refused for good: chat.ErrMessageRefused
	}{
		{name: "429RetryAfter", status: 429, header: http.Header{"Retry-After": {"7"}}, body: "", wantRetry: 7 * time.Second},
		{name: "OkFalseRatelimited", status: 200, body: `{"ok":false,"error":"ratelimited"}`, wantRetry: time.Second},
		{name: "ChannelNotFound", status: 200, body: `{"ok":false,"error":"channel_not_found"}`, wantGone: true},
		{name: "NotInChannel", status: 200, body: `{"ok":false,"error":"not_in_channel"}`, wantGone: true},
		{name: "IsArchived", status: 200, body: `{"ok":false,"error":"is_archived"}`, wantGone: true},
		{name: "TokenRevoked", status: 200, body: `{"ok":false,"error":"token_revoked"}`, wantGone: true, wantTeamGo: true},
		{name: "InvalidAuth", status: 200, body: `{"ok":false,"error":"invalid_auth"}`, wantGone: true, wantTeamGo: true},
		{name: "ServerError", status: 503, body: "upstream"},
		{name: "MsgTooLong", status: 200, body: `{"ok":false,"error":"msg_too_long"}`, wantRefuse: true},
		{name: "InvalidBlocks", status: 200, body: `{"ok":false,"error":"invalid_blocks"}`, wantRefuse: true},
		{name: "RestrictedReadOnly", status: 200, body: `{"ok":false,"error":"restricted_action_read_only_channel"}`, wantRefuse: true},
		{name: "EKMAccessDenied", status: 200, body: `{"ok":false,"error":"ekm_access_denied"}`, wantRefuse: true},
		{name: "OtherSlackError", status: 200, body: `{"ok":false,"error":"internal_error"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSlack(t)
			f.on("chat.postMessage", func(int, url.Values) (int, http.Header, string) { return tc.status, tc.header, tc.body })
			a, _ := newTestAdapter(t, f, &recorder{})
			err := a.Post(context.Background(), general, chat.Notification{Text: "Alice joined"})
			if err == nil {
				t.Fatal("Post succeeded")
			}
			if n := len(f.callsOf("chat.postMessage")); n != 1 {
				t.Errorf("%d attempts, want exactly 1", n)
			}
			var rl *chat.RateLimitError
			switch {
			case tc.wantRetry > 0:
				if !errors.As(err, &rl) || rl.RetryAfter != tc.wantRetry {
					t.Errorf("err = %v, want RateLimitError after %s", err, tc.wantRetry)
				}
			case tc.wantGone:
				if !errors.Is(err, chat.ErrChannelGone) {
					t.Errorf("err = %v, want ErrChannelGone", err)
				}
			case tc.wantRefuse:
				if !errors.Is(err, chat.ErrMessageRefused) || errors.Is(err, chat.ErrChannelGone) {
					t.Errorf("err = %v, want ErrMessageRefused", err)
				}
			default:
				if errors.As(err, &rl) || errors.Is(err, chat.ErrChannelGone) || errors.Is(err, chat.ErrMessageRefused) {
					t.Errorf("err = %v, want a plain (retryable) error", err)
				}
			}
			if got := a.teamGone(testTeam); got != tc.wantTeamGo {
				t.Errorf("workspace stopped = %v, want %v", got, tc.wantTeamGo)
			}
		})
	}
}

// TestThreadedNotifications keeps one "meeting in progress" message per channel, posts into its
// thread, edits it as the meeting changes, closes it with a summary, and starts afresh.
func TestThreadedNotifications(t *testing.T) {
	f := newFakeSlack(t)
	a, _ := newTestAdapter(t, f, &recorder{})
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	now := start
	a.now = func() time.Time { return now }
	ctx := context.Background()
	state := chat.MeetingState{Name: "Weekly <sync>", Room: "1234", Started: start}
	postN := func(text string, kind chat.NoticeKind) {
		t.Helper()
		if err := a.Post(ctx, general, chat.Notification{Text: text, Kinds: []chat.NoticeKind{kind}, Meeting: state, Threaded: true}); err != nil {
			t.Fatalf("Post %q: %v", text, err)
		}
	}
	lastUpdate := func() string {
		ups := f.callsOf("chat.update")
		if len(ups) == 0 {
			return ""
		}
		return unescapedJSON(ups[len(ups)-1].Form.Get("blocks"))
	}

	state.Present, state.Peak, state.Total = []string{"Alice"}, 1, 1
	postN("Alice joined", chat.Joined)
	posts := f.callsOf("chat.postMessage")
	if len(posts) != 2 {
		t.Fatalf("%d posts, want the status message and one thread reply", len(posts))
	}
	status := posts[0]
	if !strings.Contains(unescapedJSON(status.Form.Get("blocks")), "Meeting in progress:* Weekly &lt;sync&gt;") || !strings.Contains(unescapedJSON(status.Form.Get("blocks")), "Alice") {
		t.Errorf("status message blocks: %s", unescapedJSON(status.Form.Get("blocks")))
	}
	if posts[1].Form.Get("thread_ts") != status.TS || posts[1].Form.Get("text") != "Alice joined" {
		t.Errorf("reply %q in thread %q, want in %q", posts[1].Form.Get("text"), posts[1].Form.Get("thread_ts"), status.TS)
	}

	state.Present, state.Peak, state.Total = []string{"Alice", "Bob"}, 2, 2
	postN("Bob joined", chat.Joined)
	state.Presenter, state.Presenters = "Bob", []string{"Bob"}
	postN("Bob started presenting", chat.PresentationStarted)
	state.Locked = true
	postN("locked the meeting", chat.MeetingChanged)
	eventually(t, "status shows Bob presenting and the lock", func() bool {
		b := lastUpdate()
		return strings.Contains(b, "Alice, Bob") && strings.Contains(b, "*Presenting:* Bob") && strings.Contains(b, ":lock: Locked")
	})
	for _, p := range f.callsOf("chat.postMessage")[1:] {
		if p.Form.Get("thread_ts") != status.TS {
			t.Errorf("%q posted outside the thread", p.Form.Get("text"))
		}
	}
	if ups := f.callsOf("chat.update"); ups[0].Form.Get("ts") != status.TS {
		t.Errorf("edited message %q, want the status message %q", ups[0].Form.Get("ts"), status.TS)
	}

	now = start.Add(62 * time.Minute)
	state.Present, state.Presenter, state.Ended, state.Peak, state.Total = nil, "", true, 2, 3
	postN("Everyone left", chat.MeetingEnded)
	eventually(t, "summary", func() bool {
		b := lastUpdate()
		return strings.Contains(b, "Meeting ended") && strings.Contains(b, "1 h 02 min") &&
			strings.Contains(b, "peak 2, 3 in total") && strings.Contains(b, "*Presented:* Bob")
	})

	// The next meeting gets a new status message.
	before := len(f.callsOf("chat.postMessage"))
	state = chat.MeetingState{Name: "Weekly", Present: []string{"Carol"}, Peak: 1, Total: 1, Started: now}
	postN("Carol joined", chat.Joined)
	posts = f.callsOf("chat.postMessage")[before:]
	if len(posts) != 2 || posts[0].TS == status.TS || posts[1].Form.Get("thread_ts") != posts[0].TS {
		t.Errorf("second meeting: want a new status message and a reply in its thread, got %d posts", len(posts))
	}
}

// TestThreadedWithoutMeeting posts a plain message when nothing runs (a schedule ran, a lock
// before anyone joined).
func TestThreadedWithoutMeeting(t *testing.T) {
	f := newFakeSlack(t)
	a, _ := newTestAdapter(t, f, &recorder{})
	err := a.Post(context.Background(), general, chat.Notification{Text: "schedule 3 ran: lock", Kinds: []chat.NoticeKind{chat.ScheduleRan}, Threaded: true})
	if err != nil {
		t.Fatal(err)
	}
	posts := f.callsOf("chat.postMessage")
	if len(posts) != 1 || posts[0].Form.Get("thread_ts") != "" || posts[0].Form.Get("blocks") != "" {
		t.Errorf("want one plain message, got %d posts", len(posts))
	}
}

// TestThreadedRateLimitNoDouble: when the thread reply is refused, the retry posts no second
// status message.
func TestThreadedRateLimitNoDouble(t *testing.T) {
	f := newFakeSlack(t)
	f.on("chat.postMessage", func(n int, _ url.Values) (int, http.Header, string) {
		if n == 2 {
			return 429, http.Header{"Retry-After": {"1"}}, ""
		}
		return 0, nil, ""
	})
	a, _ := newTestAdapter(t, f, &recorder{})
	n := chat.Notification{Text: "Alice joined", Threaded: true, Meeting: chat.MeetingState{Present: []string{"Alice"}}}
	var rl *chat.RateLimitError
	if err := a.Post(context.Background(), general, n); !errors.As(err, &rl) {
		t.Fatalf("first Post: %v, want rate limited", err)
	}
	if err := a.Post(context.Background(), general, n); err != nil {
		t.Fatal(err)
	}
	posts := f.callsOf("chat.postMessage")
	var statuses, replies int
	for _, p := range posts {
		if p.Status != 200 {
			continue
		}
		if p.Form.Get("thread_ts") == "" {
			statuses++
		} else {
			replies++
		}
	}
	if statuses != 1 || replies != 1 {
		t.Errorf("%d status messages and %d replies posted, want 1 and 1", statuses, replies)
	}
}

// TestThreadedStatusDeleted: when someone deleted the status message, the refused reply is
// retried by the relay and lands under a new status message.
func TestThreadedStatusDeleted(t *testing.T) {
	f := newFakeSlack(t)
	deleted := ""
	f.on("chat.postMessage", func(n int, form url.Values) (int, http.Header, string) {
		if n == 1 {
			return 0, nil, ""
		}
		if deleted != "" && form.Get("thread_ts") == deleted {
			return 200, nil, `{"ok":false,"error":"thread_not_found"}`
		}
		return 0, nil, ""
	})
	a, _ := newTestAdapter(t, f, &recorder{})
	n := chat.Notification{Text: "Alice joined", Threaded: true, Meeting: chat.MeetingState{Present: []string{"Alice"}}}
	if err := a.Post(context.Background(), general, n); err != nil {
		t.Fatal(err)
	}
	deleted = f.callsOf("chat.postMessage")[0].TS
	n.Text, n.Meeting.Present = "Bob joined", []string{"Alice", "Bob"}
	if err := a.Post(context.Background(), general, n); err == nil {
		t.Fatal("reply into a deleted thread succeeded")
	}
	if err := a.Post(context.Background(), general, n); err != nil {
		t.Fatalf("retry: %v", err)
	}
	posts := f.callsOf("chat.postMessage")
	last := posts[len(posts)-1]
	if last.Form.Get("text") != "Bob joined" || last.Form.Get("thread_ts") == deleted || last.Form.Get("thread_ts") != posts[len(posts)-2].TS {
		t.Errorf("retry went to thread %q, want a new status message", last.Form.Get("thread_ts"))
	}
}
