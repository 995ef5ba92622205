package sim

import (
	"encoding/json"
	"strings"
	"testing"
)

// What a current node sends beyond the vendor page: the participant fields Pexip's schema
// requires, with their types, in every kind of room.
func TestParticipantObjectOfACurrentNode(t *testing.T) {
	required := map[string]string{ // field -> JSON type (YES/NO strings are "string")
		"buzz_time": "number", "call_direction": "string", "disconnect_supported": "string", "display_name": "string",
		"encryption": "string", "external_node_uuid": "string", "fecc_supported": "string", "has_media": "bool",
		"is_audio_only_call": "string", "is_external": "bool", "is_muted": "string", "is_presenting": "string",
		"is_streaming_conference": "bool", "is_video_call": "string", "is_video_muted": "bool", "is_video_silent": "bool",
		"local_alias": "string", "mute_supported": "string", "overlay_text": "string", "protocol": "string", "role": "string",
		"rx_presentation_policy": "string", "spotlight": "number", "start_time": "number", "supports_direct_chat": "bool",
		"transfer_supported": "string", "uuid": "string", "can_receive_personal_mix": "bool", "receive_from_video_mix": "object",
	}
	typeOf := func(v any) string {
		switch v.(type) {
		case string:
			return "string"
		case float64:
			return "number"
		case bool:
			return "bool"
		case map[string]any:
			return "object"
		}
		return "other"
	}
	for _, cfg := range []RoomConfig{pubCfg(), privCfg(), {Number: "1062", HostPIN: "1234", GuestPIN: "5678", Rich: true}} {
		f := newFixture(t, Options{}, cfg)
		ps := f.host.get("participants")
		var list []map[string]any
		if err := json.Unmarshal(ps.Result, &list); err != nil || len(list) == 0 {
			t.Fatalf("participants: %s", ps.Body)
		}
		for _, p := range list {
			for field, want := range required {
				if got := typeOf(p[field]); got != want {
					t.Errorf("rich %v private %v: %s is %s (%v), want %s", cfg.Rich, cfg.Private, field, got, p[field], want)
				}
			}
			_, hasOptional := p["is_conjoined"]
			if hasOptional != cfg.Rich {
				t.Errorf("rich %v: optional field is_conjoined present %v", cfg.Rich, hasOptional)
			}
		}
	}
}

// A phone call reaches the node over SIP: the participant object says "sip", audio only.
func TestPhoneCallArrivesOverSIP(t *testing.T) {
	f := newFixture(t, Options{}, pubCfg())
	a := f.host.post("dial", map[string]string{"role": "guest", "destination": "+8613800000000", "protocol": "phone"})
	if a.Status != 200 {
		t.Fatalf("dial phone: %d %s", a.Status, a.Body)
	}
	p := f.st.until("participant_create").participant()
	if p["protocol"] != "sip" || p["is_audio_only_call"] != "YES" || p["is_video_call"] != "NO" {
		t.Errorf("a phone call: protocol %v audio only %v video %v, want sip, YES, NO", p["protocol"], p["is_audio_only_call"], p["is_video_call"])
	}
}

// The three ways a session's participant is disconnected, each with its own reason.
func TestDisconnectReasons(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		do           func(f *fixture, victim *tsession)
	}{
		{"APIKick", ReasonAPIKick, func(f *fixture, v *tsession) { ok(t, f.host.part(v.uuid, "disconnect", nil)) }},
		{"Admin", ReasonAdmin, func(f *fixture, v *tsession) { f.room.AdminDisconnect(v.uuid) }},
		{"HostEnded", ReasonHostEnded, func(f *fixture, v *tsession) { ok(t, f.host.post("disconnect", nil)) }},
		{"HostInTheRoomEnded", ReasonHostEnded, func(f *fixture, v *tsession) { f.room.End() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{}, pubCfg())
			v := f.e.open("1061", "victim", "1234")
			st := v.stream()
			st.sync("participant_create")
			tc.do(f, v)
			evs := st.closed()
			if last := evs[len(evs)-1]; last.Name != "disconnect" || !strings.Contains(last.Data, tc.reason) {
				t.Errorf("last event %+v, want disconnect with reason %q", last, tc.reason)
			}
		})
	}
}

