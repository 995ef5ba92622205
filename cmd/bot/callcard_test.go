package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	mu       sync.Mutex
	calls    []callReq
	posts    []slackMsg
	webhooks []string // bodies sent to response_url
	got      chan struct{}
}

type slackMsg struct{ text, blocks string }

type callReq struct {
	method string
	names  []string // display names of users (participants.add/remove)
}

func (s *callsStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/response/") {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.webhooks = append(s.webhooks, string(b))
		s.mu.Unlock()
		s.signal()
		io.WriteString(w, "ok")
		return
	}
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	record := func(names []string) {
		s.mu.Lock()
		s.calls = append(s.calls, callReq{method: method, names: names})
		s.mu.Unlock()
		s.signal()
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
		s.posts = append(s.posts, slackMsg{r.Form.Get("text"), r.Form.Get("blocks")})
		n := len(s.posts)
		s.mu.Unlock()
		s.signal()
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1700000000.%06d"}`, r.Form.Get("channel"), n)
	case "chat.update":
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q}`, r.Form.Get("channel"), r.Form.Get("ts"))
	case "users.info":
		fmt.Fprintf(w, `{"ok":true,"user":{"id":%q,"name":"u"}}`, r.Form.Get("user"))
	default:
		fmt.Fprint(w, `{"ok":true}`)
	}
}

func (s *callsStandIn) signal() {
	select {
	case s.got <- struct{}{}:
	default:
	}
}

// until waits until ok holds of what the stand-in saw, or fails after a minute.
func (s *callsStandIn) until(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	for !ok() {
		select {
		case <-s.got:
		case <-time.After(100 * time.Millisecond): // state outside the stand-in (the simulator)
		case <-deadline:
			t.Fatalf("never saw %s", what)
		}
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
	room, slack, _, _ := startSlackBot(t)
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

// startSlackBot links channel C1 of workspace T1 to the simulator's room 1061 and runs `bot
// run` with a token that has calls:write, MEET_JOIN_URL and UHOST as a host.
func startSlackBot(t *testing.T) (room *sim.Room, slack *callsStandIn, slackURL, addr string) {
	t.Helper()
	ctx := context.Background()
	platform, room := newSim(sim.Options{}, false)
	ps := httptest.NewServer(platform)
	t.Cleanup(ps.Close)
	slack = &callsStandIn{got: make(chan struct{}, 1)}
	ss := httptest.NewServer(slack)
	t.Cleanup(ss.Close)
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
	addr = startBotRun(t, map[string]string{
		"MEET_API_SERVER": ps.URL, "MEETBOT_SECRET_KEY": testKey, "STORE_URL": storeURL, "REPLICA_ID": "one",
		"LOG_LEVEL": "error", "SLACK_BOT_TOKEN": "xoxb-calls", "SLACK_SIGNING_SECRET": callsSecret,
		"SLACK_API_URL": ss.URL + "/api/", "SLACK_HOSTS": "UHOST",
		"MEET_JOIN_URL": "https://meet.example.com/webapp/#/?conference={number}",
	})
	slack.until(t, "the bot in the meeting", func() bool { return len(room.Participants()) > 0 })
	return room, slack, ss.URL, addr
}

const callsSecret = "calls-secret"

// TestSlackWaitingAlertAdmit: someone waiting in the room brings a waiting-room alert with Admit
// to the channel; a member's press is refused and admits no one, a host's admits them.
func TestSlackWaitingAlertAdmit(t *testing.T) {
	room, slack, slackURL, addr := startSlackBot(t)
	room.Join(sim.ParticipantSpec{Name: "Alice Zhang", Role: "chair"})
	bob := room.Join(sim.ParticipantSpec{Name: "Bob Smith", Waiting: true})
	var alert slackMsg
	slack.until(t, "the waiting-room alert", func() bool {
		slack.mu.Lock()
		defer slack.mu.Unlock()
		for _, p := range slack.posts {
			if p.text == "Bob Smith is waiting to be admitted" && strings.Contains(p.blocks, `admit id:`+bob) {
				alert = p
				return true
			}
		}
		return false
	})
	blockID, actionID := findButton(t, alert.blocks, "admit id:"+bob)
	waiting := func() bool {
		for _, p := range room.Participants() {
			if p.UUID == bob {
				return p.ServiceType == "waiting_room"
			}
		}
		return false
	}
	press := func(user, resp string) {
		t.Helper()
		payload, _ := json.Marshal(map[string]any{
			"type": "block_actions", "team": map[string]any{"id": "T1"},
			"user":         map[string]any{"id": user, "name": strings.ToLower(user), "team_id": "T1"},
			"container":    map[string]any{"type": "message", "message_ts": "1700000000.000001", "channel_id": "C1"},
			"channel":      map[string]any{"id": "C1"},
			"trigger_id":   "1.2.3",
			"response_url": slackURL + "/response/" + resp,
			"actions": []any{map[string]any{"type": "button", "block_id": blockID, "action_id": actionID,
				"value": "admit id:" + bob, "action_ts": "1700000002.000200"}},
		})
		body := "payload=" + url.QueryEscape(string(payload))
		if code := signedRequest(t, addr, "/slack/interactions", callsSecret, time.Now(), body, func(s string) string { return s }); code != 200 {
			t.Fatalf("press by %s: status %d", user, code)
		}
	}
	webhook := func(n int) string {
		t.Helper()
		var w string
		slack.until(t, "an answer to the press", func() bool {
			slack.mu.Lock()
			defer slack.mu.Unlock()
			if len(slack.webhooks) >= n {
				w = slack.webhooks[n-1]
				return true
			}
			return false
		})
		return w
	}

	press("UMEMBER", "m1")
	if w := webhook(1); !strings.Contains(w, "You need host rights for admit") {
		t.Errorf("a member's Admit was answered %s", w)
	}
	if !waiting() {
		t.Fatal("a member's press admitted Bob")
	}
	press("UHOST", "h1")
	slack.until(t, "Bob admitted", func() bool { return !waiting() })
}

// findButton returns the block_id and action_id of the button whose value is value.
func findButton(t *testing.T, blocks, value string) (blockID, actionID string) {
	t.Helper()
	var bs []struct {
		BlockID  string `json:"block_id"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
		Accessory *struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"accessory"`
	}
	if err := json.Unmarshal([]byte(blocks), &bs); err != nil {
		t.Fatalf("blocks: %v", err)
	}
	for _, b := range bs {
		if b.Accessory != nil && b.Accessory.Value == value {
			return b.BlockID, b.Accessory.ActionID
		}
		for _, e := range b.Elements {
			if e.Value == value {
				return b.BlockID, e.ActionID
			}
		}
	}
	t.Fatalf("no button %q in %s", value, blocks)
	return "", ""
}
