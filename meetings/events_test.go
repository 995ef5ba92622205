package meetings_test

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meetbot/meetbot/meetings"
)

const aliceJSON = `{"api_url": "/participants/50b9", "call_direction": "in",
 "display_name": "Alice", "encryption": "On", "has_media": false, "is_audio_only_call": "NO",
 "is_external": false, "is_muted": "NO", "is_presenting": "NO", "is_streaming_conference": false,
 "is_video_call": "YES", "local_alias": "meet.alice", "overlay_text": "Alice",
 "presentation_supported": "NO", "protocol": "api", "role": "chair", "rx_presentation_policy": "ALLOW",
 "service_type": "conference", "spotlight": 0, "start_time": 1441720992,
 "uri": "CloudConnect_10.44.21.35", "uuid": "50b9",
 "vendor": "CloudConnect/2.0.0-25227.0.0"}`

var alice = meetings.Participant{UUID: "50b9", DisplayName: "Alice", Role: "chair", ServiceType: "conference",
	CallDirection: "in", Protocol: "api", URI: "CloudConnect_10.44.21.35", LocalAlias: "meet.alice",
	OverlayText: "Alice", Vendor: "CloudConnect/2.0.0-25227.0.0", Encryption: "On", IsVideoCall: true,
	RxPresentationAllowed: true, StartTime: 1441720992}

