package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings/sim"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/storeurl"
)

// callsStandIn is Slack's Web API for `bot run` with calls:write: it records every Calls API
// request with the display names it named, and signals each one.
type callsStandIn struct {
	mu    sync.Mutex
	calls []callReq
	posts []string
	got   chan struct{}
}

type callReq struct {
	method string
	names  []string // display names of users (participants.add/remove)
}

func (s *callsStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	record := func(names []string) {
		s.mu.Lock()
		s.calls = append(s.calls, callReq{method: method, names: names})
		s.mu.Unlock()
		select {
		case s.got <- struct{}{}:
		default:
		}
	}
	users := func() []string {
		var us []struct {
			DisplayName string `json:"display_name"`
		}
		json.Unmarshal([]byte(r.Form.Get("users")), &us)
		var names []string
		for _, u := range us {
			names = append(names, u.DisplayName)
		}
		slices.Sort(names)
		return names
	}
	switch method {
	case "auth.test":
		w.Header().Set("X-OAuth-Scopes", "commands,chat:write,calls:read,calls:write")
		fmt.Fprint(w, `{"ok":true,"team_id":"T1","user_id":"UBOT","bot_id":"BBOT"}`)
	case "calls.add":
		record(users())
		fmt.Fprint(w, `{"ok":true,"call":{"id":"R1","date_start":1,"external_unique_id":"x","join_url":"https://meet.example.com/j"}}`)
	case "calls.participants.add", "calls.participants.remove", "calls.end", "calls.update":
		record(users())
		fmt.Fprint(w, `{"ok":true}`)
	case "chat.postMessage":
		s.mu.Lock()
		s.posts = append(s.posts, r.Form.Get("text"))
		n := len(s.posts)
		s.mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1700000000.%06d"}`, r.Form.Get("channel"), n)
	case "chat.update":
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q}`, r.Form.Get("channel"), r.Form.Get("ts"))
	case "users.info":
		fmt.Fprintf(w, `{"ok":true,"user":{"id":%q,"name":"u"}}`, r.Form.Get("user"))
	default:
		fmt.Fprint(w, `{"ok":true}`)
	}
}

// waitFor waits until the recorded Calls API requests satisfy ok, or fails after a minute.
func (s *callsStandIn) waitFor(t *testing.T, what string, ok func([]callReq) bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		s.mu.Lock()
		calls := slices.Clone(s.calls)
		s.mu.Unlock()
		if ok(calls) {
			return
		}
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("never saw %s; Calls API requests: %+v", what, calls)
		}
	}
}

// namesIn returns the participants a sequence of Calls API requests leaves on the card.
func namesIn(calls []callReq) (on []string, ended bool) {
	set := map[string]bool{}
	for _, c := range calls {
		switch c.method {
		case "calls.add", "calls.participants.add":
			for _, n := range c.names {
				set[n] = true
			}
		case "calls.participants.remove":
			for _, n := range c.names {
				delete(set, n)
			}
		case "calls.end":
			ended = true
		}
	}
	for n := range set {
		on = append(on, n)
	}
	slices.Sort(on)
	return on, ended
}

// TestSlackCallCardFollowsTheMeeting runs `bot run` with MEET_JOIN_URL and a token with
// calls:write against the simulator: a meeting that starts in a linked channel becomes a Slack
// Call whose participants are exactly who is in (a room system and a phone by their names), a
// leave removes one, and the meeting's end ends the call.
func TestSlackCallCardFollowsTheMeeting(t *testing.T) {
	ctx := context.Background()
	platform, room := newSim(sim.Options{}, false)
	ps := httptest.NewServer(platform)
	defer ps.Close()
	slack := &callsStandIn{got: make(chan struct{}, 1)}
	ss := httptest.NewServer(slack)
	defer ss.Close()

	storeURL := "sqlite:" + filepath.Join(t.TempDir(), "bot.db")
	key, _ := store.ParseSecretKey(testKey)
	st, err := storeurl.Open(ctx, storeURL, key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ch := chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C1"}
	if err := st.PutLink(ctx, store.Link{
		Channel: ch, Meeting: store.MeetingRef{APIServer: ps.URL, Room: "1061"},
		Node: strings.TrimPrefix(ps.URL, "http://"), Name: "Stand-up", PIN: "4321", Role: "HOST", Cloud: "public", CreatedBy: "U1",
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	startBotRun(t, map[string]string{
		"MEET_API_SERVER": ps.URL, "MEETBOT_SECRET_KEY": testKey, "STORE_URL": storeURL, "REPLICA_ID": "one",
		"LOG_LEVEL": "error", "SLACK_BOT_TOKEN": "xoxb-calls", "SLACK_SIGNING_SECRET": "calls-secret",
		"SLACK_API_URL": ss.URL + "/api/", "MEET_JOIN_URL": "https://meet.example.com/webapp/#/?conference={number}",
	})

	// The bot's own session is in the room once it follows the link; people come after it.
	deadline := time.Now().Add(30 * time.Second)
	for len(room.Participants()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	alice := room.Join(sim.ParticipantSpec{Name: "Alice Zhang", Role: "chair"})
	boardRoom := room.Join(sim.ParticipantSpec{Name: "Board room", Protocol: "sip"})
	phone := room.Join(sim.ParticipantSpec{Name: "+49 30 1234", Protocol: "sip"})
	want := []string{"+49 30 1234", "Alice Zhang", "Board room"}
	slack.waitFor(t, "the three on the card", func(c []callReq) bool { on, _ := namesIn(c); return slices.Equal(on, want) })
	bob := room.Join(sim.ParticipantSpec{Name: "Bob Smith"})
	want = []string{"+49 30 1234", "Alice Zhang", "Board room", "Bob Smith"}
	slack.waitFor(t, "Bob added", func(c []callReq) bool { on, _ := namesIn(c); return slices.Equal(on, want) })
	room.Leave(bob)
	want = []string{"+49 30 1234", "Alice Zhang", "Board room"}
	slack.waitFor(t, "Bob removed", func(c []callReq) bool { on, _ := namesIn(c); return slices.Equal(on, want) })
	for _, u := range []string{alice, boardRoom, phone} {
		room.Leave(u)
	}
	slack.waitFor(t, "calls.end", func(c []callReq) bool { _, ended := namesIn(c); return ended })

	slack.mu.Lock()
	defer slack.mu.Unlock()
	if n := slices.IndexFunc(slack.calls, func(c callReq) bool { return c.method == "calls.add" }); n < 0 {
		t.Fatal("no calls.add")
	}
	adds := 0
	for _, c := range slack.calls {
		if c.method == "calls.add" {
			adds++
		}
	}
	if adds != 1 {
		t.Errorf("%d calls.add for one meeting, want 1", adds)
	}
}
