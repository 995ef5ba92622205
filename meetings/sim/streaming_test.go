package sim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// checkJoin's isRecord and isLive (section 1) follow RoomConfig.NoRecord and NoLive; both are
// true by default, so the demo can record and go live.
func TestCheckJoinRecordLive(t *testing.T) {
	e := newEnv(t, Options{})
	cases := []struct {
		name             string
		cfg              RoomConfig
		isRecord, isLive bool
	}{
		{"Default", RoomConfig{Number: "3001"}, true, true},
		{"NoRecord", RoomConfig{Number: "3002", NoRecord: true}, false, true},
		{"NoLive", RoomConfig{Number: "3003", NoLive: true}, true, false},
		{"Neither", RoomConfig{Number: "3004", NoRecord: true, NoLive: true}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.sim.AddRoom(tc.cfg)
			a := e.do("POST", "/api/v3/meet/checkJoin.shtml", nil, map[string]string{"joinAccount": tc.cfg.Number, "participantName": "meetbot"})
			var r struct {
				Results map[string]any `json:"results"`
			}
			if err := json.Unmarshal(a.Body, &r); err != nil {
				t.Fatalf("checkJoin %s: %v", a.Body, err)
			}
			if r.Results["isRecord"] != tc.isRecord || r.Results["isLive"] != tc.isLive {
				t.Errorf("isRecord %v isLive %v, want %v %v", r.Results["isRecord"], r.Results["isLive"], tc.isRecord, tc.isLive)
			}
		})
	}
}

func dialStream(t *testing.T, h *tsession, dest string, extra map[string]string) string {
	t.Helper()
	body := map[string]string{"role": "guest", "destination": dest, "protocol": "rtmp", "streaming": "yes", "remote_display_name": "Recording"}
	for k, v := range extra {
		body[k] = v
	}
	a := h.post("dial", body)
	var uuids []string
	if a.Status != 200 || json.Unmarshal(a.Result, &uuids) != nil || len(uuids) != 1 {
		t.Fatalf("streaming dial: %d %s", a.Status, a.Body)
	}
	return uuids[0]
}

