package slack

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
)

// TestSocketMode drives the adapter through a local websocket server speaking the Socket Mode
// envelope: hello, then a slash command, a button press and an uninstall event. Each envelope is
// acknowledged with an empty ack, and the answers go through response_url.
func TestSocketMode(t *testing.T) {
	f := newFakeSlack(t)
	f.users["UHOST"] = map[string]any{"id": "UHOST"}
	rec := &recorder{reply: func(req chat.Request) chat.Reply {
		switch req.Text {
		case "mute Bob":
			return chat.Reply{Text: "muted Bob", Public: true}
		case "who":
			return chat.Reply{Text: "nobody here"}
		}
		return chat.Reply{Text: "?"}
	}}
	a, _ := newTestAdapter(t, f, rec, func(c *Config) {
		c.AppToken = "xapp-1-A1-test"
		c.SigningSecret = "" // Socket Mode needs no public endpoint
	})
	select {
	case <-f.wsConns:
	case <-time.After(10 * time.Second):
		t.Fatal("the adapter never opened the websocket")
	}
	if calls := f.callsOf("apps.connections.open"); len(calls) == 0 {
		t.Fatal("apps.connections.open not called")
	}

	slash, _ := json.Marshal(map[string]any{
		"envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": true,
		"payload": map[string]any{"team_id": testTeam, "channel_id": testChan, "user_id": "UHOST",
			"user_name": "host", "command": "/meet", "text": "mute Bob", "response_url": f.responseURL("s1")},
	})
	f.envelopes <- string(slash)
	ack := nextAck(t, f)
	if ack.EnvelopeID != "env-1" || (len(ack.Payload) > 0 && string(ack.Payload) != "null") {
		t.Errorf("ack = %+v, want an empty ack of env-1", ack)
	}
	if wh := f.nextWebhook(t); wh.Path != "s1" || wh.ResponseType != "in_channel" || wh.Text != "<@UHOST> muted Bob" {
		t.Errorf("slash command answer = %+v", wh)
	}
	if reqs := rec.requests(); len(reqs) != 1 || reqs[0].Rights != chat.Host || reqs[0].Channel != general {
		t.Errorf("core got %+v, want one request from a host in %s", reqs, general)
	}

	var press map[string]any
	if err := json.Unmarshal([]byte(pressPayload(f, "UHOST", "mb|c|0", "who", "s2", "")), &press); err != nil {
		t.Fatal(err)
	}
	inter, _ := json.Marshal(map[string]any{"envelope_id": "env-2", "type": "interactive", "payload": press})
	f.envelopes <- string(inter)
	if ack := nextAck(t, f); ack.EnvelopeID != "env-2" {
		t.Errorf("ack of %q, want env-2", ack.EnvelopeID)
	}
	if wh := f.nextWebhook(t); wh.Path != "s2" || !wh.ReplaceOriginal || wh.Text != "nobody here" {
		t.Errorf("button answer = %+v, want the choices replaced", wh)
	}

	ev, _ := json.Marshal(map[string]any{"envelope_id": "env-3", "type": "events_api",
		"payload": map[string]any{"type": "event_callback", "team_id": testTeam, "event": map[string]any{"type": "app_uninstalled"}}})
	f.envelopes <- string(ev)
	if ack := nextAck(t, f); ack.EnvelopeID != "env-3" {
		t.Errorf("ack of %q, want env-3", ack.EnvelopeID)
	}
	eventually(t, "workspace stopped after app_uninstalled", func() bool { return a.teamGone(testTeam) })
}

func nextAck(t *testing.T, f *fakeSlack) socketAck {
	t.Helper()
	select {
	case a := <-f.acks:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no ack")
	}
	return socketAck{}
}

// TestNewRefusesBadConfig: settings mistakes stop start-up with a clear error.
func TestNewRefusesBadConfig(t *testing.T) {
	h := &recorder{}
	cases := map[string]Config{
		"NoBotToken":      {SigningSecret: "s"},
		"NoSecretNoApp":   {BotToken: "xoxb-1"},
		"BotTokenAsApp":   {BotToken: "xoxb-1", AppToken: "xoxb-2"},
		"HostWithMention": {BotToken: "xoxb-1", SigningSecret: "s", Hosts: []string{"<@U1>"}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := New(cfg, h, nil); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}
