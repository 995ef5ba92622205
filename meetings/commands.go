package meetings

import (
	"context"
	"net/http"
	"net/url"
)

// ServiceStatus is the answer of service_status: the meeting's lock and guests-muted state.
type ServiceStatus struct {
	Locked      bool
	GuestsMuted bool
	Started     bool // false while the meeting waits for a host; true when the node does not say
}

// LayoutOverride is one entry of override_layout (API section 4).
type LayoutOverride struct {
	Audience          string   // "hosts" for hosts, "" for guests
	Actors            []string // uuids to show; empty means anyone
	VADBackfill       bool     // fill places of departed actors by voice activity
	Layout            string   // "1:0", "4:0", "1:7", "1:21", "2:21"
	PlusN             string   // "off" or "auto"; empty means "off" with actors, "auto" without
	ActorsOverlayText string   // empty means "auto"
}

// The values of DialRequest.KeepConferenceAlive (API section 4): whether the meeting goes on
// when every other participant that was not dialled automatically has left.
const (
	// KeepAlive keeps the meeting until this participant leaves (hosts only); the platform's
	// default for a normal participant.
	KeepAlive = "keep_conference_alive"
	// KeepAliveIfMultiple keeps it while two or more such participants, one a host, remain.
	KeepAliveIfMultiple = "keep_conference_alive_if_multiple"
	// KeepAliveNever ends the meeting when only this participant would be left; the platform's
	// default for a streaming participant, and what a recorder should ask for so that it never
	// holds an empty meeting open.
	KeepAliveNever = "keep_conference_alive_never"
)

// ProtocolRTMP is the dial protocol of recorders and live streams (API section 4).
const ProtocolRTMP = "rtmp"

// DialRequest is the body of dial (API section 4). Destination, Protocol and Role are required;
// the rest is optional and left out when empty.
//
// A recording or live stream is an RTMP dial with Streaming set: Destination is the rtmp:// or
// rtmps:// URL to push to (it usually carries a stream key, a secret), PresentationURL an
// optional second URL for the presentation stream, KeepConferenceAlive KeepAliveNever, and
// RemoteDisplayName the name the participant list shows (without it the platform shows the
// destination, stream key and all).
type DialRequest struct {
	Destination         string
	Protocol            string // sip, h323, rtmp, mssip, phone, auto
	Role                string // "guest" or "chair"
	PresentationURL     string // RTMP only: where the presentation (second) stream goes
	Streaming           bool   // RTMP only: a streaming (recording, live) call; sent as "yes"
	DTMFSequence        string
	SourceDisplayName   string
	Source              string
	CallType            string // video, video-only, audio
	KeepConferenceAlive string // KeepAlive, KeepAliveIfMultiple or KeepAliveNever; empty for the platform's default
	RemoteDisplayName   string // the name in the participant list
}

// check refuses, before anything is sent, what the page allows only for RTMP and keep-alive
// values it does not list. Its errors never carry the destination, which may hold a stream key.
func (d DialRequest) check() error {
	const op = "dial"
	rtmp := equalFoldStr(d.Protocol, ProtocolRTMP)
	switch {
	case d.Streaming && !rtmp:
		return &Error{Op: op, Reason: "streaming is for RTMP dials only", Kind: ErrBadRequest}
	case d.PresentationURL != "" && !rtmp:
		return &Error{Op: op, Reason: "presentation_url is for RTMP dials only", Kind: ErrBadRequest}
	}
	switch d.KeepConferenceAlive {
	case "", KeepAlive, KeepAliveIfMultiple, KeepAliveNever:
		return nil
	}
	return &Error{Op: op, Reason: "unknown keep_conference_alive value", Kind: ErrBadRequest}
}

// TransferRequest moves a participant to another room with a role and that room's PIN.
type TransferRequest struct {
	Room string // the other room's number or alias
	PIN  string
	Role string // "chair" or "guest"
}

