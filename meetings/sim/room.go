package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Reasons the simulator gives in disconnect events, as the platform's lineage words them.
const (
	ReasonTokenLapsed = "Timer expired awaiting token refresh"
	// ReasonAPIKick: a host kicked this participant through the API (participant disconnect).
	ReasonAPIKick = "API initiated participant disconnect"
	// ReasonHostEnded: a host ended the meeting (conference disconnect, or Room.End).
	ReasonHostEnded = "Conference terminated by a Host participant"
	// ReasonAdmin: an administrator disconnected the participant (Room.AdminDisconnect).
	ReasonAdmin = "Disconnected by an administrator"
	ReasonLeft  = "Participant left the conference"
)

// RoomConfig describes a room (a virtual meeting room).
//
// A room without a HostPIN admits everyone as a host. With a HostPIN, guests are admitted when
// the room has a GuestPIN (which they must give) or when AllowGuest is set and GuestPIN is empty
// (guests then need no PIN: they send "pin: none"). Private makes the room behave like a
// private-cloud node, Rich like the newest public node, which adds every optional field Pexip's
// schemas describe (see the package documentation). WaitForHost makes a meeting that has not
// started: "started" is false until a host with media joins or a host calls start_service.
// NoRecord and NoLive make checkJoin answer isRecord and isLive false (the account may not
// record or stream live); by default both are true, so the demo can record and go live. The
// node itself does not refuse a streaming dial because of them, as the page does not say it
// would: the flags tell a client what to offer.
type RoomConfig struct {
	Number      string `json:"number,omitempty"` // all-digit short number; assigned when empty
	Alias       string `json:"alias,omitempty"`  // email-style address or any other name
	Name        string `json:"name,omitempty"`   // the conference name checkJoin reports
	HostPIN     string `json:"host_pin,omitempty"`
	GuestPIN    string `json:"guest_pin,omitempty"`
	AllowGuest  bool   `json:"allow_guest,omitempty"`
	Private     bool   `json:"private,omitempty"`
	Rich        bool   `json:"rich,omitempty"`
	WaitForHost bool   `json:"wait_for_host,omitempty"`
	NoRecord    bool   `json:"no_record,omitempty"` // checkJoin's isRecord false
	NoLive      bool   `json:"no_live,omitempty"`   // checkJoin's isLive false
}

func (c RoomConfig) guestsAllowed() bool { return c.HostPIN == "" || c.GuestPIN != "" || c.AllowGuest }

// ParticipantSpec describes someone who joins through Room.Join.
type ParticipantSpec struct {
	Name     string `json:"name,omitempty"`
	Role     string `json:"role,omitempty"`     // "chair" (or "host") or "guest" (the default)
	Protocol string `json:"protocol,omitempty"` // "webrtc" (the default), "sip", "h323", "rtmp", "mssip", "api", …
	Waiting  bool   `json:"waiting,omitempty"`  // join into the waiting room even when the room is not locked
	// Streaming marks the participant as a streaming or recording one (is_streaming_conference).
	// A ParticipantSpec with protocol "rtmp" is one whether or not it is set.
	Streaming bool `json:"streaming,omitempty"`
	// Unsupported names the host commands the node refuses for this participant.
	Unsupported Unsupported `json:"unsupported,omitzero"`
}

// Unsupported names the host commands a node does not support for a participant: the node
// reports mute_supported, disconnect_supported and transfer_supported "NO" for each, and answers
// result false to mute/unmute, participant disconnect and transfer of that participant.
type Unsupported struct {
	Mute       bool `json:"mute,omitempty"`
	Disconnect bool `json:"disconnect,omitempty"`
	Transfer   bool `json:"transfer,omitempty"`
}

