package sim

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fixture is a room with a host bot streaming events, a guest session and two people.
type fixture struct {
	e          *env
	room       *Room
	host       *tsession
	guest      *tsession
	st         *stream
	alice, bob string
}

func newFixture(t *testing.T, opts Options, cfg RoomConfig) *fixture {
	e := newEnv(t, opts)
	room := e.sim.AddRoom(cfg)
	f := &fixture{e: e, room: room}
	f.alice = room.Join(ParticipantSpec{Name: "Alice", Role: "chair"})
	f.bob = room.Join(ParticipantSpec{Name: "Bob"})
	f.host = e.open(cfg.Number, "meetbot", cfg.HostPIN)
	f.guest = e.open(cfg.Number, "guestbot", cfg.GuestPIN)
	f.st = f.host.stream()
	want := "participant_create"
	if cfg.Private {
		want = "participant_update"
	}
	f.st.sync(want)
	return f
}

func pubCfg() RoomConfig {
	return RoomConfig{Number: "1061", Alias: "meet@example.com", HostPIN: "1234", GuestPIN: "5678"}
}

func ok(t *testing.T, a answer) {
	t.Helper()
	if a.Status != 200 || string(a.Result) != "true" {
		t.Fatalf("got %d %s, want 200 result true", a.Status, a.Body)
	}
}

