package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPresentAndSpeak(t *testing.T) {
	f := newFixture(t, Options{}, pubCfg())
	if !f.room.Present(f.bob, true) {
		t.Fatal("Present reported Bob absent")
	}
	var start map[string]string
	if ev := f.st.next(); ev.Name != "presentation_start" || ev.decode(&start) != nil || start["presenter_name"] != "Bob" || start["presenter_uri"] == "" {
		t.Errorf("got %+v", ev)
	}
	if p := f.st.next().participant(); p["is_presenting"] != "YES" {
		t.Errorf("presenter update %v", p)
	}
	frame := f.st.next()
	if frame.Name != "presentation_frame" || frame.Data != "null" {
		t.Errorf("got %+v, want presentation_frame with data null", frame)
	}
	// Clarification 3: the frame is at presentation.jpeg?id=<event id>&token=<token>.
	resp, err := http.Get(f.e.ts.URL + "/api/services/1061/presentation.jpeg?id=" + frame.ID + "&token=" + url.QueryEscape(f.host.token))
	if err != nil {
		t.Fatal(err)
	}
	var img bytes.Buffer
	_, _ = img.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || !bytes.HasPrefix(img.Bytes(), []byte{0xff, 0xd8}) {
		t.Errorf("presentation.jpeg: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), img.Len())
	}
	// Another presenter takes over.
	f.room.Present(f.alice, true)
	if p := f.st.next().participant(); p["display_name"] != "Bob" || p["is_presenting"] != "NO" {
		t.Errorf("previous presenter update %v", p)
	}
	f.st.until("presentation_frame")
	f.room.Present(f.alice, false)
	if ev := f.st.next(); ev.Name != "presentation_stop" {
		t.Errorf("got %+v", ev)
	}
	f.st.until("participant_update")
	if a := f.host.get("presentation.jpeg"); a.Status != 404 {
		t.Errorf("presentation.jpeg with nobody presenting: %d", a.Status)
	}

	f.room.Speak(f.bob)
	f.room.Speak(f.alice)
	f.st.until("layout")
	var stage []struct {
		Index int    `json:"stage_index"`
		UUID  string `json:"participant_uuid"`
		VAD   int    `json:"vad"`
	}
	ev := f.st.until("stage")
	if err := ev.decode(&stage); err != nil || len(stage) != 2 || stage[0].UUID != f.alice || stage[0].VAD != 100 || stage[1].UUID != f.bob || stage[1].Index != 1 {
		t.Errorf("stage %s", ev.Data)
	}
	var layout struct {
		View         string   `json:"view"`
		Participants []string `json:"participants"`
	}
	if ev := f.st.next(); ev.Name != "layout" || ev.decode(&layout) != nil || !cmp.Equal(layout.Participants, []string{f.alice, f.bob}) {
		t.Errorf("layout %+v", ev)
	}
	f.room.Chat(f.bob, "hi there")
	if ev := f.st.next(); ev.Name != "message" || !strings.Contains(ev.Data, `"origin":"Bob"`) {
		t.Errorf("chat %+v", ev)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, Options{})
	stdRoom(e)
	s := e.open("1061", "meetbot", "1234")
	t.Run("FailNext", func(t *testing.T) {
		e.sim.FailNext("service_status", 503, 2)
		for range 2 {
			if a := s.get("service_status"); a.Status != 503 {
				t.Errorf("got %d, want 503", a.Status)
			}
		}
		if a := s.get("service_status"); a.Status != 200 {
			t.Errorf("third: %d, want 200", a.Status)
		}
		e.sim.FailNext("*", 502, 1)
		if a := s.get("participants"); a.Status != 502 {
			t.Errorf("any op: %d, want 502", a.Status)
		}
		e.sim.FailNext("participant/mute", 504, 1)
		if a := s.part(s.uuid, "mute", nil); a.Status != 504 {
			t.Errorf("participant/mute: %d, want 504", a.Status)
		}
		e.sim.FailNext("events", 503, 1)
		if _, status := s.tryStream(); status != 503 {
			t.Errorf("events: %d, want 503", status)
		}
	})
	t.Run("Latency", func(t *testing.T) {
		e.sim.SetLatency(time.Hour)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/api/services/1061/service_status", nil)
		req.Header.Set("token", s.token)
		if _, err := http.DefaultClient.Do(req); err == nil {
			t.Error("a request under an hour of latency answered")
		}
		e.sim.SetLatency(0)
		if a := s.get("service_status"); a.Status != 200 {
			t.Errorf("after latency 0: %d", a.Status)
		}
	})
	t.Run("SlowNext", func(t *testing.T) {
		e.sim.SlowNext("participants", time.Hour, 1)
		e.sim.FailNext("participants", 503, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/api/services/1061/participants", nil)
		req.Header.Set("token", s.token)
		if _, err := http.DefaultClient.Do(req); err == nil {
			t.Error("a request slowed by an hour answered")
		}
		if a := s.get("service_status"); a.Status != 200 {
			t.Errorf("another op was slowed or failed: %d", a.Status)
		}
		if a := s.get("participants"); a.Status != 200 {
			t.Errorf("the second participants: %d, want 200 (both faults spent on the first)", a.Status)
		}
		ctl(t, e, "POST", "/_sim/slow", map[string]any{"op": "lock", "ms": 1, "n": 1})
		if a := s.post("lock", nil); a.Status != 200 {
			t.Errorf("lock slowed by 1 ms: %d", a.Status)
		}
	})
	t.Run("Requests", func(t *testing.T) {
		e.sim.ResetRequests()
		s.post("lock", nil)
		e.do("POST", "/api/services/1061/unlock", map[string]string{"token": "stale"}, nil)
		rs := e.sim.Requests()
		if len(rs) != 2 || rs[0].Op != "lock" || !rs[0].TokenValid || rs[1].Op != "unlock" || rs[1].TokenValid || rs[0].Room != "1061" {
			t.Errorf("requests %+v", rs)
		}
	})
	t.Run("Hook", func(t *testing.T) {
		e.sim.SetHook(func(w http.ResponseWriter, r *http.Request, op string) bool {
			if op == "lock" {
				reply(w, 200, false)
				return true
			}
			return false
		})
		defer e.sim.SetHook(nil)
		if a := s.post("lock", nil); string(a.Result) != "false" {
			t.Errorf("hooked lock: %s", a.Body)
		}
	})
}

func ctl(t *testing.T, e *env, method, path string, body any) map[string]any {
	t.Helper()
	a := e.do(method, path, nil, body)
	if a.Status != 200 {
		t.Fatalf("%s %s: %d %s", method, path, a.Status, a.Body)
	}
	var m map[string]any
	_ = json.Unmarshal(a.Body, &m)
	return m
}

func TestControlHTTP(t *testing.T) {
	e := newEnv(t, Options{})
	ctl(t, e, "POST", "/_sim/rooms", map[string]any{"number": "1061", "alias": "weekly", "host_pin": "1234", "guest_pin": "5678"})
	bot := e.open("weekly", "meetbot", "1234")
	st := bot.stream()
	st.sync("participant_create")

	uuid := ctl(t, e, "POST", "/_sim/rooms/weekly/join", map[string]any{"name": "张伟", "role": "guest"})["uuid"].(string)
	if p := st.next().participant(); p["uuid"] != uuid || p["display_name"] != "张伟" {
		t.Errorf("join: %v", p)
	}
	ctl(t, e, "POST", "/_sim/rooms/weekly/present", map[string]any{"who": "张伟", "on": true})
	st.until("presentation_start")
	ctl(t, e, "POST", "/_sim/rooms/weekly/speak", map[string]any{"who": uuid})
	st.until("stage")
	ctl(t, e, "POST", "/_sim/rooms/weekly/chat", map[string]any{"who": "张伟", "text": "你好"})
	if ev := st.until("message"); !strings.Contains(ev.Data, "你好") {
		t.Errorf("chat %+v", ev)
	}
	ctl(t, e, "POST", "/_sim/rooms/weekly/lock", map[string]any{"locked": true})
	if ev := st.until("service_update"); !strings.Contains(ev.Data, `"locked":true`) {
		t.Errorf("lock %+v", ev)
	}
	ctl(t, e, "POST", "/_sim/rooms/weekly/emit", map[string]any{"event": "call_disconnected", "data": map[string]string{"call_uuid": "c1", "reason": "screen share ended"}})
	if ev := st.next(); ev.Name != "call_disconnected" {
		t.Errorf("emit %+v", ev)
	}
	ctl(t, e, "POST", "/_sim/rooms/weekly/inject", map[string]any{"frame": "event: stage\ndata: [garbage"})
	if ev := st.next(); ev.Data != "[garbage" {
		t.Errorf("inject %+v", ev)
	}
	ctl(t, e, "POST", "/_sim/rooms/weekly/refresh", nil)
	st.until("refresh_token")
	ctl(t, e, "POST", "/_sim/rooms/weekly/leave", map[string]any{"who": "张伟"})
	st.until("participant_delete")

	var view roomView
	a := e.do("GET", "/_sim/rooms/weekly", nil, nil)
	if err := json.Unmarshal(a.Body, &view); err != nil || !view.State.Locked || len(view.Participants) != 1 || len(view.State.Messages) != 1 {
		t.Errorf("room view %s", a.Body)
	}
	if strings.Contains(string(a.Body), "1234") && strings.Contains(string(a.Body), "pin\":\"1234") {
		t.Error("the control surface shows a PIN")
	}
	var rooms []roomView
	if a := e.do("GET", "/_sim/rooms", nil, nil); json.Unmarshal(a.Body, &rooms) != nil || len(rooms) != 1 || !rooms[0].HasHostPIN {
		t.Errorf("rooms %s", a.Body)
	}

	if m := ctl(t, e, "POST", "/_sim/rooms/weekly/drop_streams", nil); m["closed"] != float64(1) {
		t.Errorf("drop_streams %v", m)
	}
	st.closed()
	ctl(t, e, "POST", "/_sim/fail", map[string]any{"op": "participants", "status": 503, "n": 1})
	if a := bot.get("participants"); a.Status != 503 {
		t.Errorf("after /_sim/fail: %d", a.Status)
	}
	ctl(t, e, "POST", "/_sim/latency", map[string]any{"ms": 0})
	var reqs []map[string]any
	if a := e.do("GET", "/_sim/requests", nil, nil); json.Unmarshal(a.Body, &reqs) != nil || len(reqs) == 0 {
		t.Errorf("requests %s", a.Body)
	}
	st = bot.stream()
	st.sync("participant_create")
	ctl(t, e, "POST", "/_sim/rooms/weekly/bye", nil)
	if evs := st.closed(); len(evs) != 1 || evs[0].Name != "bye" {
		t.Errorf("bye %+v", evs)
	}
	ctl(t, e, "POST", "/_sim/expire_tokens", nil)
	if a := bot.get("participants"); a.Status != 403 {
		t.Errorf("after expire_tokens: %d", a.Status)
	}
	ctl(t, e, "POST", "/_sim/clear_faults", nil)

	if a := e.do("GET", "/_sim/", nil, nil); a.Status != 200 || !strings.Contains(string(a.Body), "/_sim/rooms/{room}/join") {
		t.Errorf("help: %d %s", a.Status, a.Body)
	}
	if a := e.do("POST", "/_sim/rooms/nowhere/join", nil, map[string]any{}); a.Status != 404 {
		t.Errorf("unknown room: %d", a.Status)
	}
	if a := e.do("POST", "/_sim/rooms/weekly/leave", nil, map[string]any{"who": "nobody"}); a.Status != 404 {
		t.Errorf("unknown person: %d", a.Status)
	}
	if a := e.do("GET", "/_sim/teleport", nil, nil); a.Status != 404 || !strings.Contains(string(a.Body), "no control route") {
		t.Errorf("unknown control route: %d %s", a.Status, a.Body)
	}
}

func TestDemo(t *testing.T) {
	e := newEnv(t, Options{})
	run := func(seed uint64) []string {
		var acts []string
		s := New(Options{})
		err := s.RunDemo(context.Background(), DemoOptions{Seed: seed, MinGap: time.Microsecond, MaxGap: time.Millisecond, Steps: 60, OnAction: func(a string) { acts = append(acts, a) }})
		if err != nil {
			t.Fatal(err)
		}
		return acts
	}
	a, b := run(42), run(42)
	if !slices.Equal(a, b) {
		t.Errorf("the same seed gave different demos:\n%v\n%v", a, b)
	}
	kinds := map[string]bool{}
	for _, act := range a {
		kinds[strings.Fields(act)[0]] = true
	}
	for _, k := range []string{"join", "leave", "present", "speak"} {
		if !kinds[k] {
			t.Errorf("60 steps had no %q: %v", k, a)
		}
	}
	// Something a channel announces comes at least every third happening, and first.
	if !strings.HasPrefix(a[2], "join") {
		t.Errorf("the first happening after the two opening joins is %q, want a join", a[2])
	}
	quiet := 0
	for _, act := range a {
		if strings.HasPrefix(act, "speak") || strings.HasPrefix(act, "chat") {
			quiet++
			if quiet > 2 {
				t.Fatalf("three unannounced happenings in a row: %v", a)
			}
		} else {
			quiet = 0
		}
	}

	// Through HTTP: the bot links the demo room as users are told to, and hears people.
	room := e.sim.AddDemoRoom()
	if cfg := room.Config(); cfg.Alias != "demo" || cfg.HostPIN != "1234" || cfg.GuestPIN != "5678" || cfg.Name != "Demo stand-up" {
		t.Errorf("demo room %+v", cfg)
	}
	bot := e.open("demo", "meetbot", "1234")
	st := bot.stream()
	st.sync("participant_create")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- e.sim.RunDemo(ctx, DemoOptions{Seed: 7, MinGap: time.Millisecond, MaxGap: 2 * time.Millisecond})
	}()
	seen := map[string]bool{}
	for len(seen) < 3 {
		seen[st.next().Name] = true
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunDemo after cancel: %v", err)
	}
	if !seen["participant_create"] {
		t.Errorf("the demo sent %v, no join", seen)
	}
	var cjk bool
	for _, p := range demoPeople {
		cjk = cjk || p == "张伟"
	}
	if !cjk {
		t.Error("the demo cast has no CJK name")
	}
}