// A participant whose mute_supported, disconnect_supported or transfer_supported is NO: the
// object says so and the node refuses that command (result false), and nothing else.
func TestUnsupportedCommands(t *testing.T) {
	f := newFixture(t, Options{}, pubCfg())
	f.e.sim.AddRoom(RoomConfig{Number: "2000", Alias: "other@example.com", HostPIN: "9999"})
	if !f.room.SetUnsupported(f.bob, Unsupported{Mute: true, Disconnect: true, Transfer: true}) {
		t.Fatal("SetUnsupported reported Bob absent")
	}
	p := f.st.until("participant_update").participant()
	if p["mute_supported"] != "NO" || p["disconnect_supported"] != "NO" || p["transfer_supported"] != "NO" {
		t.Errorf("after SetUnsupported: %v", p)
	}
	for _, cmd := range []struct {
		op   string
		body any
	}{{"mute", nil}, {"unmute", nil}, {"disconnect", nil}, {"transfer", map[string]string{"role": "guest", "conference_alias": "other@example.com", "pin": "9999"}}} {
		if a := f.host.part(f.bob, cmd.op, cmd.body); a.Status != 200 || string(a.Result) != "false" {
			t.Errorf("%s of a participant the node does not support it for: %d %s, want result false", cmd.op, a.Status, a.Body)
		}
	}
	if p, _ := f.room.Participant(f.bob); p.Muted {
		t.Error("the refused mute muted Bob")
	}
	ok(t, f.host.part(f.bob, "hard_vmute", nil)) // the rest still works
	// Joining with a capability withdrawn, through the control surface.
	uuid := ctl(t, f.e, "POST", "/_sim/rooms/1061/join", map[string]any{"name": "Gateway", "unsupported": map[string]bool{"mute": true}})["uuid"].(string)
	if p := f.st.until("participant_create").participant(); p["uuid"] != uuid || p["mute_supported"] != "NO" || p["disconnect_supported"] != "YES" {
		t.Errorf("joined with mute unsupported: %v", p)
	}
	ctl(t, f.e, "POST", "/_sim/rooms/1061/unsupported", map[string]any{"who": "Gateway"})
	if p := f.st.until("participant_update").participant(); p["mute_supported"] != "YES" {
		t.Errorf("after the control gave mute back: %v", p)
	}
}

// A room waiting for a host: started false until a host with media joins (a controlling client
// does not count), told by service_update; start_service starts it on a public node only.
func TestWaitingForHost(t *testing.T) {
	for _, private := range []bool{false, true} {
		cfg := RoomConfig{Number: "1061", HostPIN: "1234", GuestPIN: "5678", WaitForHost: true, Private: private}
		e := newEnv(t, Options{})
		room := e.sim.AddRoom(cfg)
		host := e.open("1061", "meetbot", "1234")
		if got := host.get("service_status").obj(); got["started"] != false {
			t.Errorf("private %v: service_status %v, want started false", private, got)
		}
		st := host.stream()
		want := "participant_create"
		if private {
			want = "participant_update"
		}
		st.sync(want)
		guest := room.Join(ParticipantSpec{Name: "Early guest"})
		if p := st.until(want).participant(); p["service_type"] != "waiting_room" {
			t.Errorf("private %v: a guest before the host: service_type %v, want waiting_room", private, p["service_type"])
		}
		ok(t, host.post("start_service", nil))
		if private {
			if room.State().Started {
				t.Error("start_service started a private room")
			}
			room.Join(ParticipantSpec{Name: "Host", Role: "chair"})
		}
		if ev := st.until("service_update"); !strings.Contains(ev.Data, `"started":true`) {
			t.Errorf("private %v: %+v, want started true", private, ev)
		}
		if p := st.until("participant_update").participant(); p["uuid"] != guest || p["service_type"] != "conference" {
			t.Errorf("private %v: after the start: %v, want the early guest in the conference", private, p)
		}
		if got := host.get("service_status").obj(); got["started"] != true {
			t.Errorf("private %v: service_status %v, want started true", private, got)
		}
	}
}

// Direct and application messages, and the presentation revoked the way Pexip's nodes do.
func TestMessagesAndRevocation(t *testing.T) {
	f := newFixture(t, Options{}, pubCfg())
	gst := f.guest.stream()
	gst.sync("participant_create")
	if !f.room.Message(f.bob, "text/plain", "psst", f.host.uuid) {
		t.Fatal("Message reported someone absent")
	}
	if ev := f.st.until("message"); !strings.Contains(ev.Data, `"direct":true`) || !strings.Contains(ev.Data, "psst") {
		t.Errorf("direct message %+v", ev)
	}
	f.room.Message(f.bob, "application/json", `{"a":1}`, "")
	if ev := gst.until("message"); strings.Contains(ev.Data, "psst") || !strings.Contains(ev.Data, `"type":"application/json"`) {
		t.Errorf("the guest saw %+v, want only the application message", ev)
	}
	f.room.Present(f.bob, true)
	f.st.until("presentation_frame")
	if !f.room.RevokePresentation() {
		t.Fatal("RevokePresentation found no presenter")
	}
	if ev := f.st.next(); ev.Name != "presentation_start" || ev.Data != `{"presenter_name":"","presenter_uri":"","presenter_uuid":""}` {
		t.Errorf("revocation %+v", ev)
	}
	if p := f.st.next().participant(); p["is_presenting"] != "NO" {
		t.Errorf("presenter after the revocation %v", p)
	}
	if f.room.RevokePresentation() {
		t.Error("a second revocation found a presenter")
	}
}