// CallRequest is the body of a participant's calls command: a WebRTC sub-call with an SDP offer,
// or an RTMP one.
type CallRequest struct {
	CallType  string // "WEBRTC" or "RTMP"
	SDP       string // WebRTC
	Present   string // RTMP: "send" or "receive" for a presentation channel; empty for main
	Streaming bool   // RTMP
	Bandwidth int    // RTMP: maximum bandwidth; 0 for the default
}

// CallResult is the answer of calls: the new call's uuid and, for WebRTC, the SDP answer (send an
// ack for the call before media flows), for RTMP the URLs to push to.
type CallResult struct {
	CallUUID  string
	SDP       string
	URL       string
	SecureURL string
}

// Status returns the meeting's lock and guests-muted state (service_status).
func (s *Session) Status(ctx context.Context) (ServiceStatus, error) {
	const op = "service_status"
	result, err := s.call(ctx, op, http.MethodGet, op, nil, retrySafe)
	if err != nil {
		return ServiceStatus{}, err
	}
	st := ServiceStatus{Started: true}
	if err := eachMember(result, func(key, val []byte) error {
		switch string(key) {
		case "locked":
			st.Locked = valBool(val)
		case "guests_muted":
			st.GuestsMuted = valBool(val)
		case "started":
			st.Started = valBool(val)
		}
		return nil
	}); err != nil {
		return ServiceStatus{}, refusal(op, http.StatusOK, result)
	}
	return st, nil
}

// Lock locks the meeting: new guests wait until a host admits them (host only).
func (s *Session) Lock(ctx context.Context) error {
	return s.command(ctx, "lock", "lock", nil, retrySafe)
}

// Unlock unlocks the meeting (host only).
func (s *Session) Unlock(ctx context.Context) error {
	return s.command(ctx, "unlock", "unlock", nil, retrySafe)
}

// StartService starts the meeting and admits every waiting guest (start_service, host only). A
// private-cloud node answers without effect.
func (s *Session) StartService(ctx context.Context) error {
	return s.command(ctx, "start_service", "start_service", nil, retrySafe)
}

// MuteGuests mutes every guest (host only).
func (s *Session) MuteGuests(ctx context.Context) error {
	return s.command(ctx, "muteguests", "muteguests", nil, retrySafe)
}

// UnmuteGuests unmutes every guest (host only).
func (s *Session) UnmuteGuests(ctx context.Context) error {
	return s.command(ctx, "unmuteguests", "unmuteguests", nil, retrySafe)
}

// DisconnectAll disconnects everyone, this session included: it ends the meeting (conference
// disconnect, host only).
func (s *Session) DisconnectAll(ctx context.Context) error {
	return s.command(ctx, "disconnect", "disconnect", nil, retrySafe)
}

// SendMessage sends a plain-text chat message to everyone (message). It is not repeated after a
// failure without a clear answer: that is ErrOutcomeUnknown.
func (s *Session) SendMessage(ctx context.Context, text string) error {
	return s.command(ctx, "message", "message", map[string]string{"type": "text/plain", "payload": text}, retryNever)
}

// Participants returns the participant list (participants). Entries without a uuid are skipped.
func (s *Session) Participants(ctx context.Context) ([]Participant, error) {
	const op = "participants"
	result, err := s.call(ctx, op, http.MethodGet, op, nil, retrySafe)
	if err != nil {
		return nil, err
	}
	var ps []Participant
	if isNull(result) {
		return ps, nil
	}
	err = eachElement(result, func(val []byte) error {
		p, err := DecodeParticipant(val)
		if err != nil {
			s.log.Warn("participant list entry skipped", "err", err)
			return nil
		}
		ps = append(ps, p)
		return nil
	})
	if err != nil {
		return nil, refusal(op, http.StatusOK, result)
	}
	return ps, nil
}