// Every event of API section 6. Clarification 1: bodies may be null or {}. Clarification 2: the
// alternate names conference_update, message_received, bye and refresh_token.
func TestDecodeEvent(t *testing.T) {
	cases := []struct {
		name, id, data string
		want           meetings.Event
	}{
		{"participant_create", "1", aliceJSON, meetings.ParticipantCreated{Participant: alice}},
		{"participant_update", "2", aliceJSON, meetings.ParticipantUpdated{Participant: alice}},
		{"participant_delete", "3", `{"uuid": "65b4"}`, meetings.ParticipantDeleted{UUID: "65b4"}},
		{"participant_sync_begin", "4", `null`, meetings.SyncBegin{}},
		{"participant_sync_end", "5", `null`, meetings.SyncEnd{}},
		{"presentation_start", "6", `{"presenter_name": "Bob", "presenter_uri": "bob@example.com"}`,
			meetings.PresentationStarted{PresenterName: "Bob", PresenterURI: "bob@example.com"}},
		{"presentation_start", "6", `{"presenter_name": "Bob", "presenter_uri": "bob@example.com", "presenter_uuid": "65b4"}`,
			meetings.PresentationStarted{PresenterName: "Bob", PresenterURI: "bob@example.com", PresenterUUID: "65b4"}},
		// Pexip's revocation: a presentation_start about nobody is the presentation ending.
		{"presentation_start", "6", `{"presenter_name": "", "presenter_uri": "", "presenter_uuid": ""}`, meetings.PresentationStopped{}},
		{"presentation_start", "6", `{"presenter_name": "", "presenter_uri": ""}`, meetings.PresentationStopped{}},
		{"presentation_start", "6", `{"presenter_name": "", "presenter_uri": "", "presenter_uuid": "65b4"}`,
			meetings.PresentationStarted{PresenterUUID: "65b4"}},
		{"presentation_stop", "7", `null`, meetings.PresentationStopped{}},
		{"presentation_stop", "7", `{}`, meetings.PresentationStopped{}},
		{"presentation_frame", "8", `null`, meetings.PresentationFrame{ID: "8"}},
		{"service_update", "9", `{"locked": true, "guests_muted": false}`, meetings.ServiceUpdated{Locked: true, Started: true}},
		{"conference_update", "9", `{"locked": "NO", "guests_muted": "YES"}`, meetings.ServiceUpdated{GuestsMuted: true, Started: true}},
		{"conference_update", "9", `{"locked": false, "guests_muted": false, "started": false}`, meetings.ServiceUpdated{}},
		{"service_update", "9", `{"locked": false, "guests_muted": false, "started": true}`, meetings.ServiceUpdated{Started: true}},
		{"layout", "10", `{"view": "1:7", "participants": ["a019", "65b4"]}`,
			meetings.LayoutChanged{View: "1:7", Participants: []string{"a019", "65b4"}}},
		{"message", "11", `{"origin": "Alice", "type": "text/plain", "payload": "Hello World", "uuid": "eca5"}`,
			meetings.MessageReceived{Origin: "Alice", Type: "text/plain", Payload: "Hello World", UUID: "eca5"}},
		{"message_received", "11", `{"origin": "Alice", "type": "text/plain", "payload": "你好\n", "uuid": "eca5"}`,
			meetings.MessageReceived{Origin: "Alice", Type: "text/plain", Payload: "你好\n", UUID: "eca5"}},
		{"message_received", "11", `{"origin": "Alice", "type": "text/plain", "payload": "psst", "uuid": "eca5", "direct": true}`,
			meetings.MessageReceived{Origin: "Alice", Type: "text/plain", Payload: "psst", UUID: "eca5", Direct: true}},
		{"stage", "12", `[{"stage_index": 0, "participant_uuid": "a019", "vad": 100}, {"stage_index": "1", "participant_uuid": "65b4", "vad": 0.0}]`,
			meetings.StageChanged{Entries: []meetings.StageEntry{{Index: 0, ParticipantUUID: "a019", VAD: 100}, {Index: 1, ParticipantUUID: "65b4"}}}},
		{"call_disconnected", "13", `{"call_uuid": "50ed", "reason": "API initiated participant disconnect"}`,
			meetings.CallDisconnected{CallUUID: "50ed", Reason: "API initiated participant disconnect"}},
		{"disconnect", "14", `{"reason": "Timer expired awaiting token refresh"}`,
			meetings.Disconnected{Reason: "Timer expired awaiting token refresh"}},
		{"bye", "15", `null`, meetings.Bye{}},
		{"refresh_token", "16", `null`, meetings.RefreshTokenRequested{}},
		{"fecc", "17", `{"action": "start"}`, meetings.Unknown{Name: "fecc", Data: json.RawMessage(`{"action": "start"}`)}},
		// A known event whose body cannot be read is passed through raw, not dropped.
		{"participant_create", "18", `{"display_name": "no uuid"}`,
			meetings.Unknown{Name: "participant_create", Data: json.RawMessage(`{"display_name": "no uuid"}`)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := meetings.DecodeEvent(tc.name, tc.id, []byte(tc.data))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DecodeEvent(%s) (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

// Clarification 9: lenient decoding of the participant object.
func TestDecodeParticipantLenient(t *testing.T) {
	cases := []struct {
		name, data string
		want       meetings.Participant
	}{
		{"YesNoStrings", `{"uuid":"u","is_muted":"YES","is_presenting":"yes","is_video_call":"NO"}`,
			meetings.Participant{UUID: "u", IsMuted: true, IsPresenting: true, RxPresentationAllowed: true}},
		{"Booleans", `{"uuid":"u","is_muted":true,"is_audio_only_call":false,"has_media":"true","is_external":1}`,
			meetings.Participant{UUID: "u", IsMuted: true, HasMedia: true, IsExternal: true, RxPresentationAllowed: true}},
		{"NumbersAsStringsAndFloats", `{"uuid":"u","spotlight":"1441720992","start_time":1441720992.7}`,
			meetings.Participant{UUID: "u", Spotlight: 1441720992, StartTime: 1441720992, RxPresentationAllowed: true}},
		{"NewerFields", `{"uuid":"u","is_video_muted":"YES","presentation_allowed":true,"started":1,"nested":{"a":[1,{"b":null}]}}`,
			meetings.Participant{UUID: "u", IsVideoMuted: true, RxPresentationAllowed: true}},
		{"RxDeny", `{"uuid":"u","rx_presentation_policy":"DENY"}`, meetings.Participant{UUID: "u"}},
		// Newer nodes tell what a host may do to a participant; absent means allowed.
		{"CapabilitiesRefused", `{"uuid":"u","mute_supported":"NO","disconnect_supported":"NO","transfer_supported":"NO","fecc_supported":"YES"}`,
			meetings.Participant{UUID: "u", RxPresentationAllowed: true, NoMute: true, NoDisconnect: true, NoTransfer: true, FECCSupported: true}},
		{"CapabilitiesAllowed", `{"uuid":"u","mute_supported":"YES","disconnect_supported":"YES","transfer_supported":"YES","fecc_supported":"NO"}`,
			meetings.Participant{UUID: "u", RxPresentationAllowed: true}},
		{"NewestNodeFields", `{"uuid":"u","is_streaming_conference":true,"is_video_silent":true,"supports_direct_chat":true,"external_node_uuid":"n1","buzz_time":1441720999.5,"can_receive_personal_mix":false,"receive_from_video_mix":{"mix_name":"main","timestamp":1.5}}`,
			meetings.Participant{UUID: "u", IsStreaming: true, IsVideoSilent: true, SupportsDirectChat: true, ExternalNodeUUID: "n1", BuzzTime: 1441720999,
				RxPresentationAllowed: true}},
		{"NullsAndEscapes", `{"uuid":"u","display_name":"A\u00e9 \"B\"","role":null,"spotlight":null}`,
			meetings.Participant{UUID: "u", DisplayName: `Aé "B"`, RxPresentationAllowed: true}},
		{"UUIDAsNumber", `{"uuid":42}`, meetings.Participant{UUID: "42", RxPresentationAllowed: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := meetings.DecodeParticipant([]byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{``, `null`, `[]`, `{"uuid":"u"`, `{"uuid":"u",}`, `{"display_name":"x"}`, `{"uuid":"u"} x`, `{"uuid":"u","a":tru}`} {
		if _, err := meetings.DecodeParticipant([]byte(bad)); err == nil {
			t.Errorf("DecodeParticipant(%q) = nil error", bad)
		}
	}
	if !alice.IsHost() || alice.Waiting() || !(meetings.Participant{ServiceType: "waiting_room"}).Waiting() {
		t.Error("IsHost/Waiting")
	}
}

func readAll(t *testing.T, r io.Reader) ([]meetings.Event, *meetings.EventReader, error) {
	t.Helper()
	er := meetings.NewEventReader(r)
	var evs []meetings.Event
	for {
		ev, err := er.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return evs, er, err
		}
		evs = append(evs, ev)
	}
}

// Clarification 1: SSE framing.
func TestEventReader(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	cases := []struct {
		name, stream string
		want         []meetings.Event
	}{
		{"Basic", "event: participant_delete\nid: 1\ndata: {\"uuid\":\"a\"}\n\n",
			[]meetings.Event{meetings.ParticipantDeleted{UUID: "a"}}},
		{"FieldsInAnyOrder", "data: {\"uuid\":\"a\"}\nid: 7\nevent: participant_delete\n\n",
			[]meetings.Event{meetings.ParticipantDeleted{UUID: "a"}}},
		{"DataLinesJoined", "event: message\ndata: {\"payload\":\ndata: \"hi\"}\n\n",
			[]meetings.Event{meetings.MessageReceived{Payload: "hi"}}},
		{"CommentsIgnored", ":\n\n: keep-alive\nevent: bye\n: inside\ndata: null\n\n",
			[]meetings.Event{meetings.Bye{}}},
		{"CRLF", "event: participant_sync_begin\r\ndata: null\r\n\r\nevent: participant_sync_end\r\ndata: null\r\n\r\n",
			[]meetings.Event{meetings.SyncBegin{}, meetings.SyncEnd{}}},
		{"LoneCR", "event: participant_sync_begin\rdata: null\r\revent: bye\rdata: null\r\r\n",
			[]meetings.Event{meetings.SyncBegin{}, meetings.Bye{}}},
		{"NoSpaceAfterColon", "event:presentation_frame\nid:42\ndata:null\n\n",
			[]meetings.Event{meetings.PresentationFrame{ID: "42"}}},
		{"IDPersists", "id: 9\nevent: presentation_frame\ndata: null\n\nevent: presentation_frame\ndata: null\n\n",
			[]meetings.Event{meetings.PresentationFrame{ID: "9"}, meetings.PresentationFrame{ID: "9"}}},
		{"NameWithoutData", "event: presentation_stop\n\n", []meetings.Event{meetings.PresentationStopped{}}},
		{"BlankLinesAlone", "\n\n\n", nil},
		{"UnterminatedDropped", "event: bye\ndata: null\n\nevent: participant_delete\ndata: {\"uuid\":\"a\"}\n",
			[]meetings.Event{meetings.Bye{}}},
		{"UnknownFieldIgnored", "event: bye\nfoo: bar\ndata: null\n\n", []meetings.Event{meetings.Bye{}}},
		{"LongLine", "event: message\ndata: {\"payload\":\"" + long + "\"}\n\n",
			[]meetings.Event{meetings.MessageReceived{Payload: long}}},
		{"UnknownEvent", "event: new_thing\ndata: [1,2]\n\n",
			[]meetings.Event{meetings.Unknown{Name: "new_thing", Data: json.RawMessage("[1,2]")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tc.stream), iotest.OneByteReader(strings.NewReader(tc.stream))} {
				got, _, err := readAll(t, r)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
	t.Run("Retry", func(t *testing.T) {
		_, er, err := readAll(t, strings.NewReader("retry: 1500\nevent: bye\ndata: null\n\nretry: x\n\n"))
		if err != nil || er.Retry() != 1500*time.Millisecond {
			t.Errorf("Retry = %v, %v; want 1.5s", er.Retry(), err)
		}
	})
}

// Pexip's client shows only text/plain messages that are not direct as the meeting's chat; an
// application's JSON and a private message are not for the channel.
func TestMessageForEveryone(t *testing.T) {
	for _, tc := range []struct {
		m    meetings.MessageReceived
		want bool
	}{
		{meetings.MessageReceived{Type: "text/plain", Payload: "hi"}, true},
		{meetings.MessageReceived{Type: "Text/Plain; charset=utf-8", Payload: "hi"}, true},
		{meetings.MessageReceived{Payload: "a page node's message without a type"}, true},
		{meetings.MessageReceived{Type: "text/plain", Payload: "psst", Direct: true}, false},
		{meetings.MessageReceived{Type: "application/json", Payload: `{"type":"reaction"}`}, false},
		{meetings.MessageReceived{Type: "text/html", Payload: "<b>hi</b>"}, false},
	} {
		if got := tc.m.ForEveryone(); got != tc.want {
			t.Errorf("%+v.ForEveryone() = %v, want %v", tc.m, got, tc.want)
		}
	}
}