// Participant is the simulator's view of one participant. It is a copy: changing it changes
// nothing in the room.
type Participant struct {
	UUID                  string   `json:"uuid,omitempty"`
	Name                  string   `json:"name,omitempty"`
	Role                  string   `json:"role,omitempty"` // "chair" or "guest"
	Protocol              string   `json:"protocol,omitempty"`
	ServiceType           string   `json:"service_type,omitempty"`   // "connecting", "waiting_room", "conference"
	CallDirection         string   `json:"call_direction,omitempty"` // "in" or "out"
	URI                   string   `json:"uri,omitempty"`
	Vendor                string   `json:"vendor,omitempty"`
	Streaming             bool     `json:"streaming,omitempty"`        // is_streaming_conference: a recorder or live stream
	PresentationURL       string   `json:"presentation_url,omitempty"` // a streaming dial's second stream
	KeepConferenceAlive   string   `json:"keep_conference_alive,omitempty"`
	Muted                 bool     `json:"muted"`
	VideoMuted            bool     `json:"video_muted"`
	Presenting            bool     `json:"presenting"`
	RxPresentationAllowed bool     `json:"rx_presentation_allowed"`
	Delayed               bool     `json:"delayed,omitempty"` // after cancel_delay, until resume_delay
	Spotlight             int64    `json:"spotlight"`         // 0, or the UNIX second it was spotlighted
	StartTime             int64    `json:"start_time"`        // UNIX second it joined
	Hidden                bool     `json:"hidden,omitempty"`  // a session opened with hideme: never listed, never announced
	Session               bool     `json:"session,omitempty"` // a controlling client (a new_session), not a person
	DTMF                  string   `json:"dtmf,omitempty"`    // every digit sent to it, in order
	Calls                 []string `json:"calls,omitempty"`
	NoMute                bool     `json:"no_mute,omitempty"`       // mute_supported "NO"
	NoDisconnect          bool     `json:"no_disconnect,omitempty"` // disconnect_supported "NO"
	NoTransfer            bool     `json:"no_transfer,omitempty"`   // transfer_supported "NO"
	LastSpoke             int64    `json:"last_spoke,omitempty"`    // UNIX second it last spoke

	seq uint64
}

// ChatMessage is one chat message sent in a room.
type ChatMessage struct {
	Origin  string    `json:"origin,omitempty"` // sender's display name
	UUID    string    `json:"uuid,omitempty"`   // sender's participant uuid
	Type    string    `json:"type,omitempty"`   // "text/plain" or "application/json"
	Payload string    `json:"payload,omitempty"`
	To      string    `json:"to,omitempty"` // the recipient's uuid of a direct message, "" for everyone
	Time    time.Time `json:"time,omitempty"`
}

// Layout is one entry of an override_layout request.
type Layout struct {
	Audience          string   `json:"audience"`
	Actors            []string `json:"actors"`
	VADBackfill       bool     `json:"vad_backfill"`
	Layout            string   `json:"layout"`
	PlusN             string   `json:"plus_n"`
	ActorsOverlayText string   `json:"actors_overlay_text"`
}

// RoomState is a snapshot of a room's conference-wide state.
type RoomState struct {
	Locked      bool `json:"locked"`
	GuestsMuted bool `json:"guests_muted"`
	Started     bool `json:"started"`
	// PrivateMuteAll is set on a private room after a participant mute, until an unmute.
	PrivateMuteAll bool          `json:"private_mute_all"`
	Layouts        []Layout      `json:"layouts,omitempty"`
	View           string        `json:"view,omitempty"`
	Messages       []ChatMessage `json:"messages,omitempty"`
	Presenter      string        `json:"presenter,omitempty"` // uuid of the presenter, or ""
	Stage          []string      `json:"stage,omitempty"`     // uuids, latest speaker first
	Sessions       int           `json:"sessions"`            // live tokens
	Streams        int           `json:"streams"`             // open event streams
}

// Room is one simulated meeting room. Its methods are safe for concurrent use.
type Room struct {
	srv *Server

	mu          sync.Mutex
	cfg         RoomConfig
	members     map[string]*member
	sessions    map[string]*session // by current token
	subs        map[*subscriber]struct{}
	locked      bool
	guestsMuted bool
	started     bool
	privMute    bool
	layouts     []Layout
	view        string
	messages    []ChatMessage
	stage       []string
	presenter   string
	slide       int // the slide the presenter shows: 1 at each presentation_start
	nextID      uint64
	seq         uint64
	subsChanged chan struct{} // closed and replaced whenever a stream opens or closes
}

type member struct {
	p     Participant
	sess  *session
	timer *time.Timer // dial answer or dial timeout
	// waitsForHost is set on a guest held in the waiting room because the meeting has not
	// started; the meeting starting admits it.
	waitsForHost bool
}

