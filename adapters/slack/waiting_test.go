package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
)

// coreAdmit plays the core's admit: hosts only, checked on the request's rights.
func coreAdmit(req chat.Request) chat.Reply {
	if req.Rights < chat.Host {
		return chat.Reply{Text: "Only hosts can admit waiting guests.", Failed: true}
	}
	switch req.Text {
	case "admit id:b1":
		return chat.Reply{Text: "admitted Bob", Public: true}
	case "admit all":
		return chat.Reply{Text: "admitted Bob and Carol", Public: true}
	}
	return chat.Reply{Text: "No one is waiting to be admitted.", Failed: true}
}

// TestWaitingRoomAlert: one message per burst, with Admit and Admit all; a member's press is
// refused to them alone and changes nothing; a host's press edits the alert to say who admitted
// whom; the relay's next state closes it; the next arrival starts a new one.
func TestWaitingRoomAlert(t *testing.T) {
	f := newFakeSlack(t)
	f.users["UHOST"] = map[string]any{"id": "UHOST"}
	f.users["UMEMBER"] = map[string]any{"id": "UMEMBER"}
	h := &recorder{reply: coreAdmit}
	a, srv := newTestAdapter(t, f, h)
	ctx := context.Background()
	alice := chat.Person{UUID: "a1", Name: "Alice", Role: "host"}
	bob := chat.Person{UUID: "b1", Name: "Bob", Role: "guest", Waiting: true}
	carol := chat.Person{UUID: "c1", Name: "Carol <!here>", Role: "guest", Waiting: true}
	state := chat.MeetingState{Name: "Weekly sync", Occurrence: "occ-1", Locked: true, People: []chat.Person{alice, bob}}
	notify := func(kind chat.NoticeKind, text string) {
		t.Helper()
		if err := a.Post(ctx, general, chat.Notification{Text: text, Kinds: []chat.NoticeKind{kind}, Meeting: state}); err != nil {
			t.Fatal(err)
		}
	}
	lastUpdate := func() string {
		ups := f.callsOf("chat.update")
		if len(ups) == 0 {
			return ""
		}
		return unescapedJSON(ups[len(ups)-1].Form.Get("blocks"))
	}

	notify(chat.Waiting, "Bob is waiting to be admitted")
	posts := f.callsOf("chat.postMessage")
	if len(posts) != 1 {
		t.Fatalf("%d posts, want the alert alone (its text is not posted again)", len(posts))
	}
	alert := posts[0]
	b := unescapedJSON(alert.Form.Get("blocks"))
	if alert.Form.Get("text") != "Bob is waiting to be admitted" || !strings.Contains(b, `"value":"admit id:b1"`) || !strings.Contains(b, `"value":"admit all"`) {
		t.Errorf("alert %q: %s", alert.Form.Get("text"), b)
	}

	state.People = append(state.People, carol)
	notify(chat.Waiting, "Carol is waiting to be admitted")
	if n := len(f.callsOf("chat.postMessage")); n != 1 {
		t.Errorf("%d posts: the same burst got a second message", n)
	}
	eventually(t, "alert lists Carol too", func() bool { return strings.Contains(lastUpdate(), "Carol &lt;!here&gt;* is waiting") })

	// A member presses Admit: refused to them alone; the alert stays.
	updates := len(f.callsOf("chat.update"))
	press := func(user, value, resp string) {
		t.Helper()
		body := interactionBody(pressPayload(f, user, "mb|w|0", value, resp, ""))
		if got := post(t, srv.URL+"/slack/interactions", testSecret, time.Now(), body); got != 200 {
			t.Fatalf("press: status %d", got)
		}
	}
	press("UMEMBER", "admit id:b1", "m1")
	w := f.nextWebhook(t)
	if w.ResponseType != "ephemeral" || w.ReplaceOriginal || !strings.Contains(w.Text, "Only hosts") {
		t.Errorf("member's press answered %+v", w)
	}
	if n := len(f.callsOf("chat.update")); n != updates {
		t.Errorf("a refused press edited the alert")
	}
	if reqs := h.requests(); reqs[len(reqs)-1].Rights != chat.Member || reqs[len(reqs)-1].Text != "admit id:b1" {
		t.Errorf("core saw %+v", reqs[len(reqs)-1])
	}

	// The host presses Admit for Bob: the alert says so, nothing else is posted.
	press("UHOST", "admit id:b1", "h1")
	eventually(t, "alert says who admitted Bob", func() bool {
		u := lastUpdate()
		return strings.Contains(u, "Bob* was admitted by <@UHOST>") && strings.Contains(u, "Carol &lt;!here&gt;* is waiting")
	})
	f.noMoreWebhooks(t)

	// The relay's state follows: Bob is in, Carol gave up. The burst is over.
	bob.Waiting = false
	state.People = []chat.Person{alice, bob}
	notify(chat.Joined, "Bob joined")
	eventually(t, "alert closed", func() bool {
		u := lastUpdate()
		return strings.Contains(u, "Carol &lt;!here&gt;* left the waiting room") && !strings.Contains(u, "admit all")
	})

	// Dave arrives: a new burst, a new message.
	before := len(f.callsOf("chat.postMessage"))
	state.People = append(state.People, chat.Person{UUID: "d1", Name: "Dave", Waiting: true})
	notify(chat.Waiting, "Dave is waiting to be admitted")
	if got := f.callsOf("chat.postMessage")[before:]; len(got) != 1 || got[0].Form.Get("text") != "Dave is waiting to be admitted" {
		t.Errorf("Dave's arrival: %d posts", len(got))
	}
}

