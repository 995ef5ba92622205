package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meetbot/meetbot/chat"
)

// TestSignedRequests sends real signed HTTP requests to the running handler: only a request
// signed with the signing secret over its exact body, within five minutes, and not seen before,
// runs anything.
func TestSignedRequests(t *testing.T) {
	f := newFakeSlack(t)
	f.users["U1"] = map[string]any{"id": "U1", "name": "alice"}
	rec := &recorder{reply: func(req chat.Request) chat.Reply {
		return chat.Reply{Text: "muted Bob", Public: true}
	}}
	_, srv := newTestAdapter(t, f, rec)
	endpoint := srv.URL + "/slack/commands"
	now := time.Now()
	body := slashBody(f, testChan, "U1", "mute Bob", "r1")

	bad := []struct {
		name   string
		secret string
		ts     time.Time
		body   string
	}{
		{"WrongSecret", "not-the-secret", now, body},
		{"StaleTimestamp", testSecret, now.Add(-6 * time.Minute), body},
		{"FutureTimestamp", testSecret, now.Add(6 * time.Minute), body},
		{"Unsigned", "", now, body},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if got := post(t, endpoint, tc.secret, tc.ts, tc.body); got != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", got)
			}
		})
	}
	t.Run("BodyReplayedWithAnotherChannel", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(slashBody(f, "C0EVIL", "U1", "mute Bob", "r1")))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sign(req, testSecret, now, body) // the signature of the original body
		if got := do(t, req); got != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", got)
		}
	})
	if n := len(rec.requests()); n != 0 {
		t.Fatalf("refused requests reached the command core %d times", n)
	}
	f.noMoreWebhooks(t)

	t.Run("Valid", func(t *testing.T) {
		if got := post(t, endpoint, testSecret, now, body); got != http.StatusOK {
			t.Fatalf("status %d, want 200", got)
		}
		wh := f.nextWebhook(t)
		if wh.ResponseType != "in_channel" || wh.Text != "<@U1> muted Bob" || wh.Path != "r1" {
			t.Errorf("reply = %+v, want in_channel %q via r1", wh, "<@U1> muted Bob")
		}
		want := []chat.Request{{
			Channel: chat.ChannelRef{Platform: "slack", Workspace: testTeam, Channel: testChan},
			User:    chat.UserRef{ID: "U1", Name: "u1"},
			Rights:  chat.Member,
			Text:    "mute Bob",
		}}
		if diff := cmp.Diff(want, rec.requests()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("ExactReplay", func(t *testing.T) {
		if got := post(t, endpoint, testSecret, now, body); got != http.StatusUnauthorized {
			t.Errorf("replayed request: status %d, want 401", got)
		}
		if n := len(rec.requests()); n != 1 {
			t.Errorf("command ran %d times, want once", n)
		}
	})
}

// TestReplies checks what the channel and the requester see: errors, help and choices go to
// the requester alone; changes to the meeting go to the channel, attributed; display names are
// escaped so nobody is pinged.
func TestReplies(t *testing.T) {
	f := newFakeSlack(t)
	f.users["U1"] = map[string]any{"id": "U1"}
	replies := map[string]chat.Reply{
		"mute <!channel>": {Text: "muted <!channel> & <@U2>", Public: true},
		"kick Zed":        {Text: "nobody called Zed is in the meeting", Failed: true},
		"help":            {Text: "/meet who — list participants"},
	}
	rec := &recorder{reply: func(req chat.Request) chat.Reply { return replies[req.Text] }}
	_, srv := newTestAdapter(t, f, rec)

	cases := []struct {
		text, wantType, wantText string
	}{
		{"mute <!channel>", "in_channel", "<@U1> muted &lt;!channel&gt; &amp; &lt;@U2&gt;"},
		{"kick Zed", "ephemeral", ":warning: nobody called Zed is in the meeting"},
		{"", "ephemeral", "/meet who — list participants"}, // bare /meet is help
	}
	for i, tc := range cases {
		t.Run(tc.wantType+"/"+tc.text, func(t *testing.T) {
			id := "r" + string(rune('a'+i))
			if got := post(t, srv.URL+"/slack/commands", testSecret, time.Now(), slashBody(f, testChan, "U1", tc.text, id)); got != 200 {
				t.Fatalf("status %d", got)
			}
			wh := f.nextWebhook(t)
			if wh.ResponseType != tc.wantType || wh.Text != tc.wantText || wh.ReplaceOriginal {
				t.Errorf("reply = {type %q text %q replace %v}, want {%q %q false}", wh.ResponseType, wh.Text, wh.ReplaceOriginal, tc.wantType, tc.wantText)
			}
		})
	}
}

// TestCommandInThread answers a command typed in a thread in that thread.
func TestCommandInThread(t *testing.T) {
	f := newFakeSlack(t)
	f.users["U1"] = map[string]any{"id": "U1"}
	rec := &recorder{reply: func(chat.Request) chat.Reply { return chat.Reply{Text: "locked the meeting", Public: true} }}
	_, srv := newTestAdapter(t, f, rec)

	body := slashBody(f, testChan, "U1", "lock", "t1") + "&thread_ts=1700000000.000100"
	if got := post(t, srv.URL+"/slack/commands", testSecret, time.Now(), body); got != 200 {
		t.Fatalf("status %d", got)
	}
	if wh := f.nextWebhook(t); wh.ThreadTS != "1700000000.000100" {
		t.Errorf("slash command reply thread_ts = %q, want the thread", wh.ThreadTS)
	}

	payload := pressPayload(f, "U1", "mb|c|0", "lock", "t2", "1700000000.000200")
	if got := post(t, srv.URL+"/slack/interactions", testSecret, time.Now(), interactionBody(payload)); got != 200 {
		t.Fatalf("status %d", got)
	}
	if wh := f.nextWebhook(t); wh.ResponseType != "in_channel" || wh.ThreadTS != "1700000000.000200" {
		t.Errorf("button reply = %+v, want in_channel in thread 1700000000.000200", wh)
	}
}

// TestButtonPress runs a button's command through the same core with the presser's rights and
// updates the message it came from.
func TestButtonPress(t *testing.T) {
	f := newFakeSlack(t)
	f.users["UHOST"] = map[string]any{"id": "UHOST"}
	f.users["U2"] = map[string]any{"id": "U2"}
	muted := false
	who := func() chat.Reply {
		label, cmd := "Mute", "mute 3f2a"
		cell := "no"
		if muted {
			label, cmd, cell = "Unmute", "unmute 3f2a", "yes"
		}
		return chat.Reply{Text: "1 in the meeting", Table: &chat.Table{
			Columns: []string{"Name", "Muted"},
			Rows:    []chat.Row{{Cells: []string{"Bob", cell}, Actions: []chat.Action{{Label: label, Command: cmd}}}},
		}}
	}
	rec := &recorder{reply: func(req chat.Request) chat.Reply {
		switch req.Text {
		case "who":
			return who()
		case "mute 3f2a":
			if req.Rights < chat.Host {
				return chat.Reply{Text: "mute needs host rights", Failed: true}
			}
			muted = true
			return chat.Reply{Text: "muted Bob", Public: true}
		case "mute 3f2a-bob":
			return chat.Reply{Text: "muted Bob", Public: true}
		case "end confirm":
			return chat.Reply{Text: "ended the meeting", Public: true}
		}
		return chat.Reply{Text: "?", Failed: true}
	}}
	_, srv := newTestAdapter(t, f, rec)
	press := func(user, blockID, value, id string) {
		t.Helper()
		body := interactionBody(pressPayload(f, user, blockID, value, id, ""))
		if got := post(t, srv.URL+"/slack/interactions", testSecret, time.Now(), body); got != 200 {
			t.Fatalf("status %d", got)
		}
	}

	t.Run("MemberRefused", func(t *testing.T) {
		press("U2", "mb|r|0|who", "mute 3f2a", "p1")
		wh := f.nextWebhook(t)
		if wh.ResponseType != "ephemeral" || wh.ReplaceOriginal || wh.Text != ":warning: mute needs host rights" {
			t.Errorf("refusal = %+v, want a new ephemeral message, table kept", wh)
		}
		last := rec.requests()[len(rec.requests())-1]
		if last.Rights != chat.Member || last.User.ID != "U2" || last.Text != "mute 3f2a" {
			t.Errorf("core got %+v, want U2 as member running mute 3f2a", last)
		}
		f.noMoreWebhooks(t)
	})
	t.Run("HostMutesFromTable", func(t *testing.T) {
		press("UHOST", "mb|r|0|who", "mute 3f2a", "p2")
		pub := f.nextWebhook(t)
		if pub.ResponseType != "in_channel" || pub.Text != "<@UHOST> muted Bob" || pub.ReplaceOriginal {
			t.Errorf("channel message = %+v, want in_channel %q", pub, "<@UHOST> muted Bob")
		}
		upd := f.nextWebhook(t)
		if !upd.ReplaceOriginal || !strings.Contains(unescapedJSON(string(upd.Blocks)), `"Unmute"`) || !strings.Contains(unescapedJSON(string(upd.Blocks)), "*Bob* · muted") {
			t.Errorf("table not redrawn with Bob muted: %+v", upd)
		}
	})
	t.Run("ChoiceReplacesQuestion", func(t *testing.T) {
		press("UHOST", "mb|c|0", "mute 3f2a-bob", "p3")
		pub := f.nextWebhook(t)
		upd := f.nextWebhook(t)
		if pub.ResponseType != "in_channel" || !upd.ReplaceOriginal || upd.Text != "muted Bob" || upd.ResponseType != "ephemeral" {
			t.Errorf("got %+v then %+v; want in_channel post then the choices replaced", pub, upd)
		}
	})
	t.Run("ConfirmedEnd", func(t *testing.T) {
		press("UHOST", "mb|k|0", "end confirm", "p4")
		if pub := f.nextWebhook(t); pub.Text != "<@UHOST> ended the meeting" {
			t.Errorf("channel message %q", pub.Text)
		}
		if upd := f.nextWebhook(t); !upd.ReplaceOriginal {
			t.Errorf("confirm message not replaced: %+v", upd)
		}
	})
	t.Run("ForeignBlockIgnored", func(t *testing.T) {
		n := len(rec.requests())
		press("UHOST", "someone-elses-block", "end confirm", "p5")
		press("UHOST", "mb|r|0|who", "", "p6")
		// A later valid press proves the ignored ones were handled first.
		press("UHOST", "mb|k|0", "end confirm", "p7")
		if wh := f.nextWebhook(t); wh.Path != "p7" {
			t.Errorf("reply to %s, want only p7", wh.Path)
		}
		f.nextWebhook(t)
		if got := len(rec.requests()) - n; got != 1 {
			t.Errorf("core ran %d commands, want 1", got)
		}
	})
}

// TestEvents covers /slack/events: the url_verification handshake, and uninstall and token
// revocation, which stop the bot's work for that workspace.
func TestEvents(t *testing.T) {
	f := newFakeSlack(t)
	f.users["U1"] = map[string]any{"id": "U1"}
	rec := &recorder{}
	a, srv := newTestAdapter(t, f, rec)
	events := srv.URL + "/slack/events"

	t.Run("URLVerification", func(t *testing.T) {
		body := `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
		req, _ := http.NewRequest(http.MethodPost, events, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		sign(req, testSecret, time.Now(), body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got["challenge"] != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
			t.Errorf("challenge answer %v, %v", got, err)
		}
	})
	t.Run("UnsignedUninstallIgnored", func(t *testing.T) {
		body := `{"type":"event_callback","team_id":"` + testTeam + `","event":{"type":"app_uninstalled"}}`
		if got := post(t, events, "wrong", time.Now(), body); got != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", got)
		}
		if a.teamGone(testTeam) {
			t.Error("an unsigned event stopped the workspace")
		}
	})
	t.Run("Uninstalled", func(t *testing.T) {
		body := `{"type":"event_callback","team_id":"` + testTeam + `","event_id":"Ev1","event":{"type":"app_uninstalled"}}`
		if got := post(t, events, testSecret, time.Now(), body); got != http.StatusOK {
			t.Fatalf("status %d", got)
		}
		err := a.Post(context.Background(), chat.ChannelRef{Platform: "slack", Workspace: testTeam, Channel: testChan}, chat.Notification{Text: "Alice joined"})
		if !errors.Is(err, chat.ErrChannelGone) {
			t.Errorf("Post after uninstall: %v, want ErrChannelGone", err)
		}
		if n := len(f.callsOf("chat.postMessage")); n != 0 {
			t.Errorf("posted %d messages to an uninstalled workspace", n)
		}
		if got := post(t, srv.URL+"/slack/commands", testSecret, time.Now(), slashBody(f, testChan, "U1", "who", "e1")); got != 200 {
			t.Fatalf("status %d", got)
		}
		if wh := f.nextWebhook(t); wh.Text != removedText || wh.ResponseType != "ephemeral" {
			t.Errorf("command after uninstall answered %+v", wh)
		}
		if n := len(rec.requests()); n != 0 {
			t.Errorf("command core ran %d times after uninstall", n)
		}
		other := chat.ChannelRef{Platform: "slack", Workspace: "T0002", Channel: "C9"}
		if err := a.Post(context.Background(), other, chat.Notification{Text: "Bob joined"}); err != nil {
			t.Errorf("another workspace stopped too: %v", err)
		}
	})
	t.Run("TokensRevoked", func(t *testing.T) {
		body := `{"type":"event_callback","team_id":"T0003","event":{"type":"tokens_revoked","tokens":{"bot":["UBOT"]}}}`
		if got := post(t, events, testSecret, time.Now(), body); got != http.StatusOK {
			t.Fatalf("status %d", got)
		}
		if !a.teamGone("T0003") {
			t.Error("tokens_revoked did not stop the workspace")
		}
	})
}

// TestAckDoesNotWaitForCore: Slack wants an answer within three seconds, so the command is
// acknowledged while the core is still working, and the result follows through response_url.
func TestAckDoesNotWaitForCore(t *testing.T) {
	f := newFakeSlack(t)
	f.users["U1"] = map[string]any{"id": "U1"}
	release := make(chan struct{})
	rec := &recorder{reply: func(chat.Request) chat.Reply {
		<-release
		return chat.Reply{Text: "locked the meeting", Public: true}
	}}
	_, srv := newTestAdapter(t, f, rec)
	for _, ep := range []struct{ path, body string }{
		{"/slack/commands", slashBody(f, testChan, "U1", "lock", "a1")},
		{"/slack/interactions", interactionBody(pressPayload(f, "U1", "mb|k|0", "lock", "a2", ""))},
	} {
		if got := post(t, srv.URL+ep.path, testSecret, time.Now(), ep.body); got != http.StatusOK {
			t.Fatalf("%s: status %d while the core works, want 200", ep.path, got)
		}
	}
	f.noMoreWebhooks(t)
	close(release)
	got := map[string]bool{}
	for range 3 { // the command's reply; the press's channel message and its replacement
		got[f.nextWebhook(t).Path] = true
	}
	if !got["a1"] || !got["a2"] {
		t.Errorf("replies went to %v, want a1 and a2", got)
	}
}

// TestResponseURLRetry: a response_url that answers 503 once gets the reply once more; a reply
// Slack accepted is never sent twice.
func TestResponseURLRetry(t *testing.T) {
	f := newFakeSlack(t)
	f.users["U1"] = map[string]any{"id": "U1"}
	var mu sync.Mutex
	hits := 0
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		n := hits
		mu.Unlock()
		if n == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok"))
		f.webhooks <- webhookCall{Path: "flaky"}
	}))
	defer flaky.Close()
	_, srv := newTestAdapter(t, f, &recorder{})
	f.responseURLBase = flaky.URL + "/"
	if got := post(t, srv.URL+"/slack/commands", testSecret, time.Now(), slashBody(f, testChan, "U1", "who", "x")); got != 200 {
		t.Fatalf("status %d", got)
	}
	f.nextWebhook(t)
	eventually(t, "two attempts", func() bool { mu.Lock(); defer mu.Unlock(); return hits == 2 })
	f.noMoreWebhooks(t)
}