type session struct {
	token   string
	uuid    string
	name    string
	host    bool
	hidden  bool
	expires time.Time
	timer   *time.Timer
	gen     int
	subs    map[*subscriber]struct{}
	ended   bool
}

// subscriber is one open event stream. Its queue grows only while events wait, so an idle
// stream costs a few words; wake tells the stream's handler there is something to write.
type subscriber struct {
	queue  [][]byte
	wake   chan struct{} // capacity 1
	sess   *session
	closed bool
}

func newSubscriber(sess *session) *subscriber {
	return &subscriber{wake: make(chan struct{}, 1), sess: sess}
}

// take returns what waits for sub and whether sub is closed.
func (r *Room) take(sub *subscriber) ([][]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := sub.queue
	sub.queue = nil
	return q, sub.closed
}

func (sub *subscriber) poke() {
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func newRoom(s *Server, cfg RoomConfig) *Room {
	return &Room{
		srv:      s,
		cfg:      cfg,
		members:  map[string]*member{},
		sessions: map[string]*session{},
		subs:     map[*subscriber]struct{}{},
		view:     "1:7",
		started:  !cfg.WaitForHost,

		subsChanged: make(chan struct{}),
	}
}

// Config returns the room's configuration.
func (r *Room) Config() RoomConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// --- events ---

// frameLocked encodes one server-sent event with the room's next id.
func (r *Room) frameLocked(name string, data any) []byte {
	r.nextID++
	body := []byte("null")
	if data != nil {
		if b, err := json.Marshal(data); err == nil {
			body = b
		}
	}
	var b strings.Builder
	b.Grow(len(name) + len(body) + 32)
	b.WriteString("event: ")
	b.WriteString(name)
	b.WriteString("\nid: ")
	b.WriteString(strconv.FormatUint(r.nextID, 10))
	b.WriteString("\ndata: ")
	b.Write(body)
	b.WriteString("\n\n")
	return []byte(b.String())
}

func (r *Room) broadcastLocked(name string, data any) {
	if len(r.subs) == 0 {
		r.nextID++
		return
	}
	f := r.frameLocked(name, data)
	for sub := range r.subs {
		r.sendLocked(sub, f)
	}
}

// sendLocked queues f for sub without blocking; a subscriber whose buffer is full is dropped
// (its client reconnects and re-syncs).
func (r *Room) sendLocked(sub *subscriber, f []byte) {
	if sub.closed {
		return
	}
	if len(sub.queue) >= r.srv.opts.StreamBuffer {
		r.srv.log.Debug("sim: dropping slow event stream", "room", r.cfg.Number)
		r.closeSubLocked(sub)
		return
	}
	sub.queue = append(sub.queue, f)
	sub.poke()
}

func (r *Room) closeSubLocked(sub *subscriber) {
	if sub.closed {
		return
	}
	sub.closed = true
	sub.poke()
	delete(r.subs, sub)
	delete(sub.sess.subs, sub)
	r.streamsChangedLocked()
}

func (r *Room) wireLocked(p *Participant) wireParticipant {
	return toWire(p, r.cfg, false)
}

func (r *Room) emitJoinLocked(m *member) {
	if m.p.Hidden {
		return
	}
	name := "participant_create"
	if r.cfg.Private {
		name = "participant_update"
	}
	r.broadcastLocked(name, r.wireLocked(&m.p))
}

func (r *Room) emitUpdateLocked(m *member) {
	if m.p.Hidden {
		return
	}
	r.broadcastLocked("participant_update", r.wireLocked(&m.p))
}

func (r *Room) emitServiceLocked() {
	r.broadcastLocked("service_update", r.conferenceStateLocked())
}

// conferenceStateLocked is the body of service_update and the result of service_status: the
// page's locked and guests_muted, Pexip's required started, and in a rich room the optional
// fields a current node adds.
func (r *Room) conferenceStateLocked() map[string]bool {
	st := map[string]bool{"locked": r.locked, "guests_muted": r.guestsMuted, "started": r.started}
	if r.cfg.Rich {
		st["all_muted"] = false
		st["presentation_allowed"] = true
		st["live_captions_available"] = false
		st["direct_media"] = false
		st["breakout_rooms"] = false
		st["guests_can_present"] = true
		st["guests_can_unmute"] = true
	}
	return st
}

// startLocked marks the meeting started, telling the streams when that is news, and admits the
// guests who were waiting for it (not those a lock holds).
func (r *Room) startLocked() {
	if r.started {
		return
	}
	r.started = true
	r.emitServiceLocked()
	for _, p := range r.participantsLocked(true) {
		if mm := r.members[p.UUID]; mm.waitsForHost && mm.p.ServiceType == "waiting_room" && !r.locked {
			mm.waitsForHost = false
			mm.p.ServiceType = "conference"
			r.emitUpdateLocked(mm)
		}
	}
}

func (r *Room) streamsChangedLocked() {
	close(r.subsChanged)
	r.subsChanged = make(chan struct{})
}

// AwaitStreams waits until at least n event streams of the room are open (each registered
// after its sync, so every later event reaches it), or ctx ends.
func (r *Room) AwaitStreams(ctx context.Context, n int) error {
	for {
		r.mu.Lock()
		have, ch := len(r.subs), r.subsChanged
		r.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("await %d event streams (have %d): %w", n, have, ctx.Err())
		case <-ch:
		}
	}
}

