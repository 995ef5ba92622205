package meetings_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/meetbot/meetbot/meetings"
)

// FuzzEventReader: no input makes the SSE parser panic, and reading the stream whole or one byte
// at a time gives the same events.
func FuzzEventReader(f *testing.F) {
	for _, s := range []string{
		"event: participant_create\nid: 1\ndata: " + aliceJSON + "\n\n",
		"event: participant_delete\r\ndata: {\"uuid\":\"a\"}\r\n\r\n",
		"data: a\rdata: b\r\r:comment\n\nretry: 10\n\n",
		"event: stage\ndata: [{\"stage_index\":0,\"participant_uuid\":\"a\",\"vad\":100}]\n\n",
		"event: layout\ndata: {\"view\":\"1:7\",\"participants\":[\"a\"]}\n\nevent: bye\ndata: null\n\n",
		"id\nid: \x00\nevent\ndata\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, err1 := readEvents(bytes.NewReader(data))
		bytewise, err2 := readEvents(iotest.OneByteReader(bytes.NewReader(data)))
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("errors differ: %v vs %v", err1, err2)
		}
		if diff := cmp.Diff(whole, bytewise); diff != "" {
			t.Fatalf("whole vs one byte at a time (-whole +bytewise):\n%s", diff)
		}
		r := meetings.NewRoster()
		for _, ev := range whole {
			r.Apply(ev)
		}
	})
}

func readEvents(r io.Reader) ([]meetings.Event, error) {
	er := meetings.NewEventReader(r)
	var evs []meetings.Event
	for {
		ev, err := er.Next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

// FuzzDecodeParticipant: no input makes the participant decoder panic, and on any valid JSON
// object with a string uuid it succeeds and agrees with encoding/json on the strings it reads.
func FuzzDecodeParticipant(f *testing.F) {
	for _, s := range []string{
		aliceJSON,
		`{"uuid":"u","is_muted":"YES","spotlight":"12","start_time":1.5e9}`,
		`{"uuid":"u\u00e9","display_name":"\ud83d\ude00","nested":{"a":[1,2,{"b":null}]}}`,
		`{"uuid":"u","uuid":"v"}`,
		`{"uuid":42}`,
		`[]`, `{`, `{"uuid":"\xff"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := meetings.DecodeParticipant(data)
		meetings.DecodeEvent("participant_update", "", data)
		meetings.DecodeEvent("stage", "", data)
		meetings.DecodeEvent("layout", "", data)
		var ref map[string]any
		if json.Unmarshal(data, &ref) != nil {
			return
		}
		uuid, ok := ref["uuid"].(string)
		if !ok || uuid == "" {
			return
		}
		if err != nil {
			t.Fatalf("valid object with uuid %q: %v", uuid, err)
		}
		if p.UUID != uuid {
			t.Errorf("uuid = %q, encoding/json says %q", p.UUID, uuid)
		}
		if name, ok := ref["display_name"].(string); ok && p.DisplayName != name {
			t.Errorf("display_name = %q, encoding/json says %q", p.DisplayName, name)
		}
		if muted, ok := ref["is_muted"].(bool); ok && p.IsMuted != muted {
			t.Errorf("is_muted = %v, encoding/json says %v", p.IsMuted, muted)
		}
	})
}
