package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Stream is one streaming participant (a recording or a live stream) the bot started in a
// meeting. Streams are kept as a small value under the meeting's key, so `record stop` works from
// any replica and after a restart, and the relay can tell a stream that was stopped on purpose
// (gone from here first) from one whose recorder hung up (still here when it leaves).
type Stream struct {
	UUID  string    `json:"uuid"`
	Since time.Time `json:"since"`
	By    string    `json:"by"` // who started it, as the chat names them
}

// Streams is what runs in one meeting, by kind ("recording", "live").
type Streams map[string]Stream

// Kind returns the kind of the stream whose participant is uuid, or "".
func (s Streams) Kind(uuid string) string {
	for k, st := range s {
		if st.UUID == uuid {
			return k
		}
	}
	return ""
}

func streamsKey(meetingKey string) string { return "streams:" + meetingKey }

// LoadStreams reads the streams the bot started in meetingKey (a MeetingRef.Key). None is an
// empty map.
func LoadStreams(ctx context.Context, kv KV, meetingKey string) (Streams, error) {
	v, err := kv.GetValue(ctx, streamsKey(meetingKey))
	if errors.Is(err, ErrNotFound) {
		return Streams{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load streams of %s: %w", meetingKey, err)
	}
	s := Streams{}
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return Streams{}, nil // a value this version cannot read is as good as none
	}
	return s, nil
}

// SaveStreams replaces the streams the bot started in meetingKey.
func SaveStreams(ctx context.Context, kv KV, meetingKey string, s Streams) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := kv.PutValue(ctx, streamsKey(meetingKey), string(b)); err != nil {
		return fmt.Errorf("save streams of %s: %w", meetingKey, err)
	}
	return nil
}