// OverrideLayout sets the layout for hosts and/or guests (override_layout, host only; public
// cloud only).
func (s *Session) OverrideLayout(ctx context.Context, layouts ...LayoutOverride) error {
	type layout struct {
		Audience          string   `json:"audience"`
		Actors            []string `json:"actors"`
		VADBackfill       bool     `json:"vad_backfill"`
		Layout            string   `json:"layout"`
		PlusN             string   `json:"plus_n"`
		ActorsOverlayText string   `json:"actors_overlay_text"`
	}
	body := struct {
		Layouts []layout `json:"layouts"`
	}{Layouts: make([]layout, 0, len(layouts))}
	for _, l := range layouts {
		e := layout(l)
		if e.Actors == nil {
			e.Actors = []string{}
		}
		if e.PlusN == "" {
			e.PlusN = "auto"
			if len(e.Actors) > 0 {
				e.PlusN = "off"
			}
		}
		if e.ActorsOverlayText == "" {
			e.ActorsOverlayText = "auto"
		}
		body.Layouts = append(body.Layouts, e)
	}
	return s.command(ctx, "override_layout", "override_layout", body, retrySafe)
}

// Dial calls an endpoint or user into the meeting (dial, host only) and returns the new
// participants' uuids (normally one). The participant shows up at once as "connecting", becomes
// "conference" when the call is answered, and is removed when it is not answered within 30 s.
// Streaming or PresentationURL on a dial that is not RTMP, and a KeepConferenceAlive value the
// page does not list, are refused with ErrBadRequest before anything is sent. A dial
// is not repeated after a failure without a clear answer (a 5xx, a dropped connection, a
// deadline): that is ErrOutcomeUnknown, and the caller should look at the participant list.
func (s *Session) Dial(ctx context.Context, d DialRequest) ([]string, error) {
	const op = "dial"
	if err := d.check(); err != nil {
		return nil, err
	}
	body := struct {
		Role                string `json:"role"`
		Destination         string `json:"destination"`
		Protocol            string `json:"protocol"`
		PresentationURL     string `json:"presentation_url,omitempty"`
		Streaming           string `json:"streaming,omitempty"`
		DTMFSequence        string `json:"dtmf_sequence,omitempty"`
		SourceDisplayName   string `json:"source_display_name,omitempty"`
		Source              string `json:"source,omitempty"`
		CallType            string `json:"call_type,omitempty"`
		KeepConferenceAlive string `json:"keep_conference_alive,omitempty"`
		RemoteDisplayName   string `json:"remote_display_name,omitempty"`
	}{d.Role, d.Destination, d.Protocol, d.PresentationURL, "", d.DTMFSequence, d.SourceDisplayName,
		d.Source, d.CallType, d.KeepConferenceAlive, d.RemoteDisplayName}
	if d.Streaming {
		body.Streaming = "yes"
	}
	result, err := s.call(ctx, op, http.MethodPost, op, body, retryNever)
	if err != nil {
		return nil, err
	}
	if err := resultBool(op, result); err != nil {
		return nil, err
	}
	var uuids []string
	if err := eachElement(result, func(val []byte) error {
		if u := valString(val); u != "" {
			uuids = append(uuids, u)
		}
		return nil
	}); err != nil {
		return nil, refusal(op, http.StatusOK, result)
	}
	return uuids, nil
}

// Kick disconnects a participant (participant disconnect, host only).
func (s *Session) Kick(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "disconnect", nil, retrySafe)
}

// Mute mutes a participant's audio (host only). On a private-cloud node it mutes everyone but the
// chair and the current speaker.
func (s *Session) Mute(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "mute", nil, retrySafe)
}

// Unmute unmutes a participant's audio (host only).
func (s *Session) Unmute(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "unmute", nil, retrySafe)
}

// VideoMute stops a participant's video (hard_vmute, host only).
func (s *Session) VideoMute(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "hard_vmute", nil, retrySafe)
}

// VideoUnmute allows a participant's video again (hard_uvmute, host only).
func (s *Session) VideoUnmute(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "hard_uvmute", nil, retrySafe)
}