func TestConferenceCommands(t *testing.T) {
	f := newFixture(t, Options{}, pubCfg())
	h := f.host

	t.Run("ServiceStatus", func(t *testing.T) {
		a := f.guest.get("service_status")
		if d := cmp.Diff(map[string]any{"locked": false, "guests_muted": false, "started": true}, a.obj()); a.Status != 200 || d != "" {
			t.Errorf("%d %s", a.Status, d)
		}
	})
	t.Run("LockUnlock", func(t *testing.T) {
		ok(t, h.post("lock", nil))
		if ev := f.st.next(); ev.Name != "service_update" || ev.Data != `{"guests_muted":false,"locked":true,"started":true}` {
			t.Errorf("lock sent %+v", ev)
		}
		if !f.room.State().Locked || h.get("service_status").obj()["locked"] != true {
			t.Error("room not locked")
		}
		// A guest joining a locked room waits; a host admits them with participant unlock.
		w := f.room.Join(ParticipantSpec{Name: "Walter"})
		if p := f.st.until("participant_create").participant(); p["service_type"] != "waiting_room" {
			t.Errorf("guest in a locked room: service_type %v, want waiting_room", p["service_type"])
		}
		ok(t, h.part(w, "unlock", nil))
		if p := f.st.until("participant_update").participant(); p["service_type"] != "conference" || p["uuid"] != w {
			t.Errorf("after unlock: %v", p)
		}
		if a := h.part(w, "unlock", nil); a.Status != 200 || string(a.Result) != "false" {
			t.Errorf("unlock of someone not waiting: %d %s, want result false", a.Status, a.Body)
		}
		ok(t, h.post("unlock", nil))
		if ev := f.st.next(); ev.Name != "service_update" || ev.Data != `{"guests_muted":false,"locked":false,"started":true}` {
			t.Errorf("unlock sent %+v", ev)
		}
		f.room.Leave(w)
		f.st.until("participant_delete")
	})
	t.Run("StartServiceAdmitsWaiting", func(t *testing.T) {
		w := f.room.Join(ParticipantSpec{Name: "Wendy", Waiting: true})
		f.st.until("participant_create")
		ok(t, h.post("start_service", nil))
		if p := f.st.until("participant_update").participant(); p["uuid"] != w || p["service_type"] != "conference" {
			t.Errorf("start_service sent %v", p)
		}
		if !f.room.State().Started {
			t.Error("room not started")
		}
		f.room.Leave(w)
		f.st.until("participant_delete")
	})
	t.Run("MuteGuests", func(t *testing.T) {
		ok(t, h.post("muteguests", nil))
		if ev := f.st.next(); ev.Name != "service_update" || ev.Data != `{"guests_muted":true,"locked":false,"started":true}` {
			t.Errorf("muteguests sent %+v", ev)
		}
		// One participant_update per guest: Bob and the guest session.
		muted := map[string]bool{}
		for range 2 {
			p := f.st.next().participant()
			if p["role"] != "guest" || p["is_muted"] != "YES" {
				t.Errorf("muteguests update %v", p)
			}
			muted[p["display_name"].(string)] = true
		}
		if !cmp.Equal(muted, map[string]bool{"Bob": true, "guestbot": true}) {
			t.Errorf("muted %v", muted)
		}
		if p, _ := f.room.Participant(f.alice); p.Muted {
			t.Error("muteguests muted the chair")
		}
		late := f.room.Join(ParticipantSpec{Name: "Late"})
		if p := f.st.until("participant_create").participant(); p["is_muted"] != "YES" {
			t.Error("a guest joining while guests are muted joined unmuted")
		}
		ok(t, h.post("unmuteguests", nil))
		if ev := f.st.next(); ev.Name != "service_update" || !strings.Contains(ev.Data, `"guests_muted":false`) {
			t.Errorf("unmuteguests sent %+v", ev)
		}
		for range 3 {
			if p := f.st.next().participant(); p["is_muted"] != "NO" {
				t.Errorf("unmuteguests update %v", p)
			}
		}
		f.room.Leave(late)
		f.st.until("participant_delete")
	})
	t.Run("Message", func(t *testing.T) {
		ok(t, f.guest.post("message", map[string]string{"type": "text/plain", "payload": "Hello World"}))
		ev := f.st.next()
		want := map[string]any{"origin": "guestbot", "type": "text/plain", "payload": "Hello World", "uuid": f.guest.uuid, "direct": false}
		var got map[string]any
		if ev.Name != "message" || ev.decode(&got) != nil || !cmp.Equal(got, want) {
			t.Errorf("message event %+v, want %v", ev, want)
		}
		if ms := f.room.State().Messages; len(ms) != 1 || ms[0].Payload != "Hello World" {
			t.Errorf("State().Messages = %+v", ms)
		}
	})
	t.Run("Participants", func(t *testing.T) {
		var ps []map[string]any
		a := f.guest.get("participants")
		if err := json.Unmarshal(a.Result, &ps); a.Status != 200 || err != nil {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
		if got := names(ps); !cmp.Equal(got, []string{"Alice", "Bob", "meetbot", "guestbot"}) {
			t.Errorf("participants %v", got)
		}
	})
	t.Run("OverrideLayout", func(t *testing.T) {
		body := map[string]any{"layouts": []map[string]any{
			{"audience": "hosts", "actors": []string{}, "vad_backfill": true, "layout": "2:21", "plus_n": "auto", "actors_overlay_text": "auto"},
			{"audience": "", "actors": []string{}, "vad_backfill": true, "layout": "1:0", "plus_n": "auto", "actors_overlay_text": "auto"},
		}}
		ok(t, h.post("override_layout", body))
		ev := f.st.next()
		var l struct {
			View         string   `json:"view"`
			Participants []string `json:"participants"`
		}
		if ev.Name != "layout" || ev.decode(&l) != nil || l.View != "1:0" {
			t.Errorf("override_layout sent %+v", ev)
		}
		if st := f.room.State(); len(st.Layouts) != 2 || st.Layouts[0].Layout != "2:21" {
			t.Errorf("layouts %+v", st.Layouts)
		}
		bad := map[string]any{"layouts": []map[string]any{{"audience": "", "layout": "3:3"}}}
		if a := h.post("override_layout", bad); a.Status != 400 || a.str() != "Illegal value" {
			t.Errorf("layout 3:3: %d %s, want 400 Illegal value", a.Status, a.Body)
		}
	})
	t.Run("NotJSON", func(t *testing.T) {
		a := f.e.do("POST", "/api/services/1061/message", map[string]string{"token": h.token, "Content-Type": "text/plain"}, "hello")
		if a.Status != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain body: %d %s, want 415", a.Status, a.Body)
		}
	})
}

