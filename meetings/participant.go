package meetings

import (
	"errors"
	"fmt"
)

// Participant is one person or endpoint in a meeting, as the participants command and the
// participant_create/participant_update events describe it (API section 6). Its fields are all
// comparable, so two snapshots can be compared with ==.
type Participant struct {
	UUID          string
	DisplayName   string
	Role          string // "chair" (host) or "guest"
	ServiceType   string // "connecting", "waiting_room", "ivr", "conference", "gateway"
	CallDirection string // "in" or "out"
	Protocol      string
	URI           string
	LocalAlias    string
	OverlayText   string
	Vendor        string
	Encryption    string // "On" or "Off"

	IsMuted               bool
	IsPresenting          bool
	IsAudioOnly           bool
	IsVideoCall           bool
	IsExternal            bool
	IsStreaming           bool // is_streaming_conference: a streaming or recording participant
	HasMedia              bool
	PresentationSupported bool
	IsVideoMuted          bool // newer nodes only
	RxPresentationAllowed bool // rx_presentation_policy ALLOW (the default when absent)

	// What the node does not let a host do to this participant (mute_supported,
	// disconnect_supported, transfer_supported false). Newer nodes send the flags; older nodes
	// and the vendor page allow every command on everyone, so these are false when the node does
	// not say, and a Participant made without them (a saved roster) allows everything. A command
	// the node says it does not support is refused before it is sent.
	NoMute        bool
	NoDisconnect  bool
	NoTransfer    bool
	FECCSupported bool // far-end camera control; false when absent, as Pexip's client reads it

	IsVideoSilent      bool   // is_video_silent: the camera sends a still or black picture
	SupportsDirectChat bool   // supports_direct_chat: can receive private messages
	ExternalNodeUUID   string // external_node_uuid: the node hosting this participant, when not this one

	Spotlight int64 // 0, or the UNIX second it was spotlighted
	StartTime int64 // UNIX second it joined
	BuzzTime  int64 // buzz_time: the UNIX second a hand was raised, 0 when none
}

// IsHost reports whether p has the chair (host) role.
func (p Participant) IsHost() bool { return equalFoldStr(p.Role, "chair") }

// Waiting reports whether p waits in the waiting room of a locked meeting for a host to admit them.
func (p Participant) Waiting() bool { return equalFoldStr(p.ServiceType, "waiting_room") }

// transferRole is the role word transfer takes. Pexip's schema for transfer allows only "host"
// and "guest" (unlike role and dial, which take "chair"), so our "chair" is sent as "host".
func transferRole(role string) string {
	if equalFoldStr(role, "chair") || equalFoldStr(role, "host") {
		return "host"
	}
	return role
}

var errNoUUID = errors.New("participant without uuid")

// DecodeParticipant decodes a participant object leniently (clarification 9): flags may be
// booleans or "YES"/"NO" strings, numbers may be strings or floats, unknown fields are ignored.
// It fails only when data is not one JSON object or the object has no uuid.
func DecodeParticipant(data []byte) (Participant, error) {
	p := Participant{RxPresentationAllowed: true}
	m := members{data: data}
	for m.next() {
		key, val := m.key, m.val
		switch string(key) {
		case "uuid":
			p.UUID = valString(val)
		case "display_name":
			p.DisplayName = valString(val)
		case "role":
			p.Role = internString(val)
		case "service_type":
			p.ServiceType = internString(val)
		case "call_direction":
			p.CallDirection = internString(val)
		case "protocol":
			p.Protocol = internString(val)
		case "uri":
			p.URI = valString(val)
		case "local_alias":
			p.LocalAlias = valString(val)
		case "overlay_text":
			p.OverlayText = valString(val)
		case "vendor":
			p.Vendor = valString(val)
		case "encryption":
			p.Encryption = internString(val)
		case "is_muted":
			p.IsMuted = valBool(val)
		case "is_presenting":
			p.IsPresenting = valBool(val)
		case "is_audio_only_call":
			p.IsAudioOnly = valBool(val)
		case "is_video_call":
			p.IsVideoCall = valBool(val)
		case "is_external":
			p.IsExternal = valBool(val)
		case "is_streaming_conference":
			p.IsStreaming = valBool(val)
		case "has_media":
			p.HasMedia = valBool(val)
		case "presentation_supported":
			p.PresentationSupported = valBool(val)
		case "is_video_muted":
			p.IsVideoMuted = valBool(val)
		case "rx_presentation_policy":
			if s := internString(val); s != "" {
				p.RxPresentationAllowed = !equalFoldStr(s, "DENY")
			}
		case "mute_supported":
			p.NoMute = !valBool(val)
		case "disconnect_supported":
			p.NoDisconnect = !valBool(val)
		case "transfer_supported":
			p.NoTransfer = !valBool(val)
		case "fecc_supported":
			p.FECCSupported = valBool(val)
		case "is_video_silent":
			p.IsVideoSilent = valBool(val)
		case "supports_direct_chat":
			p.SupportsDirectChat = valBool(val)
		case "external_node_uuid":
			p.ExternalNodeUUID = valString(val)
		case "buzz_time":
			p.BuzzTime = valInt(val)
		case "spotlight":
			p.Spotlight = valInt(val)
		case "start_time":
			p.StartTime = valInt(val)
		}
	}
	if err := m.err; err != nil {
		return Participant{}, fmt.Errorf("decode participant: %w", err)
	}
	if p.UUID == "" {
		return Participant{}, fmt.Errorf("decode participant: %w", errNoUUID)
	}
	return p, nil
}
