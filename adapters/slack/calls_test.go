package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meetbot/meetbot/chat"
)

const (
	testJoinURL = "https://meet.example.com/webapp/#/?conference=weekly"
	callScopes  = "commands,chat:write,chat:write.public,users:read,usergroups:read,calls:read,calls:write"
)

func guest(i int) chat.Person {
	return chat.Person{UUID: fmt.Sprintf("u-%03d", i), Name: fmt.Sprintf("Guest %03d", i), Role: "guest", Protocol: "webrtc"}
}

// names returns the display names a fake call shows, sorted.
func names(c *fakeCall) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, n := range c.Participants {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func nameSet(people []chat.Person) []string {
	var out []string
	for _, p := range people {
		if !p.Waiting {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestCallCardLife follows one meeting as a Slack Call: calls.add with the first roster (a room
// system and a phone among them), the call block in the channel with the thread under it, a
// storm of 500 joins in at most six roster requests, leaves, a rate limit waited out, a rejoin that
// stays one entry, and calls.end with the duration and the summary after it.
func TestCallCardLife(t *testing.T) {
	f := newFakeSlack(t)
	f.scopes = callScopes
	release := make(chan struct{})
	var limitNext atomic.Bool
	f.on("calls.participants.add", func(n int, _ url.Values) (int, http.Header, string) {
		if n == 1 {
			<-release // hold the first roster request while the storm arrives
		}
		if limitNext.CompareAndSwap(true, false) {
			return 429, http.Header{"Retry-After": {"1"}}, ""
		}
		return 0, nil, ""
	})
	a, _ := newTestAdapter(t, f, &recorder{})
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	now := start
	a.now = func() time.Time { return now }
	ctx := context.Background()
	state := chat.MeetingState{Name: "Weekly sync", Room: "weekly", Started: start, Occurrence: "occ-1", JoinURL: testJoinURL,
		People: []chat.Person{
			{UUID: "a1", Name: "Alice", Role: "host", Protocol: "webrtc"},
			{UUID: "r1", Name: "Board room", Role: "guest", Protocol: "sip"},
			{UUID: "p1", Name: "+44 20 7946 0000", Role: "guest", Protocol: "sip"},
		}}
	post := func(text string, kind chat.NoticeKind) {
		t.Helper()
		if err := a.Post(ctx, general, chat.Notification{Text: text, Kinds: []chat.NoticeKind{kind}, Meeting: state, Threaded: true}); err != nil {
			t.Fatalf("Post %q: %v", text, err)
		}
	}
	waitFor := func(what string, want []string) {
		t.Helper()
		eventually(t, what, func() bool { return cmp.Equal(names(f.callState("occ-1")), want) })
	}

	post("Alice, Board room and +44 20 7946 0000 joined", chat.Joined)
	adds := f.callsOf("calls.add")
	if len(adds) != 1 {
		t.Fatalf("%d calls.add, want 1", len(adds))
	}
	form := adds[0].Form
	if form.Get("external_unique_id") != "occ-1" || form.Get("join_url") != testJoinURL || form.Get("title") != "Weekly sync" ||
		form.Get("date_start") != fmt.Sprint(start.Unix()) || form.Get("created_by") != "UBOT" {
		t.Errorf("calls.add form: %v", form)
	}
	if got := names(f.callState("occ-1")); !cmp.Equal(got, nameSet(state.People)) {
		t.Errorf("first roster %v, want %v", got, nameSet(state.People))
	}
	posts := f.callsOf("chat.postMessage")
	if len(posts) != 2 {
		t.Fatalf("%d posts, want the call block and one thread reply", len(posts))
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(posts[0].Form.Get("blocks")), &blocks); err != nil || len(blocks) != 1 ||
		blocks[0]["type"] != "call" || blocks[0]["call_id"] != "R001" {
		t.Errorf("call message blocks %s (%v)", posts[0].Form.Get("blocks"), err)
	}
	if posts[1].Form.Get("thread_ts") != posts[0].TS {
		t.Errorf("thread reply under %q, want the call message %q", posts[1].Form.Get("thread_ts"), posts[0].TS)
	}

	// A storm: 500 guests join over ten notifications while the first roster request is held.
	for batch := range 10 {
		for i := batch * 50; i < (batch+1)*50; i++ {
			state.People = append(state.People, guest(i))
		}
		post(fmt.Sprintf("50 more joined (%d)", batch), chat.Joined)
	}
	close(release)
	waitFor("503 participants on the card", nameSet(state.People))
	// The first request left while 50 to 100 had joined; the rest follow 100 at a time.
	if n := len(f.callsOf("calls.participants.add")); n > 6 {
		t.Errorf("%d calls.participants.add for 500 joins, want at most 6", n)
	}

	// Two guests and the phone leave; the removes carry the whole participant.
	state.People = slices.DeleteFunc(state.People, func(p chat.Person) bool {
		return p.UUID == "u-007" || p.UUID == "u-300" || p.UUID == "p1"
	})
	post("Guest 007, Guest 300 and +44 20 7946 0000 left", chat.Left)
	waitFor("three removed", nameSet(state.People))
	for _, c := range f.callsOf("calls.participants.remove") {
		if !strings.Contains(c.Form.Get("users"), `"display_name"`) || !strings.Contains(c.Form.Get("users"), `"external_id"`) {
			t.Errorf("remove without the full participant: %s", c.Form.Get("users"))
		}
	}

	// Alice leaves and rejoins with a new participant id; Slack asks to slow down once.
	state.People = state.People[1:]
	post("Alice left", chat.Left)
	waitFor("Alice gone", nameSet(state.People))
	limitNext.Store(true)
	state.People = append(state.People, chat.Person{UUID: "a2", Name: "Alice", Role: "host", Protocol: "webrtc"})
	post("Alice joined", chat.Joined)
	waitFor("Alice back, once", nameSet(state.People))
	ids := map[string]bool{}
	for _, c := range append(f.callsOf("calls.add"), f.callsOf("calls.participants.add")...) {
		if strings.Contains(c.Form.Get("users"), `"Alice"`) {
			var us []struct {
				ExternalID string `json:"external_id"`
			}
			_ = json.Unmarshal([]byte(c.Form.Get("users")), &us)
			for _, u := range us {
				if u.ExternalID == participantID("Alice") {
					ids[u.ExternalID] = true
				}
			}
		}
	}
	if len(ids) != 1 {
		t.Errorf("Alice was added under %d external ids, want 1", len(ids))
	}

	// The meeting ends after 62 minutes.
	now = start.Add(62 * time.Minute)
	before := len(f.callsOf("chat.postMessage"))
	state.People, state.Ended, state.Peak, state.Total = nil, true, 502, 504
	post("Everyone left", chat.MeetingEnded)
	eventually(t, "calls.end", func() bool { c := f.callState("occ-1"); return c != nil && c.Ended })
	if c := f.callState("occ-1"); c.Duration != "3720" {
		t.Errorf("calls.end duration %q, want 3720", c.Duration)
	}
	after := f.callsOf("chat.postMessage")[before:]
	if len(after) != 2 || after[0].Form.Get("thread_ts") != posts[0].TS ||
		after[1].Form.Get("thread_ts") != "" || !strings.Contains(after[1].Form.Get("text"), "Meeting ended: Weekly sync") {
		t.Errorf("after the end: %d posts, want the notice in the thread and the summary in the channel", len(after))
	}
	if n := len(f.callsOf("calls.add")); n != 1 {
		t.Errorf("%d calls.add, want 1 for the whole meeting", n)
	}
}

// TestCallCardNeedsScopeAndJoinURL: without calls:write, or without a join page, a meeting gets
// today's status message (with the Join button when there is a join page) and no Calls request.
func TestCallCardNeedsScopeAndJoinURL(t *testing.T) {
	cases := []struct {
		name, scopes, joinURL string
		wantJoin              bool
	}{
		{"ScopeMissing", "commands,chat:write,chat:write.public,users:read,usergroups:read", testJoinURL, true},
		{"NoJoinURL", callScopes, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSlack(t)
			f.scopes = tc.scopes
			a, _ := newTestAdapter(t, f, &recorder{})
			n := chat.Notification{Text: "Alice joined", Threaded: true, Kinds: []chat.NoticeKind{chat.Joined}, Meeting: chat.MeetingState{
				Name: "Weekly", Occurrence: "occ-1", JoinURL: tc.joinURL, Present: []string{"Alice"},
				People: []chat.Person{{UUID: "a1", Name: "Alice"}}, Started: time.Now()}}
			if err := a.Post(context.Background(), general, n); err != nil {
				t.Fatal(err)
			}
			for _, m := range []string{"calls.add", "calls.participants.add", "calls.end"} {
				if n := len(f.callsOf(m)); n != 0 {
					t.Errorf("%d %s requests", n, m)
				}
			}
			posts := f.callsOf("chat.postMessage")
			if len(posts) != 2 {
				t.Fatalf("%d posts, want the status message and a reply", len(posts))
			}
			b := unescapedJSON(posts[0].Form.Get("blocks"))
			if !strings.Contains(b, "Meeting in progress") || strings.Contains(b, testJoinURL) != tc.wantJoin {
				t.Errorf("status message (join button wanted: %v): %s", tc.wantJoin, b)
			}
		})
	}
}

// TestCallCardRefusedFallsBack: when Slack will not create the call, the meeting gets the status
// message, and calls.add is not asked again for the same occurrence.
func TestCallCardRefusedFallsBack(t *testing.T) {
	f := newFakeSlack(t)
	f.scopes = callScopes
	f.on("calls.add", func(int, url.Values) (int, http.Header, string) {
		return 200, nil, `{"ok":false,"error":"invalid_join_url"}`
	})
	a, _ := newTestAdapter(t, f, &recorder{})
	m := chat.MeetingState{Name: "Weekly", Occurrence: "occ-1", JoinURL: testJoinURL, People: []chat.Person{{UUID: "a1", Name: "Alice"}}}
	for _, text := range []string{"Alice joined", "Bob joined"} {
		if err := a.Post(context.Background(), general, chat.Notification{Text: text, Threaded: true, Meeting: m}); err != nil {
			t.Fatal(err)
		}
		m.People = append(m.People, chat.Person{UUID: "b1", Name: "Bob"})
	}
	if n := len(f.callsOf("calls.add")); n != 1 {
		t.Errorf("%d calls.add, want 1", n)
	}
	if posts := f.callsOf("chat.postMessage"); len(posts) != 3 || !strings.Contains(posts[0].Form.Get("text"), "Meeting in progress") {
		t.Errorf("want the status message and two replies, got %d posts", len(posts))
	}
}

// TestStatelessNoticeKeepsCallAndAlert: a notification that carries no meeting state (a schedule
// ran) goes into the call's thread and neither empties the card nor closes the waiting alert.
func TestStatelessNoticeKeepsCallAndAlert(t *testing.T) {
	f := newFakeSlack(t)
	f.scopes = callScopes
	a, _ := newTestAdapter(t, f, &recorder{})
	ctx := context.Background()
	m := chat.MeetingState{Name: "Weekly", Occurrence: "occ-1", JoinURL: testJoinURL, Started: time.Now(), People: []chat.Person{
		{UUID: "a1", Name: "Alice", Role: "host"}, {UUID: "b1", Name: "Bob", Waiting: true}}}
	if err := a.Post(ctx, general, chat.Notification{Text: "Alice joined", Threaded: true, Meeting: m}); err != nil {
		t.Fatal(err)
	}
	if err := a.Post(ctx, general, chat.Notification{Text: "schedule 3 ran: lock", Threaded: true, Kinds: []chat.NoticeKind{chat.ScheduleRan}}); err != nil {
		t.Fatal(err)
	}
	st := a.channelState(general)
	st.mu.Lock()
	c := st.call
	st.mu.Unlock()
	if c == nil {
		t.Fatal("the stateless notice closed the call card")
	}
	c.mu.Lock()
	want := len(c.want)
	c.mu.Unlock()
	if want != 1 {
		t.Errorf("the card should still show Alice; it wants %d participants", want)
	}
	if c := f.callState("occ-1"); c == nil || c.Ended || !cmp.Equal(names(c), []string{"Alice"}) {
		t.Errorf("call after a stateless notice: %+v", c)
	}
	for _, u := range f.callsOf("chat.update") {
		if strings.Contains(u.Form.Get("blocks"), "left the waiting room") {
			t.Errorf("the waiting alert was closed: %s", u.Form.Get("blocks"))
		}
	}
	posts := f.callsOf("chat.postMessage")
	last := posts[len(posts)-1]
	if last.Form.Get("text") != "schedule 3 ran: lock" || last.Form.Get("thread_ts") == "" {
		t.Errorf("schedule notice %q in thread %q", last.Form.Get("text"), last.Form.Get("thread_ts"))
	}
	if n := len(f.callsOf("calls.participants.remove")) + len(f.callsOf("calls.end")); n != 0 {
		t.Errorf("%d roster removals or ends after a stateless notice", n)
	}
}

// TestCallAddRateLimited: a rate-limited calls.add goes back to the relay as a
// *chat.RateLimitError with nothing posted; its retry makes the one call.
func TestCallAddRateLimited(t *testing.T) {
	f := newFakeSlack(t)
	f.scopes = callScopes
	f.on("calls.add", func(n int, _ url.Values) (int, http.Header, string) {
		if n == 1 {
			return 429, http.Header{"Retry-After": {"4"}}, ""
		}
		return 0, nil, ""
	})
	a, _ := newTestAdapter(t, f, &recorder{})
	n := chat.Notification{Text: "Alice joined", Threaded: true, Meeting: chat.MeetingState{Name: "Weekly", Occurrence: "occ-1",
		JoinURL: testJoinURL, People: []chat.Person{{UUID: "a1", Name: "Alice"}}}}
	var rl *chat.RateLimitError
	if err := a.Post(context.Background(), general, n); !errors.As(err, &rl) || rl.RetryAfter != 4*time.Second {
		t.Fatalf("first Post: %v, want a rate limit of 4s", err)
	}
	if posts := f.callsOf("chat.postMessage"); len(posts) != 0 {
		t.Errorf("%d posts after a refused calls.add", len(posts))
	}
	if err := a.Post(context.Background(), general, n); err != nil {
		t.Fatal(err)
	}
	if c := f.callState("occ-1"); c == nil || !cmp.Equal(names(c), []string{"Alice"}) {
		t.Errorf("call after the retry: %+v", c)
	}
	if posts := f.callsOf("chat.postMessage"); len(posts) != 2 {
		t.Errorf("%d posts, want the call block and the reply", len(posts))
	}
}