func TestParticipantCommands(t *testing.T) {
	f := newFixture(t, Options{}, pubCfg())
	h := f.host
	update := func(t *testing.T) map[string]any {
		t.Helper()
		ev := f.st.next()
		if ev.Name != "participant_update" {
			t.Fatalf("got %+v, want participant_update", ev)
		}
		return ev.participant()
	}
	for _, c := range []struct {
		cmd, field string
		want       any
	}{
		{"mute", "is_muted", "YES"},
		{"unmute", "is_muted", "NO"},
		{"hard_vmute", "is_video_muted", true},
		{"hard_uvmute", "is_video_muted", false},
		{"denyrxpresentation", "rx_presentation_policy", "DENY"},
		{"allowrxpresentation", "rx_presentation_policy", "ALLOW"},
		{"spotlightoff", "spotlight", float64(0)},
		{"role", "role", "chair"},
	} {
		t.Run(c.cmd, func(t *testing.T) {
			var body any
			if c.cmd == "role" {
				body = map[string]string{"role": "chair"}
			}
			ok(t, h.part(f.bob, c.cmd, body))
			if p := update(t); p["uuid"] != f.bob || p[c.field] != c.want {
				t.Errorf("%s: %s = %v, want %v", c.cmd, c.field, p[c.field], c.want)
			}
		})
	}
	t.Run("spotlighton", func(t *testing.T) {
		ok(t, h.part(f.alice, "spotlighton", nil))
		if p := update(t); p["spotlight"].(float64) < float64(time.Now().Add(-time.Hour).Unix()) {
			t.Errorf("spotlight = %v, want the UNIX second", p["spotlight"])
		}
	})
	t.Run("delay", func(t *testing.T) {
		ok(t, h.part(f.bob, "cancel_delay", nil))
		if p, _ := f.room.Participant(f.bob); !p.Delayed {
			t.Error("cancel_delay did not register")
		}
		ok(t, h.part(f.bob, "resume_delay", nil))
	})
	t.Run("dtmf", func(t *testing.T) {
		ok(t, h.part(f.bob, "dtmf", map[string]string{"digits": "12#"}))
		ok(t, h.part(f.bob, "dtmf", map[string]string{"digits": "3"}))
		if p, _ := f.room.Participant(f.bob); p.DTMF != "12#3" {
			t.Errorf("DTMF = %q", p.DTMF)
		}
		if a := h.part(f.bob, "dtmf", map[string]string{"digits": "hello"}); a.Status != 400 || a.str() != "Illegal value" {
			t.Errorf("bad digits: %d %s", a.Status, a.Body)
		}
	})
	t.Run("roleIllegal", func(t *testing.T) {
		if a := h.part(f.bob, "role", map[string]string{"role": "king"}); a.Status != 400 || a.str() != "Illegal value" {
			t.Errorf("role king: %d %s", a.Status, a.Body)
		}
	})
	t.Run("calls", func(t *testing.T) {
		a := h.part(f.bob, "calls", map[string]string{"call_type": "WEBRTC", "sdp": "v=0"})
		m := a.obj()
		if a.Status != 200 || m["call_uuid"] == nil || m["sdp"] == nil {
			t.Fatalf("WEBRTC calls: %d %s", a.Status, a.Body)
		}
		call := m["call_uuid"].(string)
		ok(t, h.post("participants/"+f.bob+"/calls/"+call+"/ack", nil))
		// Pexip's disconnect_call answers result null (the page does not describe it).
		if a := h.post("participants/"+f.bob+"/calls/"+call+"/disconnect", nil); a.Status != 200 || string(a.Result) != "null" {
			t.Errorf("call disconnect: %d %s, want 200 result null", a.Status, a.Body)
		}
		if ev := f.st.next(); ev.Name != "call_disconnected" || !strings.Contains(ev.Data, call) || !strings.Contains(ev.Data, `"reason"`) {
			t.Errorf("call disconnect sent %+v", ev)
		}
		a = h.part(f.bob, "calls", map[string]any{"call_type": "RTMP", "streaming": true})
		if m := a.obj(); a.Status != 200 || !strings.HasPrefix(m["url"].(string), "rtmp://") || !strings.HasPrefix(m["secure_url"].(string), "rtmps://") {
			t.Errorf("RTMP calls: %d %s", a.Status, a.Body)
		}
		if a := h.part(f.bob, "calls", map[string]string{"call_type": "PIGEON"}); a.Status != 400 {
			t.Errorf("call_type PIGEON: %d", a.Status)
		}
	})
	t.Run("transfer", func(t *testing.T) {
		other := f.e.sim.AddRoom(RoomConfig{Number: "2000", Alias: "other@example.com", HostPIN: "9999", GuestPIN: "8888"})
		if a := h.part(f.bob, "transfer", map[string]string{"role": "guest", "conference_alias": "other@example.com", "pin": "0000"}); a.Status != 200 || string(a.Result) != "false" {
			t.Errorf("transfer with a wrong PIN: %d %s, want result false", a.Status, a.Body)
		}
		ok(t, h.part(f.bob, "transfer", map[string]string{"role": "guest", "conference_alias": "other@example.com", "pin": "8888"}))
		if ev := f.st.next(); ev.Name != "participant_delete" || !strings.Contains(ev.Data, f.bob) {
			t.Errorf("transfer sent %+v, want participant_delete", ev)
		}
		if p, ok := other.Participant(f.bob); !ok || p.Name != "Bob" || p.Role != "guest" {
			t.Errorf("Bob in the other room: %+v %v", p, ok)
		}
	})
	t.Run("disconnect", func(t *testing.T) {
		ok(t, h.part(f.alice, "disconnect", nil))
		if ev := f.st.next(); ev.Name != "participant_delete" || ev.Data != `{"uuid":"`+f.alice+`"}` {
			t.Errorf("kick sent %+v", ev)
		}
	})
	t.Run("unknownParticipant", func(t *testing.T) {
		a := h.part("00000000-0000-4000-8000-000000000000", "mute", nil)
		if a.Status != 404 {
			t.Errorf("mute of an unknown uuid: %d %s, want 404", a.Status, a.Body)
		}
	})
}

