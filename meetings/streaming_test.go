package meetings_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

// Section 1: isRecord and isLive say whether the room may record and stream live. Absent is
// false (the page gives false for point-to-point calls), so a caller refuses rather than dials.
func TestCheckJoinRecordLive(t *testing.T) {
	t.Run("Absent", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"code":"200","results":{"sipkey":"1061","mcuHost":"node1.example.cn","roleType":"host"}}`)
		}))
		defer srv.Close()
		c, _ := meetings.NewClient(srv.URL, meetings.ClientOptions{})
		got, err := c.CheckJoin(context.Background(), "1061", "", "bot")
		if err != nil {
			t.Fatal(err)
		}
		if got.IsRecord || got.IsLive {
			t.Errorf("IsRecord %v IsLive %v without the fields, want false false", got.IsRecord, got.IsLive)
		}
	})
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.sim.AddRoom(sim.RoomConfig{Number: "3001", NoRecord: true})
	e.sim.AddRoom(sim.RoomConfig{Number: "3002", NoLive: true})
	for _, tc := range []struct {
		room             string
		isRecord, isLive bool
	}{{"3001", false, true}, {"3002", true, false}} {
		t.Run(tc.room, func(t *testing.T) {
			got, err := e.c.CheckJoin(context.Background(), tc.room, "", "bot")
			if err != nil {
				t.Fatal(err)
			}
			if got.IsRecord != tc.isRecord || got.IsLive != tc.isLive {
				t.Errorf("IsRecord %v IsLive %v, want %v %v", got.IsRecord, got.IsLive, tc.isRecord, tc.isLive)
			}
		})
	}
}

// A recorder is an RTMP dial with streaming "yes" (section 4): the platform lists it at once as
// a streaming participant that is connecting, then in the meeting.
func TestStreamingDial(t *testing.T) {
	e := newEnv(t, sim.Options{DialAnswerAfter: 20 * time.Millisecond}, meetings.ClientOptions{})
	room := e.room()
	s := e.open("1061", "1234")
	ev := listen(t, s)
	ev.synced()
	const dest = "rtmp://a.rtmp.youtube.com/live2/abcd-efgh"
	uuids, err := s.Dial(context.Background(), meetings.DialRequest{
		Destination: dest, Protocol: meetings.ProtocolRTMP, Role: "guest", Streaming: true,
		KeepConferenceAlive: meetings.KeepAliveNever, RemoteDisplayName: "Recording"})
	if err != nil || len(uuids) != 1 {
		t.Fatalf("Dial = %v, %v", uuids, err)
	}
	created := ev.until("participant_create", is[meetings.ParticipantCreated]).(meetings.ParticipantCreated).Participant
	if created.UUID != uuids[0] || !created.IsStreaming || created.Protocol != "rtmp" || created.CallDirection != "out" ||
		created.ServiceType != "connecting" || created.DisplayName != "Recording" {
		t.Errorf("streaming participant created as %+v", created)
	}
	updated := ev.until("participant_update", is[meetings.ParticipantUpdated]).(meetings.ParticipantUpdated).Participant
	if updated.UUID != uuids[0] || updated.ServiceType != "conference" || !updated.IsStreaming {
		t.Errorf("after it answered: %+v, want conference and streaming", updated)
	}
	if p, _ := room.Participant(uuids[0]); p.KeepConferenceAlive != meetings.KeepAliveNever {
		t.Errorf("the platform got keep_conference_alive %q", p.KeepConferenceAlive)
	}
}

// Streaming and presentation_url are RTMP only, and keep_conference_alive has three values:
// anything else is refused before it is sent, and the error never shows the destination.
func TestDialRefusedBeforeSending(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.room()
	s := e.open("1061", "1234")
	e.sim.ResetRequests()
	for name, d := range map[string]meetings.DialRequest{
		"StreamingOverSIP":       {Destination: "sip:rec-secret@example.com", Protocol: "sip", Role: "guest", Streaming: true},
		"PresentationURLOverSIP": {Destination: "sip:rec-secret@example.com", Protocol: "h323", Role: "guest", PresentationURL: "rtmp://x/secret"},
		"UnknownKeepAlive":       {Destination: "rtmp://x/live/secret", Protocol: "rtmp", Role: "guest", Streaming: true, KeepConferenceAlive: "forever"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Dial(context.Background(), d)
			if !errors.Is(err, meetings.ErrBadRequest) {
				t.Fatalf("Dial = %v, want ErrBadRequest", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the destination", err)
			}
		})
	}
	for _, r := range e.sim.Requests() {
		if r.Op == "dial" {
			t.Errorf("a refused dial reached the platform: %s", r.Body)
		}
	}
}

// Section 7: a private node dials SIP and H.323 only, so a recorder's dial is refused there.
func TestStreamingDialPrivateNode(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.sim.AddRoom(sim.RoomConfig{Number: "5000", HostPIN: "1234", Private: true})
	s := e.open("5000", "1234")
	_, err := s.Dial(context.Background(), meetings.DialRequest{Destination: "rtmp://rec.example.com/live/k",
		Protocol: meetings.ProtocolRTMP, Role: "guest", Streaming: true, KeepConferenceAlive: meetings.KeepAliveNever})
	if !errors.Is(err, meetings.ErrBadRequest) {
		t.Errorf("streaming dial on a private node = %v, want ErrBadRequest", err)
	}
	var body map[string]any
	for _, r := range e.sim.Requests() {
		if r.Op == "dial" {
			_ = json.Unmarshal(r.Body, &body)
		}
	}
	if body["streaming"] != "yes" {
		t.Errorf("dial body %v, want streaming yes", body)
	}
}
