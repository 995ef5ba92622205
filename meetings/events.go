package meetings

import (
	"encoding/json"
	"strings"
)

// Event is one event of the meeting's stream (API section 6), or one of the stream's own
// StreamConnected and StreamLost. The set is closed; consume it with a type switch.
type Event interface{ isEvent() }

// ParticipantCreated is participant_create: a participant joined (or, inside a sync bracket, is
// present).
type ParticipantCreated struct{ Participant Participant }

// ParticipantUpdated is participant_update: a participant's properties changed. It always carries
// the whole object (clarification 4); a uuid first seen here is a join (clarification 10).
type ParticipantUpdated struct{ Participant Participant }

// ParticipantDeleted is participant_delete: a participant left.
type ParticipantDeleted struct{ UUID string }

// SyncBegin is participant_sync_begin: a full participant list follows (clarification 4).
type SyncBegin struct{}

// SyncEnd is participant_sync_end: the full participant list is complete.
type SyncEnd struct{}

// PresentationStarted is presentation_start: someone started presenting. PresenterUUID is the
// presenter's participant uuid, which newer nodes send beside the page's name and uri.
type PresentationStarted struct{ PresenterName, PresenterURI, PresenterUUID string }

// PresentationStopped is presentation_stop. It is also what a presentation_start whose
// presenter name, uri and uuid are all empty decodes to: Pexip's nodes send that to revoke the
// presentation (its official client stops showing it), so no one is announced as presenting.
type PresentationStopped struct{}

// PresentationFrame is presentation_frame: a new frame is available; pass ID to
// Session.PresentationJPEG (clarification 3).
type PresentationFrame struct{ ID string }

// ServiceUpdated is service_update (also named conference_update, clarification 2): the meeting's
// lock and guests-muted state, and whether it has started. Started is false while the meeting
// waits for a host to start it (newer nodes send "started"); it is true when the node does not
// say, as the vendor page knows no such state.
type ServiceUpdated struct{ Locked, GuestsMuted, Started bool }

// LayoutChanged is layout: the video layout and who is shown, current speaker first.
type LayoutChanged struct {
	View         string
	Participants []string
}

// MessageReceived is message (also named message_received, clarification 2): a chat message.
// Origin is the sender's display name and UUID the sender's participant uuid. Type is the
// payload's mime type ("text/plain", or "application/json" for an application's message) and
// Direct is set on a private message to this participant alone (newer nodes send "direct").
type MessageReceived struct {
	Origin, Type, Payload, UUID string
	Direct                      bool
}

// ForEveryone reports whether m is chat for everyone in the meeting: a text/plain message (a
// message without a type counts as one, as the vendor page's messages are) that is not direct.
// Pexip's own client shows only those as chat; application messages and private ones are not
// for a channel.
func (m MessageReceived) ForEveryone() bool {
	if m.Direct {
		return false
	}
	t, _, _ := strings.Cut(m.Type, ";")
	t = strings.TrimSpace(t)
	return t == "" || strings.EqualFold(t, "text/plain")
}

// StageEntry is one speaker in a StageChanged event; Index 0 is the latest speaker, VAD 0 is
// silent and 100 speaking.
type StageEntry struct {
	Index           int
	ParticipantUUID string
	VAD             int
}

// StageChanged is stage: the speaker order changed.
type StageChanged struct{ Entries []StageEntry }

// CallDisconnected is call_disconnected: a participant's sub-call (e.g. a screen share) ended.
type CallDisconnected struct{ CallUUID, Reason string }

// Disconnected is disconnect: the platform disconnected this session's participant. The session
// starts over with new_session the next time it needs its token.
type Disconnected struct{ Reason string }

// Bye is bye: the platform is closing the stream; Events reconnects (clarification 2).
type Bye struct{}

// RefreshTokenRequested is refresh_token: the platform asks for a token refresh now, which the
// session does by itself (clarification 2).
type RefreshTokenRequested struct{}

// Unknown is an event this client does not know, passed through raw.
type Unknown struct {
	Name string
	Data json.RawMessage
}

// StreamConnected is delivered after each (re)connection of the stream, before its sync.
type StreamConnected struct{}

// StreamLost is delivered when the stream dropped; Events reconnects after a backoff.
type StreamLost struct{ Err error }

func (ParticipantCreated) isEvent()    {}
func (ParticipantUpdated) isEvent()    {}
func (ParticipantDeleted) isEvent()    {}
func (SyncBegin) isEvent()             {}
func (SyncEnd) isEvent()               {}
func (PresentationStarted) isEvent()   {}
func (PresentationStopped) isEvent()   {}
func (PresentationFrame) isEvent()     {}
func (ServiceUpdated) isEvent()        {}
func (LayoutChanged) isEvent()         {}
func (MessageReceived) isEvent()       {}
func (StageChanged) isEvent()          {}
func (CallDisconnected) isEvent()      {}
func (Disconnected) isEvent()          {}
func (Bye) isEvent()                   {}
func (RefreshTokenRequested) isEvent() {}
func (Unknown) isEvent()               {}
func (StreamConnected) isEvent()       {}
func (StreamLost) isEvent()            {}