// An RTMP dial with streaming "yes" (section 4) is a streaming participant: protocol rtmp,
// is_streaming_conference, call_direction out, connecting until it answers, then conference;
// faults make it never connect or hang up later.
func TestStreamingDial(t *testing.T) {
	const timeout = 80 * time.Millisecond
	f := newFixture(t, Options{DialAnswerAfter: 20 * time.Millisecond, DialTimeout: timeout}, pubCfg())
	h := f.host

	t.Run("Connects", func(t *testing.T) {
		uuid := dialStream(t, h, "rtmp://a.rtmp.youtube.com/live2/abcd-efgh", map[string]string{"presentation_url": "rtmp://a.rtmp.youtube.com/live2/pres"})
		ev := f.st.next()
		p := ev.participant()
		if ev.Name != "participant_create" || p["uuid"] != uuid || p["protocol"] != "rtmp" || p["is_streaming_conference"] != true ||
			p["call_direction"] != "out" || p["service_type"] != "connecting" || p["display_name"] != "Recording" {
			t.Errorf("streaming participant announced as %s %v", ev.Name, p)
		}
		ev = f.st.next()
		if ev.Name != "participant_update" || ev.participant()["service_type"] != "conference" || ev.participant()["is_streaming_conference"] != true {
			t.Errorf("after DialAnswerAfter: %s %v, want participant_update conference", ev.Name, ev.participant())
		}
		got, _ := f.room.Participant(uuid)
		if !got.Streaming || got.KeepConferenceAlive != "keep_conference_alive_never" || got.PresentationURL != "rtmp://a.rtmp.youtube.com/live2/pres" {
			t.Errorf("participant %+v: want streaming, the page's default keep_conference_alive_never, the presentation_url", got)
		}
	})
	t.Run("KeepAliveAsAsked", func(t *testing.T) {
		uuid := dialStream(t, h, "rtmp://rec.example.com/live/k2", map[string]string{"keep_conference_alive": "keep_conference_alive_if_multiple"})
		f.st.next()
		f.st.next()
		if got, _ := f.room.Participant(uuid); got.KeepConferenceAlive != "keep_conference_alive_if_multiple" {
			t.Errorf("keep_conference_alive = %q", got.KeepConferenceAlive)
		}
	})
	t.Run("RTMPWithoutStreaming", func(t *testing.T) {
		a := h.post("dial", map[string]string{"destination": "rtmp://flash.example.com/app/x", "protocol": "rtmp"})
		if a.Status != 200 {
			t.Fatalf("dial: %d %s", a.Status, a.Body)
		}
		if p := f.st.next().participant(); p["is_streaming_conference"] != false || p["protocol"] != "rtmp" {
			t.Errorf("a plain RTMP dial: %v, want is_streaming_conference false", p)
		}
		f.st.next()
	})
	t.Run("FailToConnect", func(t *testing.T) {
		f.e.sim.FailStreamingDials(1)
		uuid := dialStream(t, h, "rtmp://rec.example.com/live/k3", nil)
		if ev := f.st.next(); ev.Name != "participant_create" || ev.participant()["service_type"] != "connecting" {
			t.Fatalf("got %s %v", ev.Name, ev.participant())
		}
		// The next event is its removal after DialTimeout: it never became conference.
		if ev := f.st.next(); ev.Name != "participant_delete" || !strings.Contains(ev.Data, uuid) {
			t.Errorf("after DialTimeout: %s %s, want participant_delete of %s", ev.Name, ev.Data, uuid)
		}
		// The fault was used up: the next streaming dial connects.
		dialStream(t, h, "rtmp://rec.example.com/live/k4", nil)
		f.st.next()
		if ev := f.st.next(); ev.Name != "participant_update" || ev.participant()["service_type"] != "conference" {
			t.Errorf("the dial after the fault: %s %v, want it to connect", ev.Name, ev.participant())
		}
	})
	t.Run("NotAnRTMPURL", func(t *testing.T) {
		uuid := dialStream(t, h, "live.example.com/app/key", nil)
		f.st.next()
		if ev := f.st.next(); ev.Name != "participant_delete" || !strings.Contains(ev.Data, uuid) {
			t.Errorf("an RTMP dial to no rtmp:// URL: %s %s, want it removed unanswered", ev.Name, ev.Data)
		}
	})
	t.Run("DropsLater", func(t *testing.T) {
		f.e.sim.DropStreamingAfter(10*time.Millisecond, 1)
		uuid := dialStream(t, h, "rtmp://rec.example.com/live/k5", nil)
		for _, want := range []string{"participant_create", "participant_update", "participant_delete"} {
			if ev := f.st.next(); ev.Name != want || !strings.Contains(ev.Data, uuid) {
				t.Errorf("got %s %s, want %s of the dropping recorder", ev.Name, ev.Data, want)
			}
		}
	})
	t.Run("HangUp", func(t *testing.T) {
		for _, p := range f.room.Participants() {
			if p.Streaming {
				f.room.Leave(p.UUID)
				f.st.next()
			}
		}
		uuid := dialStream(t, h, "rtmp://rec.example.com/live/k6", nil)
		f.st.next()
		f.st.next()
		if n := f.room.HangUpStreaming(); n != 1 {
			t.Errorf("HangUpStreaming = %d, want 1", n)
		}
		if ev := f.st.next(); ev.Name != "participant_delete" || !strings.Contains(ev.Data, uuid) {
			t.Errorf("hang-up: %s %s, want participant_delete", ev.Name, ev.Data)
		}
		if _, ok := f.room.Participant(f.bob); !ok {
			t.Error("HangUpStreaming removed a person")
		}
	})
	t.Run("IllegalValues", func(t *testing.T) {
		before := len(f.room.Participants())
		for _, body := range []map[string]string{
			{"destination": "sip:rec@example.com", "protocol": "sip", "streaming": "yes"},
			{"destination": "sip:rec@example.com", "protocol": "sip", "presentation_url": "rtmp://x/y"},
			{"destination": "rtmp://x/y", "protocol": "rtmp", "streaming": "yes", "keep_conference_alive": "forever"},
		} {
			if a := h.post("dial", body); a.Status != 400 || a.str() != "Illegal value" {
				t.Errorf("dial %v: %d %s, want 400 Illegal value", body, a.Status, a.Body)
			}
		}
		if n := len(f.room.Participants()); n != before {
			t.Errorf("refused dials changed the room: %d participants, had %d", n, before)
		}
	})
}

