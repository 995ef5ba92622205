package sim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Clarifications 1 and 4: a subscription starts with the sync bracket, one participant_create
// per present participant, and every event has an id and one JSON value as data.
func TestStreamSyncAndFraming(t *testing.T) {
	e := newEnv(t, Options{})
	room := stdRoom(e)
	room.Join(ParticipantSpec{Name: "Alice", Role: "chair"})
	room.Join(ParticipantSpec{Name: "张伟"})
	bot := e.open("1061", "meetbot", "1234")
	hidden, _ := e.tryOpen("1061", "observer", "1234", true)

	// The raw wire: field names, ids, data null, blank lines.
	req, _ := http.NewRequest("GET", e.ts.URL+"/api/services/1061/events?token="+url.QueryEscape(bot.token), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := io.ReadAtLeast(resp.Body, buf, len("event: participant_sync_begin\nid: 1\ndata: null\n\n"))
	resp.Body.Close()
	if got := string(buf[:n]); !strings.HasPrefix(got, "event: participant_sync_begin\nid: ") || !strings.Contains(got, "\ndata: null\n\n") {
		t.Errorf("stream starts %q, want event:, id:, data: null and a blank line", got)
	}

	st := bot.stream()
	ps := st.sync("participant_create")
	if got, want := names(ps), []string{"Alice", "张伟", "meetbot"}; !cmp.Equal(got, want) {
		t.Errorf("sync names = %v, want %v (the hidden session never listed)", got, want)
	}
	for _, p := range ps {
		if p["is_muted"] != "NO" || p["has_media"] == nil || p["uuid"] == "" {
			t.Errorf("participant object %v lacks the page's encodings", p)
		}
	}
	_ = hidden

	// Ids grow, so a client can tell events apart.
	uuid := room.Join(ParticipantSpec{Name: "Bob"})
	ev := st.next()
	if ev.Name != "participant_create" || ev.participant()["display_name"] != "Bob" || ev.participant()["uuid"] != uuid {
		t.Fatalf("after Join: %+v", ev)
	}
	first, _ := strconv.Atoi(ev.ID)
	room.Leave(uuid)
	ev = st.next()
	if ev.Name != "participant_delete" || ev.Data != fmt.Sprintf(`{"uuid":%q}`, uuid) {
		t.Errorf("after Leave: %+v", ev)
	}
	if second, _ := strconv.Atoi(ev.ID); second <= first {
		t.Errorf("ids %s then %s, want growing ids", strconv.Itoa(first), ev.ID)
	}
}

func TestKeepAliveComments(t *testing.T) {
	e := newEnv(t, Options{KeepAlive: 20 * time.Millisecond})
	stdRoom(e)
	st := e.open("1061", "meetbot", "1234").stream()
	st.sync("participant_create")
	select {
	case ev := <-st.events:
		if ev.Name != ":" {
			t.Errorf("idle stream sent %+v, want a comment line", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no keep-alive comment on an idle stream")
	}
}

// A stream opened with an older token survives refreshes (clarification 5).
func TestStreamSurvivesRefresh(t *testing.T) {
	e := newEnv(t, Options{})
	room := stdRoom(e)
	bot := e.open("1061", "meetbot", "1234")
	st := bot.stream()
	st.sync("participant_create")
	if a := bot.post("refresh_session", nil); a.Status != 200 {
		t.Fatal(a.Status)
	}
	room.Join(ParticipantSpec{Name: "Carol"})
	if ev := st.next(); ev.Name != "participant_create" {
		t.Errorf("after a refresh the old stream got %+v, want participant_create", ev)
	}
}

func TestDropAndByeStreams(t *testing.T) {
	e := newEnv(t, Options{})
	room := stdRoom(e)
	bot := e.open("1061", "meetbot", "1234")
	st := bot.stream()
	st.sync("participant_create")
	if n := room.DropStreams(); n != 1 {
		t.Errorf("DropStreams closed %d, want 1", n)
	}
	if evs := st.closed(); len(evs) != 0 {
		t.Errorf("a dropped stream sent %+v first, want nothing", evs)
	}
	// The client reconnects with the same token and gets a fresh sync.
	st = bot.stream()
	if ps := st.sync("participant_create"); len(ps) != 1 {
		t.Errorf("resync has %d participants, want 1", len(ps))
	}
	room.ByeStreams()
	evs := st.closed()
	if len(evs) != 1 || evs[0].Name != "bye" || evs[0].Data != "null" {
		t.Errorf("bye: %+v, want one bye with data null", evs)
	}
}

// Clarification 2: refresh_token asks the client to refresh now.
func TestRefreshTokenEvent(t *testing.T) {
	e := newEnv(t, Options{})
	room := stdRoom(e)
	st := e.open("1061", "meetbot", "1234").stream()
	st.sync("participant_create")
	room.RequestRefresh()
	if ev := st.next(); ev.Name != "refresh_token" || ev.Data != "null" {
		t.Errorf("got %+v, want refresh_token with data null", ev)
	}
}

func TestInjectRaw(t *testing.T) {
	e := newEnv(t, Options{})
	room := stdRoom(e)
	st := e.open("1061", "meetbot", "1234").stream()
	st.sync("participant_create")
	room.InjectRaw("event: participant_update\ndata: {not json")
	ev := st.next()
	if ev.Name != "participant_update" || ev.Data != "{not json" {
		t.Errorf("got %+v, want the malformed frame as written", ev)
	}
	room.Emit("conference_update", map[string]bool{"locked": true, "guests_muted": false})
	if ev := st.next(); ev.Name != "conference_update" || ev.Data != `{"guests_muted":false,"locked":true}` {
		t.Errorf("got %+v", ev)
	}
}

// A subscriber that does not read is dropped; the room and other streams go on.
func TestSlowSubscriberDropped(t *testing.T) {
	e := newEnv(t, Options{StreamBuffer: 4})
	room := stdRoom(e)
	bot := e.open("1061", "meetbot", "1234")
	fast := bot.stream()
	fast.sync("participant_create")
	// The slow one: the server side only, fed through a subscriber that is never drained.
	room.mu.Lock()
	slow := newSubscriber(room.sessions[bot.token])
	room.subs[slow] = struct{}{}
	slow.sess.subs[slow] = struct{}{}
	room.mu.Unlock()
	for i := range 20 {
		room.Join(ParticipantSpec{Name: fmt.Sprintf("P%d", i)})
		if ev := fast.next(); ev.Name != "participant_create" {
			t.Fatalf("fast stream got %+v", ev)
		}
	}
	room.mu.Lock()
	closed := slow.closed
	room.mu.Unlock()
	if !closed {
		t.Error("a subscriber that never reads was not dropped")
	}
}

func TestEventsNeedToken(t *testing.T) {
	e := newEnv(t, Options{})
	stdRoom(e)
	a := e.do("GET", "/api/services/1061/events?token=nope", nil, nil)
	if a.Status != 403 || a.str() != "Invalid token" {
		t.Errorf("got %d %s, want 403 Invalid token", a.Status, a.Body)
	}
}

// A storm of joins reaches a reading client whole, in order, on one stream.
func TestJoinStorm(t *testing.T) {
	e := newEnv(t, Options{})
	room := stdRoom(e)
	st := e.open("1061", "meetbot", "1234").stream()
	st.sync("participant_create")
	want := make([]string, 500)
	for i := range want {
		want[i] = room.Join(ParticipantSpec{Name: fmt.Sprintf("Storm %d", i)})
	}
	for i := range want {
		ev := st.next()
		if ev.Name != "participant_create" || ev.participant()["uuid"] != want[i] {
			t.Fatalf("event %d = %s %s, want the create of %s", i, ev.Name, ev.Data, want[i])
		}
	}
	if n := room.State().Streams; n != 1 {
		t.Errorf("%d streams open after the storm, want 1", n)
	}
}

func TestZeroServer(t *testing.T) {
	var s Server
	s.AddRoom(RoomConfig{Number: "42"})
	ts := httptest.NewServer(&s)
	defer ts.Close()
	defer s.Close()
	e := &env{t: t, sim: &s, ts: ts}
	bot := e.open("42", "meetbot", "")
	if bot.info["expires"] != float64(120) {
		t.Errorf("a zero Server's tokens last %v s, want 120", bot.info["expires"])
	}
}

func TestRetryField(t *testing.T) {
	e := newEnv(t, Options{Retry: 1500 * time.Millisecond})
	stdRoom(e)
	bot := e.open("1061", "meetbot", "1234")
	resp, err := http.Get(e.ts.URL + "/api/services/1061/events?token=" + url.QueryEscape(bot.token))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, len("retry: 1500\n\n"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "retry: 1500\n\n" {
		t.Errorf("stream starts %q, want a retry field", buf)
	}
}

func TestAwaitStreams(t *testing.T) {
	e := newEnv(t, Options{})
	room := stdRoom(e)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := room.AwaitStreams(ctx, 1); err == nil {
		t.Error("AwaitStreams returned with no stream open")
	}
	bot := e.open("1061", "meetbot", "1234")
	done := make(chan error, 1)
	go func() { done <- room.AwaitStreams(context.Background(), 1) }()
	st := bot.stream()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Once AwaitStreams returns, an event reaches the stream after its sync.
	room.Join(ParticipantSpec{Name: "Eve"})
	st.sync("participant_create")
	if ev := st.next(); ev.Name != "participant_create" || ev.participant()["display_name"] != "Eve" {
		t.Errorf("got %+v", ev)
	}
}