// DecodeEvent decodes one server-sent event by its name (with the alternate names of
// clarification 2), its id and its data. Unknown names, and known events whose data cannot be
// read, come back as Unknown with the raw data; it never fails.
func DecodeEvent(name, id string, data []byte) Event {
	ev, err := decodeEvent(name, id, data)
	if err != nil || ev == nil {
		return Unknown{Name: name, Data: json.RawMessage(append([]byte(nil), data...))}
	}
	return ev
}

func decodeEvent(name, id string, data []byte) (Event, error) {
	switch name {
	case "participant_create":
		p, err := DecodeParticipant(data)
		return ParticipantCreated{Participant: p}, err
	case "participant_update":
		p, err := DecodeParticipant(data)
		return ParticipantUpdated{Participant: p}, err
	case "participant_delete":
		var uuid string
		err := eachMember(data, func(key, val []byte) error {
			if string(key) == "uuid" {
				uuid = valString(val)
			}
			return nil
		})
		if err == nil && uuid == "" {
			err = errNoUUID
		}
		return ParticipantDeleted{UUID: uuid}, err
	case "participant_sync_begin":
		return SyncBegin{}, nil
	case "participant_sync_end":
		return SyncEnd{}, nil
	case "presentation_start":
		var ev PresentationStarted
		err := eachMemberLenient(data, func(key, val []byte) {
			switch string(key) {
			case "presenter_name":
				ev.PresenterName = valString(val)
			case "presenter_uri":
				ev.PresenterURI = valString(val)
			case "presenter_uuid":
				ev.PresenterUUID = valString(val)
			}
		})
		if err == nil && !isNull(data) && ev == (PresentationStarted{}) {
			// The revocation Pexip's nodes send: nobody presents any more.
			return PresentationStopped{}, nil
		}
		return ev, err
	case "presentation_stop":
		return PresentationStopped{}, nil
	case "presentation_frame":
		return PresentationFrame{ID: id}, nil
	case "service_update", "conference_update":
		ev := ServiceUpdated{Started: true}
		err := eachMemberLenient(data, func(key, val []byte) {
			switch string(key) {
			case "locked":
				ev.Locked = valBool(val)
			case "guests_muted":
				ev.GuestsMuted = valBool(val)
			case "started":
				ev.Started = valBool(val)
			}
		})
		return ev, err
	case "layout":
		var ev LayoutChanged
		err := eachMemberLenient(data, func(key, val []byte) {
			switch string(key) {
			case "view":
				ev.View = valString(val)
			case "participants":
				_ = eachElement(val, func(v []byte) error {
					ev.Participants = append(ev.Participants, valString(v))
					return nil
				})
			}
		})
		return ev, err
	case "message", "message_received":
		var ev MessageReceived
		err := eachMemberLenient(data, func(key, val []byte) {
			switch string(key) {
			case "origin":
				ev.Origin = valString(val)
			case "type":
				ev.Type = valString(val)
			case "payload":
				ev.Payload = valString(val)
			case "uuid":
				ev.UUID = valString(val)
			case "direct":
				ev.Direct = valBool(val)
			}
		})
		return ev, err
	case "stage":
		var ev StageChanged
		err := eachElement(data, func(v []byte) error {
			var e StageEntry
			err := eachMember(v, func(key, val []byte) error {
				switch string(key) {
				case "stage_index":
					e.Index = int(valInt(val))
				case "participant_uuid":
					e.ParticipantUUID = valString(val)
				case "vad":
					e.VAD = int(valInt(val))
				}
				return nil
			})
			if err == nil {
				ev.Entries = append(ev.Entries, e)
			}
			return nil
		})
		if err != nil && isNull(data) {
			err = nil
		}
		return ev, err
	case "call_disconnected":
		var ev CallDisconnected
		err := eachMemberLenient(data, func(key, val []byte) {
			switch string(key) {
			case "call_uuid":
				ev.CallUUID = valString(val)
			case "reason":
				ev.Reason = valString(val)
			}
		})
		return ev, err
	case "disconnect":
		var ev Disconnected
		err := eachMemberLenient(data, func(key, val []byte) {
			if string(key) == "reason" {
				ev.Reason = valString(val)
			}
		})
		return ev, err
	case "bye":
		return Bye{}, nil
	case "refresh_token":
		return RefreshTokenRequested{}, nil
	}
	return nil, nil
}

// eachMemberLenient is eachMember for events whose body is optional: null or empty data is an
// object without members.
func eachMemberLenient(data []byte, fn func(key, val []byte)) error {
	if isNull(data) {
		return nil
	}
	return eachMember(data, func(key, val []byte) error {
		fn(key, val)
		return nil
	})
}

func isNull(data []byte) bool {
	t := trimSpace(data)
	return len(t) == 0 || string(t) == "null"
}