// Clarification 6: a guest gets 403 with a reason on host-only commands.
func TestGuestForbidden(t *testing.T) {
	f := newFixture(t, Options{}, pubCfg())
	g := f.guest
	for _, op := range []string{"lock", "unlock", "start_service", "muteguests", "unmuteguests", "disconnect", "dial", "override_layout"} {
		t.Run(op, func(t *testing.T) {
			a := g.post(op, map[string]any{})
			if a.Status != 403 || a.str() != "Invalid role" {
				t.Errorf("guest %s: %d %s, want 403 Invalid role", op, a.Status, a.Body)
			}
		})
	}
	for cmd := range participantOps {
		t.Run("participant/"+cmd, func(t *testing.T) {
			a := g.part(f.bob, cmd, map[string]any{})
			if a.Status != 403 || a.str() != "Invalid role" {
				t.Errorf("guest %s: %d %s, want 403 Invalid role", cmd, a.Status, a.Body)
			}
		})
	}
	if f.room.State().Locked {
		t.Error("a guest's lock changed the room")
	}
	// The guest may do what guests may.
	for _, op := range []string{"service_status", "participants"} {
		if a := g.get(op); a.Status != 200 {
			t.Errorf("guest %s: %d", op, a.Status)
		}
	}
	// A role change makes a guest session a host.
	ok(t, f.host.part(g.uuid, "role", map[string]string{"role": "chair"}))
	ok(t, g.post("lock", nil))
}