// --- membership ---

func normRole(role string) string {
	switch strings.ToLower(role) {
	case "chair", "host":
		return "chair"
	}
	return "guest"
}

// addMemberLocked admits a participant and announces it.
func (r *Room) addMemberLocked(p Participant) *member {
	now := r.srv.now()
	r.seq++
	p.seq = r.seq
	if p.UUID == "" {
		p.UUID = newUUID()
	}
	p.Role = normRole(p.Role)
	if p.StartTime == 0 {
		p.StartTime = now.Unix()
	}
	if p.CallDirection == "" {
		p.CallDirection = "in"
	}
	waitsForHost := false
	if p.ServiceType == "" {
		p.ServiceType = "conference"
		if (r.locked || !r.started) && p.Role == "guest" {
			p.ServiceType = "waiting_room"
			waitsForHost = !r.started && !r.locked
		}
	}
	if p.Role == "guest" && r.guestsMuted {
		p.Muted = true
	}
	if r.privMute && p.Role != "chair" {
		p.Muted = true
	}
	p.RxPresentationAllowed = true
	m := &member{p: p, waitsForHost: waitsForHost}
	r.members[p.UUID] = m
	r.emitJoinLocked(m)
	// A host with media starts the meeting; a controlling client (protocol api) does not, which
	// is what start_service is for.
	if p.Role == "chair" && p.ServiceType == "conference" && p.Protocol != "api" {
		r.startLocked()
	}
	return m
}

// removeMemberLocked removes m, announces it, and ends its session (with reason in the
// session's disconnect event when reason is not empty).
func (r *Room) removeMemberLocked(m *member, reason string) {
	if r.members[m.p.UUID] != m {
		return
	}
	delete(r.members, m.p.UUID)
	if m.timer != nil {
		m.timer.Stop()
	}
	if r.presenter == m.p.UUID {
		r.presenter = ""
		r.broadcastLocked("presentation_stop", nil)
	}
	for i, u := range r.stage {
		if u == m.p.UUID {
			r.stage = append(r.stage[:i], r.stage[i+1:]...)
			break
		}
	}
	if !m.p.Hidden {
		r.broadcastLocked("participant_delete", map[string]string{"uuid": m.p.UUID})
	}
	if m.sess != nil {
		r.endSessionLocked(m.sess, reason)
	}
}

// endSessionLocked invalidates sess's token, sends reason (when not empty) as a disconnect
// event on its streams, closes them, and removes its participant.
func (r *Room) endSessionLocked(sess *session, reason string) {
	if sess.ended {
		return
	}
	sess.ended = true
	delete(r.sessions, sess.token)
	if sess.timer != nil {
		sess.timer.Stop()
	}
	var f []byte
	if reason != "" {
		f = r.frameLocked("disconnect", map[string]string{"reason": reason})
	}
	for sub := range sess.subs {
		if f != nil {
			r.sendLocked(sub, f)
		}
		r.closeSubLocked(sub)
	}
	if m := r.members[sess.uuid]; m != nil {
		r.removeMemberLocked(m, "")
	}
}

func (r *Room) expireAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sess := range r.sessions {
		r.endSessionLocked(sess, ReasonTokenLapsed)
	}
}

// --- control methods ---

