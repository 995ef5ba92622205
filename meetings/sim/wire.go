package sim

import (
	"encoding/json"
	"net/http"
)

// wireParticipant is the participant object as the platform sends it, mixed encodings included:
// some flags are JSON booleans, others the strings "YES"/"NO".
type wireParticipant struct {
	APIURL                string `json:"api_url"`
	CallDirection         string `json:"call_direction"`
	DisplayName           string `json:"display_name"`
	Encryption            string `json:"encryption"`
	HasMedia              bool   `json:"has_media"`
	IsAudioOnlyCall       string `json:"is_audio_only_call"`
	IsExternal            bool   `json:"is_external"`
	IsMuted               string `json:"is_muted"`
	IsPresenting          string `json:"is_presenting"`
	IsStreamingConference bool   `json:"is_streaming_conference"`
	IsVideoCall           string `json:"is_video_call"`
	IsVideoMuted          bool   `json:"is_video_muted"`
	LocalAlias            string `json:"local_alias"`
	OverlayText           string `json:"overlay_text"`
	PresentationSupported string `json:"presentation_supported"`
	Protocol              string `json:"protocol"`
	Role                  string `json:"role"`
	RxPresentationPolicy  string `json:"rx_presentation_policy"`
	ServiceType           string `json:"service_type"`
	Spotlight             int64  `json:"spotlight"`
	StartTime             int64  `json:"start_time"`
	URI                   string `json:"uri"`
	UUID                  string `json:"uuid"`
	Vendor                string `json:"vendor"`
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

func toWire(p *Participant, cfg RoomConfig) wireParticipant {
	alias := cfg.Alias
	if alias == "" {
		alias = cfg.Number
	}
	policy := "ALLOW"
	if !p.RxPresentationAllowed {
		policy = "DENY"
	}
	media := p.Protocol != "api"
	return wireParticipant{
		APIURL:                "/participants/" + p.UUID,
		CallDirection:         p.CallDirection,
		DisplayName:           p.Name,
		Encryption:            "On",
		HasMedia:              media,
		IsAudioOnlyCall:       yesNo(p.Protocol == "phone"),
		IsExternal:            p.Protocol == "mssip",
		IsMuted:               yesNo(p.Muted),
		IsPresenting:          yesNo(p.Presenting),
		IsStreamingConference: p.Protocol == "rtmp",
		IsVideoCall:           yesNo(media && p.Protocol != "phone"),
		IsVideoMuted:          p.VideoMuted,
		LocalAlias:            alias,
		OverlayText:           p.Name,
		PresentationSupported: yesNo(media),
		Protocol:              p.Protocol,
		Role:                  p.Role,
		RxPresentationPolicy:  policy,
		ServiceType:           p.ServiceType,
		Spotlight:             p.Spotlight,
		StartTime:             p.StartTime,
		URI:                   p.URI,
		UUID:                  p.UUID,
		Vendor:                p.Vendor,
	}
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