func TestConferenceDisconnect(t *testing.T) {
	f := newFixture(t, Options{}, pubCfg())
	gst := f.guest.stream()
	gst.sync("participant_create")
	ok(t, f.host.post("disconnect", nil))
	evs := f.st.closed()
	deletes := 0
	for _, ev := range evs {
		if ev.Name == "participant_delete" {
			deletes++
		}
	}
	if deletes == 0 || evs[len(evs)-1].Name != "disconnect" || !strings.Contains(evs[len(evs)-1].Data, ReasonHostEnded) {
		t.Errorf("host stream: %+v, want participant_delete events then disconnect", evs)
	}
	gst.closed()
	if ps := f.room.Participants(); len(ps) != 0 {
		t.Errorf("after disconnect %d participants remain", len(ps))
	}
	if a := f.host.get("service_status"); a.Status != 403 {
		t.Errorf("the caller's token still works: %d", a.Status)
	}
}

func TestDial(t *testing.T) {
	f := newFixture(t, Options{DialAnswerAfter: 30 * time.Millisecond, DialTimeout: 60 * time.Millisecond}, pubCfg())
	h := f.host
	t.Run("Answers", func(t *testing.T) {
		a := h.post("dial", map[string]string{"role": "guest", "destination": "bob@example.com", "protocol": "sip", "remote_display_name": "Bob (SIP)"})
		var uuids []string
		if a.Status != 200 || json.Unmarshal(a.Result, &uuids) != nil || len(uuids) != 1 {
			t.Fatalf("dial: %d %s", a.Status, a.Body)
		}
		p := f.st.next().participant()
		if p["uuid"] != uuids[0] || p["service_type"] != "connecting" || p["call_direction"] != "out" || p["display_name"] != "Bob (SIP)" {
			t.Errorf("dialled participant %v", p)
		}
		ev := f.st.next()
		if ev.Name != "participant_update" || ev.participant()["service_type"] != "conference" {
			t.Errorf("after DialAnswerAfter: %+v", ev)
		}
	})
	t.Run("NoAnswer", func(t *testing.T) {
		a := h.post("dial", map[string]string{"destination": "noanswer@example.com", "protocol": "h323"})
		var uuids []string
		_ = json.Unmarshal(a.Result, &uuids)
		if ev := f.st.next(); ev.Name != "participant_create" || ev.participant()["service_type"] != "connecting" {
			t.Fatalf("got %+v", ev)
		}
		if ev := f.st.next(); ev.Name != "participant_delete" || !strings.Contains(ev.Data, uuids[0]) {
			t.Errorf("after DialTimeout: %+v, want participant_delete", ev)
		}
	})
	t.Run("IllegalValues", func(t *testing.T) {
		for _, body := range []map[string]string{
			{"destination": "x@example.com", "protocol": "carrier-pigeon"},
			{"destination": "", "protocol": "sip"},
			{"destination": "x@example.com", "protocol": "sip", "role": "king"},
		} {
			if a := h.post("dial", body); a.Status != 400 || a.str() != "Illegal value" {
				t.Errorf("dial %v: %d %s, want 400 Illegal value", body, a.Status, a.Body)
			}
		}
	})
}

func TestUnknownRoomAndRoute(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	stdRoom(e)
	if a := e.do("GET", "/api/services/nowhere/service_status", map[string]string{"token": "x"}, nil); a.Status != 404 || a.str() != "Neither conference nor gateway found" {
		t.Errorf("unknown room: %d %s", a.Status, a.Body)
	}
	a := e.do("POST", "/api/services/1061/teleport", nil, nil)
	if a.Status != 404 || !strings.Contains(string(a.Body), "not modelled") {
		t.Errorf("unmodelled route: %d %s, want 404 naming the route", a.Status, a.Body)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "/api/services/1061/teleport") {
		t.Errorf("no warning logged for the unmodelled route: %q", logs.String())
	}
	if a := e.do("GET", "/api/services/1061/lock", nil, nil); a.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET lock: %d", a.Status)
	}
}