// CancelDelay cancels a participant's delay (cancel_delay, host only).
func (s *Session) CancelDelay(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "cancel_delay", nil, retrySafe)
}

// ResumeDelay resumes a participant's delay (resume_delay, host only).
func (s *Session) ResumeDelay(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "resume_delay", nil, retrySafe)
}

// AllowPresentation lets a participant receive the presentation stream (allowrxpresentation).
func (s *Session) AllowPresentation(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "allowrxpresentation", nil, retrySafe)
}

// DenyPresentation stops a participant receiving the presentation stream (denyrxpresentation).
func (s *Session) DenyPresentation(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "denyrxpresentation", nil, retrySafe)
}

// SpotlightOn pins a participant in the layout (spotlighton, host only; public cloud only).
func (s *Session) SpotlightOn(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "spotlighton", nil, retrySafe)
}

// SpotlightOff unpins a participant (spotlightoff, host only; public cloud only).
func (s *Session) SpotlightOff(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "spotlightoff", nil, retrySafe)
}

// Admit lets a waiting guest into the locked meeting (participant unlock, host only).
func (s *Session) Admit(ctx context.Context, uuid string) error {
	return s.participant(ctx, uuid, "unlock", nil, retrySafe)
}

// SendDTMF sends DTMF digits to a participant (dtmf, host only). It is not repeated after a
// failure without a clear answer: that is ErrOutcomeUnknown.
func (s *Session) SendDTMF(ctx context.Context, uuid, digits string) error {
	return s.participant(ctx, uuid, "dtmf", map[string]string{"digits": digits}, retryNever)
}

// SetRole changes a participant's role to "chair" or "guest" (role, host only).
func (s *Session) SetRole(ctx context.Context, uuid, role string) error {
	return s.participant(ctx, uuid, "role", map[string]string{"role": role}, retrySafe)
}

// Transfer moves a participant to another room with a role and that room's PIN (transfer, host
// only). It is not repeated after a failure without a clear answer: that is ErrOutcomeUnknown.
func (s *Session) Transfer(ctx context.Context, uuid string, t TransferRequest) error {
	body := struct {
		Role  string `json:"role"`
		Alias string `json:"conference_alias"`
		PIN   string `json:"pin,omitempty"`
	}{transferRole(t.Role), t.Room, t.PIN}
	return s.participant(ctx, uuid, "transfer", body, retryNever)
}

// AddCall adds a media channel (sub-call) for a WebRTC or RTMP participant (calls). It is not
// repeated after a failure without a clear answer: that is ErrOutcomeUnknown.
func (s *Session) AddCall(ctx context.Context, uuid string, c CallRequest) (CallResult, error) {
	const op = "calls"
	body := struct {
		CallType  string `json:"call_type"`
		SDP       string `json:"sdp,omitempty"`
		Present   string `json:"present,omitempty"`
		Streaming *bool  `json:"streaming,omitempty"`
		Bandwidth int    `json:"bandwidth,omitempty"`
	}{CallType: c.CallType, SDP: c.SDP, Present: c.Present, Bandwidth: c.Bandwidth}
	if c.Streaming || equalFoldStr(c.CallType, "RTMP") {
		body.Streaming = &c.Streaming
	}
	result, err := s.call(ctx, op, http.MethodPost, participantPath(uuid, op), body, retryNever)
	if err != nil {
		return CallResult{}, err
	}
	var r CallResult
	if err := eachMember(result, func(key, val []byte) error {
		switch string(key) {
		case "call_uuid":
			r.CallUUID = valString(val)
		case "sdp":
			r.SDP = valString(val)
		case "url":
			r.URL = valString(val)
		case "secure_url":
			r.SecureURL = valString(val)
		}
		return nil
	}); err != nil || r.CallUUID == "" {
		return CallResult{}, refusal(op, http.StatusOK, result)
	}
	return r, nil
}

