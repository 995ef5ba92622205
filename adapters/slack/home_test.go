package slack

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
)

// homeSource is a HomeSource over a fixed list.
type homeSource struct {
	meetings []HomeMeeting
	asked    atomic.Int32
}

func (h *homeSource) LinkedMeetings(_ context.Context, team string) ([]HomeMeeting, error) {
	h.asked.Add(1)
	var out []HomeMeeting
	for _, m := range h.meetings {
		if m.Channel.Workspace == team {
			out = append(out, m)
		}
	}
	return out, nil
}

func homeOpened(user, eventID string) string {
	b, _ := json.Marshal(map[string]any{
		"token": "deprecated", "team_id": testTeam, "api_app_id": "A123456", "type": "event_callback",
		"event_id": eventID, "event_time": 1700000000,
		"event": map[string]any{"type": "app_home_opened", "user": user, "channel": "D0001", "tab": "home", "event_ts": "1700000000.000100"},
	})
	return string(b)
}

// TestAppHome: a member of one of two linked channels sees that channel's meeting (who is in,
// locked, recording, Join) and nothing of the other; opening the tab again refreshes it, with
// memberships from the cache.
func TestAppHome(t *testing.T) {
	f := newFakeSlack(t)
	f.chanMembers[testChan] = []string{"U1", "U2"}
	f.chanMembers["C0002"] = []string{"U2", "U3"}
	src := &homeSource{meetings: []HomeMeeting{
		{Channel: general, Name: "Weekly sync", Live: true, Present: []string{"Alice", "Board room"}, Locked: true, Recording: true, JoinURL: testJoinURL},
		{Channel: chat.ChannelRef{Platform: "slack", Workspace: testTeam, Channel: "C0002"}, Name: "Board meeting (secret)", Live: true, Present: []string{"Carol"}},
		{Channel: chat.ChannelRef{Platform: "slack", Workspace: "T0002", Channel: "C0009"}, Name: "Other workspace"},
	}}
	_, srv := newTestAdapter(t, f, &recorder{}, func(c *Config) { c.Home = src })

	open := func(eventID string) {
		t.Helper()
		if got := post(t, srv.URL+"/slack/events", testSecret, time.Now(), homeOpened("U1", eventID)); got != 200 {
			t.Fatalf("app_home_opened: status %d", got)
		}
	}
	open("Ev1")
	eventually(t, "views.publish", func() bool { return len(f.callsOf("views.publish")) == 1 })
	var req struct {
		UserID string          `json:"user_id"`
		View   json.RawMessage `json:"view"`
	}
	if err := json.Unmarshal(f.callsOf("views.publish")[0].Body, &req); err != nil {
		t.Fatal(err)
	}
	view := unescapedJSON(string(req.View))
	if req.UserID != "U1" || !strings.Contains(view, `"type":"home"`) {
		t.Errorf("published for %q: %s", req.UserID, view)
	}
	for _, want := range []string{"*Weekly sync* in <#C0001>", "Alice, Board room", ":lock: Locked", ":red_circle: Recording", `"url":"` + testJoinURL + `"`} {
		if !strings.Contains(view, want) {
			t.Errorf("home tab lacks %q: %s", want, view)
		}
	}
	for _, secret := range []string{"Board meeting", "C0002", "Carol", "Other workspace", "C0009"} {
		if strings.Contains(view, secret) {
			t.Errorf("home tab shows %q of a channel the viewer is not in", secret)
		}
	}

	members := len(f.callsOf("conversations.members"))
	open("Ev2")
	eventually(t, "second views.publish", func() bool { return len(f.callsOf("views.publish")) == 2 })
	if n := len(f.callsOf("conversations.members")); n != members {
		t.Errorf("%d more conversations.members on a second open within a minute", n-members)
	}
	if src.asked.Load() != 2 {
		t.Errorf("linked meetings read %d times, want once per open", src.asked.Load())
	}
}

// TestAppHomeMembershipUnknown: a channel whose membership cannot be checked is left out.
func TestAppHomeMembershipUnknown(t *testing.T) {
	f := newFakeSlack(t) // knows no channel: conversations.members answers channel_not_found
	src := &homeSource{meetings: []HomeMeeting{{Channel: general, Name: "Weekly sync"}}}
	_, srv := newTestAdapter(t, f, &recorder{}, func(c *Config) { c.Home = src })
	if got := post(t, srv.URL+"/slack/events", testSecret, time.Now(), homeOpened("U1", "Ev1")); got != 200 {
		t.Fatalf("status %d", got)
	}
	eventually(t, "views.publish", func() bool { return len(f.callsOf("views.publish")) == 1 })
	if v := string(f.callsOf("views.publish")[0].Body); strings.Contains(v, "Weekly sync") || !strings.Contains(v, "No meeting is linked") {
		t.Errorf("view: %s", v)
	}
}