// Section 7: a private node dials H.323 and SIP only, so it refuses a streaming RTMP dial.
func TestPrivateRefusesStreamingDial(t *testing.T) {
	f := newFixture(t, Options{}, privCfg())
	before := len(f.room.Participants())
	a := f.host.post("dial", map[string]string{"role": "guest", "destination": "rtmp://rec.example.com/live/k", "protocol": "rtmp", "streaming": "yes"})
	if a.Status != 400 || a.str() != "Illegal value" {
		t.Errorf("private streaming dial: %d %s, want 400 Illegal value", a.Status, a.Body)
	}
	if n := len(f.room.Participants()); n != before {
		t.Errorf("a refused dial added a participant")
	}
}

// The control surface drives the streaming faults and the recorder's flags.
func TestStreamingControlRoutes(t *testing.T) {
	f := newFixture(t, Options{DialAnswerAfter: 10 * time.Millisecond, DialTimeout: 40 * time.Millisecond}, pubCfg())
	if a := f.e.do("POST", "/_sim/rooms", nil, map[string]any{"number": "3100", "no_record": true, "no_live": true}); a.Status != 200 {
		t.Fatalf("add room: %d %s", a.Status, a.Body)
	}
	if cfg := f.e.sim.Room("3100").Config(); !cfg.NoRecord || !cfg.NoLive {
		t.Errorf("room config %+v, want no_record and no_live", cfg)
	}
	if a := f.e.do("POST", "/_sim/streaming/fail", nil, map[string]int{"n": 1}); a.Status != 200 {
		t.Fatalf("streaming/fail: %d %s", a.Status, a.Body)
	}
	uuid := dialStream(t, f.host, "rtmp://rec.example.com/live/c1", nil)
	f.st.next()
	if ev := f.st.next(); ev.Name != "participant_delete" || !strings.Contains(ev.Data, uuid) {
		t.Errorf("after /_sim/streaming/fail: %s %s, want the dial removed unanswered", ev.Name, ev.Data)
	}
	if a := f.e.do("POST", "/_sim/streaming/drop", nil, map[string]int{"ms": 5, "n": 1}); a.Status != 200 {
		t.Fatalf("streaming/drop: %d %s", a.Status, a.Body)
	}
	uuid = dialStream(t, f.host, "rtmp://rec.example.com/live/c2", nil)
	for _, want := range []string{"participant_create", "participant_update", "participant_delete"} {
		if ev := f.st.next(); ev.Name != want || !strings.Contains(ev.Data, uuid) {
			t.Errorf("after /_sim/streaming/drop: %s, want %s", ev.Name, want)
		}
	}
	uuid = dialStream(t, f.host, "rtmp://rec.example.com/live/c3", nil)
	f.st.next()
	f.st.next()
	a := f.e.do("POST", "/_sim/rooms/1061/hangup_streaming", nil, nil)
	var got map[string]int
	if a.Status != 200 || json.Unmarshal(a.Body, &got) != nil || got["dropped"] != 1 {
		t.Errorf("hangup_streaming: %d %s, want dropped 1", a.Status, a.Body)
	}
	if ev := f.st.next(); ev.Name != "participant_delete" || !strings.Contains(ev.Data, uuid) {
		t.Errorf("after hangup_streaming: %s %s", ev.Name, ev.Data)
	}
}
