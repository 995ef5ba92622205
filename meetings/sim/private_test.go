package sim

import (
	"testing"
	"time"
)

func privCfg() RoomConfig {
	return RoomConfig{Number: "5000", Alias: "corp@private.example", HostPIN: "1234", GuestPIN: "5678", Private: true}
}

// Section 7 and clarification 10: a private-cloud node.
func TestPrivateCloud(t *testing.T) {
	f := newFixture(t, Options{DialAnswerAfter: 10 * time.Millisecond}, privCfg()) // the sync sends participant_update
	h := f.host

	t.Run("NewSessionLacksFields", func(t *testing.T) {
		for _, k := range []string{"stun", "analytics_enabled", "current_service_type"} {
			if _, ok := h.info[k]; ok {
				t.Errorf("private new_session has %q", k)
			}
		}
		for _, k := range []string{"token", "expires", "participant_uuid", "role", "service_type", "chat_enabled", "version", "display_name"} {
			if _, ok := h.info[k]; !ok {
				t.Errorf("private new_session lacks %q", k)
			}
		}
	})
	t.Run("JoinIsAnUpdate", func(t *testing.T) {
		uuid := f.room.Join(ParticipantSpec{Name: "Dana"})
		ev := f.st.next()
		if ev.Name != "participant_update" || ev.participant()["uuid"] != uuid {
			t.Errorf("a join on a private node sent %+v, want participant_update", ev)
		}
	})
	t.Run("NoPresentationFrame", func(t *testing.T) {
		f.room.Present(f.bob, true)
		if ev := f.st.next(); ev.Name != "presentation_start" {
			t.Fatalf("got %+v", ev)
		}
		if ev := f.st.next(); ev.Name != "participant_update" {
			t.Fatalf("got %+v", ev)
		}
		if f.room.Frame() {
			t.Error("Frame sent a presentation_frame on a private node")
		}
		f.room.Present(f.bob, false)
		if ev := f.st.next(); ev.Name != "presentation_stop" {
			t.Errorf("got %+v, want presentation_stop (no presentation_frame before it)", ev)
		}
		f.st.until("participant_update")
	})
	t.Run("StartServiceWithoutEffect", func(t *testing.T) {
		w := f.room.Join(ParticipantSpec{Name: "Wes", Waiting: true})
		f.st.next()
		ok(t, h.post("start_service", nil))
		if p, _ := f.room.Participant(w); p.ServiceType != "waiting_room" {
			t.Errorf("private start_service admitted %s", p.Name)
		}
	})
	t.Run("Unsupported", func(t *testing.T) {
		for _, c := range []struct {
			op   string
			body any
		}{
			{"override_layout", map[string]any{"layouts": []map[string]any{{"audience": "", "layout": "1:7"}}}},
			{"participants/" + f.bob + "/spotlighton", nil},
			{"participants/" + f.bob + "/spotlightoff", nil},
			{"participants/" + f.bob + "/unlock", nil},
			{"participants/" + f.bob + "/role", map[string]string{"role": "chair"}},
			{"participants/" + f.bob + "/transfer", map[string]string{"conference_alias": "x", "role": "guest"}},
		} {
			if a := h.post(c.op, c.body); a.Status != 400 || a.str() != "Command not supported on this node" {
				t.Errorf("private %s: %d %s, want 400 with the reason", c.op, a.Status, a.Body)
			}
		}
		if p, _ := f.room.Participant(f.bob); p.Role != "guest" || p.Spotlight != 0 {
			t.Errorf("an unsupported command changed Bob: %+v", p)
		}
	})
	t.Run("DialSIPAndH323Only", func(t *testing.T) {
		for _, proto := range []string{"rtmp", "mssip", "phone", "auto"} {
			if a := h.post("dial", map[string]string{"destination": "x@example.com", "protocol": proto}); a.Status != 400 || a.str() != "Illegal value" {
				t.Errorf("private dial %s: %d %s, want 400 Illegal value", proto, a.Status, a.Body)
			}
		}
		if a := h.post("dial", map[string]string{"destination": "room@example.com", "protocol": "h323"}); a.Status != 200 {
			t.Fatalf("private dial h323: %d %s", a.Status, a.Body)
		}
		if ev := f.st.next(); ev.Name != "participant_update" || ev.participant()["service_type"] != "connecting" {
			t.Errorf("private dial announced %+v, want participant_update connecting", ev)
		}
		f.st.next() // it answers
	})
	t.Run("MuteMutesAllButChairsAndSpeaker", func(t *testing.T) {
		carl := f.room.Join(ParticipantSpec{Name: "Carl"})
		f.st.next()
		f.room.Speak(carl)
		f.st.until("layout")
		ok(t, h.part(f.bob, "mute", nil))
		for _, p := range f.room.Participants() {
			wantMuted := p.Role != "chair" && p.UUID != carl
			if p.Muted != wantMuted {
				t.Errorf("%s (%s): muted %v, want %v", p.Name, p.Role, p.Muted, wantMuted)
			}
		}
		late := f.room.Join(ParticipantSpec{Name: "Late"})
		if p, _ := f.room.Participant(late); !p.Muted {
			t.Error("a later joiner joined unmuted while the private mute lasts")
		}
		ok(t, h.part(late, "unmute", nil))
		if st := f.room.State(); st.PrivateMuteAll {
			t.Error("unmute did not end the private mute")
		}
		if p, _ := f.room.Participant(f.room.Join(ParticipantSpec{Name: "Later"})); p.Muted {
			t.Error("a joiner after unmute joined muted")
		}
	})
}