// Join makes someone join the room and returns their uuid. A guest joining a locked room (or
// anyone with spec.Waiting) waits in the waiting room until admitted.
func (r *Room) Join(spec ParticipantSpec) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := Participant{Name: spec.Name, Role: spec.Role, Protocol: spec.Protocol, Streaming: spec.Streaming || spec.Protocol == "rtmp"}
	if p.Protocol == "" {
		p.Protocol = "webrtc"
	}
	if p.Name == "" {
		p.Name = "Guest"
	}
	p.URI = uriFor(p.Name, p.Protocol)
	p.Vendor = vendorFor(p.Protocol)
	if spec.Waiting {
		p.ServiceType = "waiting_room"
	}
	p.NoMute, p.NoDisconnect, p.NoTransfer = spec.Unsupported.Mute, spec.Unsupported.Disconnect, spec.Unsupported.Transfer
	return r.addMemberLocked(p).p.UUID
}

// Leave makes the participant leave (a session's participant leaving ends the session). It
// reports whether uuid was present.
func (r *Room) Leave(uuid string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[uuid]
	if m == nil {
		return false
	}
	r.removeMemberLocked(m, ReasonLeft)
	return true
}

// Present starts (on) or stops the participant's presentation. Starting sends
// presentation_start, a participant_update and (public rooms) a presentation_frame; a previous
// presenter stops. It reports whether uuid was present.
func (r *Room) Present(uuid string, on bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[uuid]
	if m == nil {
		return false
	}
	if on {
		if prev := r.members[r.presenter]; prev != nil && prev != m {
			prev.p.Presenting = false
			r.emitUpdateLocked(prev)
		}
		r.presenter = uuid
		r.slide = 1
		m.p.Presenting = true
		r.broadcastLocked("presentation_start", map[string]string{"presenter_name": m.p.Name, "presenter_uri": m.p.URI, "presenter_uuid": m.p.UUID})
		r.emitUpdateLocked(m)
		if !r.cfg.Private {
			r.broadcastLocked("presentation_frame", nil)
		}
		return true
	}
	if !m.p.Presenting {
		return true
	}
	m.p.Presenting = false
	if r.presenter == uuid {
		r.presenter = ""
		r.broadcastLocked("presentation_stop", nil)
	}
	r.emitUpdateLocked(m)
	return true
}

// Frame announces a new presentation frame (presentation_frame) of the same slide when someone
// presents in a public room: a picture that did not change, as a presenter's video sends. It
// reports whether an event was sent.
func (r *Room) Frame() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.presenter == "" || r.cfg.Private {
		return false
	}
	r.broadcastLocked("presentation_frame", nil)
	return true
}

// NextSlide moves the presenter to the next slide and announces its frame; presentation.jpeg
// then serves a different picture. It reports whether an event was sent.
func (r *Room) NextSlide() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.presenter == "" || r.cfg.Private {
		return false
	}
	r.slide++
	r.broadcastLocked("presentation_frame", nil)
	return true
}

// Slide returns the slide number the presenter shows, and false when no one presents.
func (r *Room) Slide() (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.slide, r.presenter != ""
}

// Speak makes the participant the current speaker: a stage event (it first, with vad 100) and
// a layout event follow. It reports whether uuid was present.
func (r *Room) Speak(uuid string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members[uuid] == nil {
		return false
	}
	stage := []string{uuid}
	for _, u := range r.stage {
		if u != uuid {
			stage = append(stage, u)
		}
	}
	r.stage = stage
	r.members[uuid].p.LastSpoke = r.srv.now().Unix()
	entries := make([]map[string]any, len(stage))
	for i, u := range stage {
		vad := 0
		if i == 0 {
			vad = 100
		}
		entries[i] = map[string]any{"stage_index": i, "participant_uuid": u, "vad": vad}
	}
	r.broadcastLocked("stage", entries)
	r.emitLayoutLocked()
	return true
}

func viewSize(view string) int {
	switch view {
	case "1:0":
		return 1
	case "4:0":
		return 4
	case "1:7":
		return 8
	case "1:21":
		return 22
	case "2:21":
		return 23
	}
	return 8
}

