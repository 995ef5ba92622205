package sim

import (
	"encoding/json"
	"net/http"
)

// wireParticipant is the participant object as a current node sends it, mixed encodings
// included: some flags are JSON booleans, others the strings "YES"/"NO". It carries the page's
// fields and every field Pexip's schema (@pexip/infinity-api 20.0.0, participants 200) requires;
// the pointer fields are the optional ones a rich room adds.
type wireParticipant struct {
	APIURL                string       `json:"api_url"`
	BuzzTime              int64        `json:"buzz_time"`
	CallDirection         string       `json:"call_direction"`
	DisconnectSupported   string       `json:"disconnect_supported"`
	DisplayName           string       `json:"display_name"`
	Encryption            string       `json:"encryption"`
	ExternalNodeUUID      string       `json:"external_node_uuid"`
	FECCSupported         string       `json:"fecc_supported"`
	HasMedia              bool         `json:"has_media"`
	IsAudioOnlyCall       string       `json:"is_audio_only_call"`
	IsExternal            bool         `json:"is_external"`
	IsMuted               string       `json:"is_muted"`
	IsPresenting          string       `json:"is_presenting"`
	IsStreamingConference bool         `json:"is_streaming_conference"`
	IsVideoCall           string       `json:"is_video_call"`
	IsVideoMuted          bool         `json:"is_video_muted"`
	IsVideoSilent         bool         `json:"is_video_silent"`
	LocalAlias            string       `json:"local_alias"`
	MuteSupported         string       `json:"mute_supported"`
	OverlayText           string       `json:"overlay_text"`
	PresentationSupported string       `json:"presentation_supported"`
	Protocol              string       `json:"protocol"`
	Role                  string       `json:"role"`
	RxPresentationPolicy  string       `json:"rx_presentation_policy"`
	ServiceType           string       `json:"service_type"`
	Spotlight             int64        `json:"spotlight"`
	StartTime             int64        `json:"start_time"`
	SupportsDirectChat    bool         `json:"supports_direct_chat"`
	TransferSupported     string       `json:"transfer_supported"`
	URI                   string       `json:"uri"`
	UUID                  string       `json:"uuid"`
	Vendor                string       `json:"vendor"`
	CanReceivePersonalMix bool         `json:"can_receive_personal_mix"`
	ReceiveFromVideoMix   wireVideoMix `json:"receive_from_video_mix"`

	// Optional fields, sent by rich rooms only.
	CallTag                *string `json:"call_tag,omitempty"`
	IsClientMuted          *bool   `json:"is_client_muted,omitempty"`
	IsConjoined            *bool   `json:"is_conjoined,omitempty"`
	IsIdpAuthenticated     *bool   `json:"is_idp_authenticated,omitempty"`
	IsTransferring         *bool   `json:"is_transferring,omitempty"`
	IsMainVideoDroppedOut  *bool   `json:"is_main_video_dropped_out,omitempty"`
	NeedsPresentationInMix *bool   `json:"needs_presentation_in_mix,omitempty"`
	// LastSpokenTime is in the participants answer only: Pexip's event type omits it.
	LastSpokenTime *int64 `json:"last_spoken_time,omitempty"`
}

// wireVideoMix is receive_from_video_mix: the video mix a participant sees.
type wireVideoMix struct {
	MixName   string `json:"mix_name"`
	Timestamp int64  `json:"timestamp"`
}

// wireProtocol is the protocol a participant object reports. A phone call reaches the node over
// SIP (through a gateway), so the object says "sip"; Pexip's schema has no "phone" protocol.
func wireProtocol(protocol string) string {
	if protocol == "phone" {
		return "sip"
	}
	return protocol
}

func ptr[T any](v T) *T { return &v }

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// toWire renders p as cfg's node sends it; list is set for the participants answer (which may
// carry fields an event does not).
func toWire(p *Participant, cfg RoomConfig, list bool) wireParticipant {
	alias := cfg.Alias
	if alias == "" {
		alias = cfg.Number
	}
	policy := "ALLOW"
	if !p.RxPresentationAllowed {
		policy = "DENY"
	}
	media := p.Protocol != "api"
	w := wireParticipant{
		APIURL:                "/participants/" + p.UUID,
		CallDirection:         p.CallDirection,
		DisconnectSupported:   yesNo(!p.NoDisconnect),
		DisplayName:           p.Name,
		Encryption:            "On",
		FECCSupported:         yesNo(p.Protocol == "sip" || p.Protocol == "h323"),
		HasMedia:              media,
		IsAudioOnlyCall:       yesNo(p.Protocol == "phone"),
		IsExternal:            p.Protocol == "mssip",
		IsMuted:               yesNo(p.Muted),
		IsPresenting:          yesNo(p.Presenting),
		IsStreamingConference: p.Streaming,
		IsVideoCall:           yesNo(media && p.Protocol != "phone"),
		IsVideoMuted:          p.VideoMuted,
		LocalAlias:            alias,
		MuteSupported:         yesNo(!p.NoMute),
		OverlayText:           p.Name,
		PresentationSupported: yesNo(media && p.Protocol != "phone"),
		Protocol:              wireProtocol(p.Protocol),
		Role:                  p.Role,
		RxPresentationPolicy:  policy,
		ServiceType:           p.ServiceType,
		Spotlight:             p.Spotlight,
		StartTime:             p.StartTime,
		SupportsDirectChat:    p.Protocol == "webrtc" || p.Protocol == "api",
		TransferSupported:     yesNo(!p.NoTransfer),
		URI:                   p.URI,
		UUID:                  p.UUID,
		Vendor:                p.Vendor,
		CanReceivePersonalMix: false,
		ReceiveFromVideoMix:   wireVideoMix{MixName: "main", Timestamp: p.StartTime},
	}
	if cfg.Rich {
		w.CallTag = ptr("")
		w.IsClientMuted = ptr(false)
		w.IsConjoined = ptr(false)
		w.IsIdpAuthenticated = ptr(false)
		w.IsTransferring = ptr(false)
		w.IsMainVideoDroppedOut = ptr(false)
		w.NeedsPresentationInMix = ptr(false)
		if list {
			w.LastSpokenTime = ptr(p.LastSpoke)
		}
	}
	return w
}

// reply writes the platform's answer shape: {"status": "success", "result": result}. The
// platform answers most errors with "status": "success" too (clarification 6).
func reply(w http.ResponseWriter, status int, result any) {
	b, err := json.Marshal(map[string]any{"status": "success", "result": result})
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"status":"error","result":"sim: cannot encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeJSON writes v as a JSON body (the control surface and checkJoin).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"sim: cannot encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