// AckCall acknowledges a WebRTC sub-call that AddCall created, so media starts to flow.
// An ack is not repeated after a failure without a clear answer (ErrOutcomeUnknown).
func (s *Session) AckCall(ctx context.Context, uuid, callUUID string) error {
	return s.subCall(ctx, uuid, callUUID, "ack", retryNever)
}

// DisconnectCall ends a sub-call that AddCall created; the platform then sends call_disconnected.
func (s *Session) DisconnectCall(ctx context.Context, uuid, callUUID string) error {
	return s.subCall(ctx, uuid, callUUID, "disconnect", retrySafe)
}

func (s *Session) subCall(ctx context.Context, uuid, callUUID, cmd string, policy retryPolicy) error {
	op := "calls/" + cmd
	if uuid == "" || callUUID == "" {
		return &Error{Op: op, Reason: "no participant or call uuid", Kind: ErrBadRequest}
	}
	result, err := s.call(ctx, op, http.MethodPost, participantPath(uuid, "calls")+"/"+url.PathEscape(callUUID)+"/"+cmd, nil, policy)
	if err != nil {
		return err
	}
	return resultBool(op, result)
}

// PresentationJPEG fetches the presentation frame of a presentation_frame event, by the event's
// id (clarification 3).
func (s *Session) PresentationJPEG(ctx context.Context, eventID string) ([]byte, error) {
	const op = "presentation.jpeg"
	var image []byte
	err := s.c.observe(op, func() error {
		var inv invalidTokens
		for {
			var gen uint64
			resp, err := s.c.send(ctx, op, retrySafe, func() (*http.Request, func(), error) {
				t, release, err := s.acquire(ctx, op)
				if err != nil {
					return nil, nil, err
				}
				gen = t.gen
				q := url.Values{"id": {eventID}, "token": {t.token}}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+op+"?"+q.Encode(), nil)
				if err != nil {
					release()
					return nil, nil, err
				}
				return req, release, nil
			})
			if err != nil {
				return err
			}
			if e := classify(op, resp.status, resultOf(resp.body)); e != nil {
				if e.Kind == ErrInvalidToken {
					if again, err := inv.retry(ctx, s, op, gen); again {
						continue
					} else if err != nil {
						return err
					}
				}
				return e
			}
			image = resp.body
			return nil
		}
	})
	return image, err
}

// command runs a conference command whose result is true or false.
func (s *Session) command(ctx context.Context, op, path string, body any, policy retryPolicy) error {
	result, err := s.call(ctx, op, http.MethodPost, path, body, policy)
	if err != nil {
		return err
	}
	return resultBool(op, result)
}

// participant runs a participant command whose result is true or false.
func (s *Session) participant(ctx context.Context, uuid, op string, body any, policy retryPolicy) error {
	if uuid == "" {
		return &Error{Op: op, Reason: "no participant uuid", Kind: ErrBadRequest}
	}
	result, err := s.call(ctx, op, http.MethodPost, participantPath(uuid, op), body, policy)
	if err != nil {
		return err
	}
	return resultBool(op, result)
}

func participantPath(uuid, op string) string {
	return "participants/" + url.PathEscape(uuid) + "/" + op
}

// resultBool reads a command's result: false (or "false") is ErrRefused, a string is a refusal
// with that reason (clarification 6), anything else is success (a private node may answer 200
// without a result).
func resultBool(op string, result []byte) error {
	t := trimSpace(result)
	switch {
	case string(t) == "false":
		return &Error{Op: op, Status: http.StatusOK, Reason: "refused", Kind: ErrRefused}
	case len(t) > 0 && t[0] == '"':
		s, _ := jsonString(t)
		switch {
		case truthy(s):
			return nil
		case equalFoldStr(s, "false") || equalFoldStr(s, "no"):
			return &Error{Op: op, Status: http.StatusOK, Reason: "refused", Kind: ErrRefused}
		}
		if s == "" {
			s = "refused"
		}
		return &Error{Op: op, Status: http.StatusOK, Reason: s, Kind: ErrRefused}
	}
	return nil
}