func (r *Room) emitLayoutLocked() {
	shown := []string{}
	for _, u := range r.stage {
		if len(shown) == viewSize(r.view) {
			break
		}
		if m := r.members[u]; m != nil && !m.p.Hidden {
			shown = append(shown, u)
		}
	}
	hostView, guestView := r.view, r.view
	for _, l := range r.layouts {
		if l.Audience == "hosts" {
			hostView = l.Layout
		} else {
			guestView = l.Layout
		}
	}
	body := map[string]any{
		"view": r.view, "participants": shown,
		"requested_layout": map[string]any{"primary_screen": map[string]string{"chair_layout": hostView, "guest_layout": guestView}},
	}
	if r.cfg.Rich {
		body["overlay_text_enabled"] = true
	}
	r.broadcastLocked("layout", body)
}

// Chat sends a chat message from the participant. It reports whether uuid was present.
func (r *Room) Chat(uuid, text string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[uuid]
	if m == nil {
		return false
	}
	r.chatLocked(m.p.Name, uuid, "text/plain", text, "")
	return true
}

// Message sends a message of mime type typ ("text/plain" or "application/json") from the
// participant: to everyone when to is "", else as a direct message to the session whose
// participant uuid is to, which alone receives it (with "direct": true). It reports whether the
// sender (and the recipient) are present.
func (r *Room) Message(uuid, typ, payload, to string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[uuid]
	if m == nil || (to != "" && r.members[to] == nil) {
		return false
	}
	r.chatLocked(m.p.Name, uuid, typ, payload, to)
	return true
}

func (r *Room) chatLocked(origin, uuid, typ, text, to string) {
	r.messages = append(r.messages, ChatMessage{Origin: origin, UUID: uuid, Type: typ, Payload: text, To: to, Time: r.srv.now()})
	body := map[string]any{"origin": origin, "type": typ, "payload": text, "uuid": uuid, "direct": to != ""}
	if to == "" {
		r.broadcastLocked("message", body)
		return
	}
	f := r.frameLocked("message", body)
	for _, sess := range r.sessions {
		if sess.uuid == to {
			for sub := range sess.subs {
				r.sendLocked(sub, f)
			}
		}
	}
}

// RevokePresentation ends the presentation the way Pexip's nodes revoke one: a
// presentation_start whose presenter name, uri and uuid are all empty, then the presenter's
// participant_update. It reports whether someone was presenting.
func (r *Room) RevokePresentation() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[r.presenter]
	if m == nil {
		return false
	}
	r.presenter = ""
	m.p.Presenting = false
	r.broadcastLocked("presentation_start", map[string]string{"presenter_name": "", "presenter_uri": "", "presenter_uuid": ""})
	r.emitUpdateLocked(m)
	return true
}

// SetUnsupported sets which host commands the node refuses for the participant, and tells the
// streams (participant_update with mute_supported, disconnect_supported, transfer_supported). It
// reports whether uuid was present.
func (r *Room) SetUnsupported(uuid string, u Unsupported) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[uuid]
	if m == nil {
		return false
	}
	m.p.NoMute, m.p.NoDisconnect, m.p.NoTransfer = u.Mute, u.Disconnect, u.Transfer
	r.emitUpdateLocked(m)
	return true
}

// End ends the meeting as a host in it would: everyone is disconnected, and every session's
// streams get a disconnect event with ReasonHostEnded.
func (r *Room) End() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endLocked()
}

func (r *Room) endLocked() {
	for _, p := range r.participantsLocked(true) {
		if mm := r.members[p.UUID]; mm != nil {
			r.removeMemberLocked(mm, ReasonHostEnded)
		}
	}
}

// AdminDisconnect disconnects the participant as an administrator would (from the node's
// management, not this API): a session's streams get a disconnect event with ReasonAdmin. It
// reports whether uuid was present.
func (r *Room) AdminDisconnect(uuid string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[uuid]
	if m == nil {
		return false
	}
	r.removeMemberLocked(m, ReasonAdmin)
	return true
}

// HangUpStreaming ends every streaming participant's call from the far end, as a recorder or
// stream server that hangs up (or a call that fails) would: each leaves with a
// participant_delete, with no word of why, which is all a node tells. It returns how many left.
func (r *Room) HangUpStreaming() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.participantsLocked(true) {
		if m := r.members[p.UUID]; m != nil && m.p.Streaming {
			r.removeMemberLocked(m, "")
			n++
		}
	}
	return n
}