// TestWaitingAlertsOff: with `notify waiting off` the channel gets the relay's text and no alert.
func TestWaitingAlertsOff(t *testing.T) {
	f := newFakeSlack(t)
	a, _ := newTestAdapter(t, f, &recorder{})
	n := chat.Notification{Text: "Bob is waiting to be admitted", Kinds: []chat.NoticeKind{chat.Waiting}, NoWaitingAlerts: true,
		Meeting: chat.MeetingState{Name: "Weekly", People: []chat.Person{{UUID: "b1", Name: "Bob", Waiting: true}}}}
	if err := a.Post(context.Background(), general, n); err != nil {
		t.Fatal(err)
	}
	posts := f.callsOf("chat.postMessage")
	if len(posts) != 1 || posts[0].Form.Get("blocks") != "" || posts[0].Form.Get("text") != "Bob is waiting to be admitted" {
		t.Errorf("want the plain notice alone, got %d posts", len(posts))
	}
}

// TestWaitingNoticeWithoutRoster: a Waiting notice from a relay that fills no People is posted as
// text, since no alert can say it.
func TestWaitingNoticeWithoutRoster(t *testing.T) {
	f := newFakeSlack(t)
	a, _ := newTestAdapter(t, f, &recorder{})
	n := chat.Notification{Text: "Bob is waiting to be admitted", Kinds: []chat.NoticeKind{chat.Waiting},
		Meeting: chat.MeetingState{Name: "Weekly", Present: []string{"Alice"}}}
	if err := a.Post(context.Background(), general, n); err != nil {
		t.Fatal(err)
	}
	if posts := f.callsOf("chat.postMessage"); len(posts) != 1 || posts[0].Form.Get("text") != "Bob is waiting to be admitted" {
		t.Errorf("want the notice as text, got %d posts", len(posts))
	}
}

// TestWaitingForHost: people in a meeting with no host yet are announced once per occurrence,
// and the message says when a host has started it.
func TestWaitingForHost(t *testing.T) {
	f := newFakeSlack(t)
	f.users["UHOST"] = map[string]any{"id": "UHOST"}
	h := &recorder{reply: func(req chat.Request) chat.Reply {
		return chat.Reply{Text: "started the meeting", Public: true}
	}}
	a, srv := newTestAdapter(t, f, h)
	state := chat.MeetingState{Name: "Weekly sync", Occurrence: "occ-1", WaitingForHost: true}
	for i, name := range []string{"Bob", "Carol", "Dave"} {
		state.People = append(state.People, chat.Person{UUID: string(rune('b' + i)), Name: name, Waiting: true})
		if err := a.Post(context.Background(), general, chat.Notification{Text: name + " joined", Kinds: []chat.NoticeKind{chat.Joined}, Meeting: state}); err != nil {
			t.Fatal(err)
		}
	}
	var alerts []apiCall
	for _, p := range f.callsOf("chat.postMessage") {
		if strings.Contains(p.Form.Get("text"), "waiting for a host") {
			alerts = append(alerts, p)
		}
	}
	if len(alerts) != 1 || alerts[0].Form.Get("text") != "1 person is waiting for a host in Weekly sync" {
		t.Fatalf("host alerts: %d (%v)", len(alerts), alerts)
	}
	eventually(t, "host alert counts three", func() bool {
		ups := f.callsOf("chat.update")
		return len(ups) > 0 && ups[len(ups)-1].Form.Get("text") == "3 people are waiting for a host in Weekly sync"
	})
	if strings.Contains(unescapedJSON(f.callsOf("chat.postMessage")[0].Form.Get("blocks")), "admit id:") {
		t.Error("people waiting for a host got Admit buttons")
	}
	// A host presses Start meeting: the core runs `start`, and its public answer is the
	// channel's; the alert is not replaced by it.
	body := interactionBody(pressPayload(f, "UHOST", "mb|w|1|host", "start", "s1", ""))
	if got := post(t, srv.URL+"/slack/interactions", testSecret, time.Now(), body); got != 200 {
		t.Fatalf("press: status %d", got)
	}
	if w := f.nextWebhook(t); w.ResponseType != "in_channel" || w.ReplaceOriginal || !strings.Contains(w.Text, "<@UHOST> started the meeting") {
		t.Errorf("Start meeting answered %+v", w)
	}
	if reqs := h.requests(); len(reqs) != 1 || reqs[0].Text != "start" || reqs[0].Rights != chat.Host {
		t.Errorf("core saw %+v", reqs)
	}

	state.WaitingForHost = false
	state.People = append(state.People, chat.Person{UUID: "h", Name: "Hostess", Role: "host"})
	for i := range state.People {
		state.People[i].Waiting = false
	}
	if err := a.Post(context.Background(), general, chat.Notification{Text: "Hostess joined", Kinds: []chat.NoticeKind{chat.Joined}, Meeting: state}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "host alert says it started", func() bool {
		for _, u := range f.callsOf("chat.update") {
			if u.Form.Get("ts") == alerts[0].TS && strings.Contains(u.Form.Get("text"), "Weekly sync has started") {
				return true
			}
		}
		return false
	})
}