// DropStreams closes every event stream of the room at once, without a word, as a failing
// network would. It returns how many it closed.
func (r *Room) DropStreams() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for sub := range r.subs {
		r.closeSubLocked(sub)
		n++
	}
	return n
}

// ByeStreams sends a bye event on every event stream of the room and closes them, as a node
// that shuts down would. It returns how many it closed.
func (r *Room) ByeStreams() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.frameLocked("bye", nil)
	n := 0
	for sub := range r.subs {
		r.sendLocked(sub, f)
		r.closeSubLocked(sub)
		n++
	}
	return n
}

// RequestRefresh sends a refresh_token event on every event stream of the room.
func (r *Room) RequestRefresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.frameLocked("refresh_token", nil)
	for sub := range r.subs {
		r.sendLocked(sub, f)
	}
}

// InjectRaw writes frame as it is to every event stream of the room (a blank line is added
// when frame does not end with one), to test how clients take malformed or unknown events.
func (r *Room) InjectRaw(frame string) {
	if !strings.HasSuffix(frame, "\n\n") {
		frame = strings.TrimRight(frame, "\n") + "\n\n"
	}
	f := []byte(frame)
	r.mu.Lock()
	defer r.mu.Unlock()
	for sub := range r.subs {
		r.sendLocked(sub, f)
	}
}

// Emit sends an event with this name and JSON body (nil = null) on every event stream of the
// room, for events the control methods do not cover (call_disconnected, conference_update, …).
func (r *Room) Emit(name string, data any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broadcastLocked(name, data)
}

// Participants returns everyone in the room (hidden sessions included), in joining order.
func (r *Room) Participants() []Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.participantsLocked(true)
}

func (r *Room) participantsLocked(hidden bool) []Participant {
	ps := make([]Participant, 0, len(r.members))
	for _, m := range r.members {
		if m.p.Hidden && !hidden {
			continue
		}
		p := m.p
		p.Calls = append([]string(nil), p.Calls...)
		ps = append(ps, p)
	}
	sortParticipants(ps)
	return ps
}

// Participant returns the participant with this uuid.
func (r *Room) Participant(uuid string) (Participant, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[uuid]
	if m == nil {
		return Participant{}, false
	}
	p := m.p
	p.Calls = append([]string(nil), p.Calls...)
	return p, true
}

// Find returns the uuid of the first participant whose display name is name
// (case-insensitive), or name itself when it is the uuid of a participant.
func (r *Room) Find(name string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members[name] != nil {
		return name, true
	}
	for _, p := range r.participantsLocked(true) {
		if strings.EqualFold(p.Name, name) {
			return p.UUID, true
		}
	}
	return "", false
}

// State returns a snapshot of the room's conference-wide state.
func (r *Room) State() RoomState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RoomState{
		Locked:         r.locked,
		GuestsMuted:    r.guestsMuted,
		Started:        r.started,
		PrivateMuteAll: r.privMute,
		Layouts:        append([]Layout(nil), r.layouts...),
		View:           r.view,
		Messages:       append([]ChatMessage(nil), r.messages...),
		Presenter:      r.presenter,
		Stage:          append([]string(nil), r.stage...),
		Sessions:       len(r.sessions),
		Streams:        len(r.subs),
	}
}

// SetLocked locks or unlocks the room as a host's lock or unlock would.
func (r *Room) SetLocked(locked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.locked != locked {
		r.locked = locked
		r.emitServiceLocked()
	}
}

func uriFor(name, protocol string) string {
	user := strings.ToLower(strings.Join(strings.Fields(name), "."))
	switch protocol {
	case "sip", "mssip":
		return "sip:" + user + "@example.com"
	case "h323":
		return "h323:" + user + "@example.com"
	case "rtmp":
		return "rtmp://stream.example.com/live/" + user
	case "phone":
		return "tel:+8610" + strconv.Itoa(len(user)*1234567%100000000)
	case "api":
		return "CloudConnect_api"
	}
	return user + "@example.com"
}

func vendorFor(protocol string) string {
	switch protocol {
	case "sip", "h323":
		return "Polycom RealPresence Group 500"
	case "api":
		return "meetbot"
	}
	return "CloudConnect/2.0.0 (meetbot simulator) Chrome/120.0"
}
