package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Answers the simulator gives, in the platform's words (clarification 6).
const (
	msgInvalidToken   = "Invalid token"
	msgInvalidPIN     = "Invalid PIN"
	msgInvalidRole    = "Invalid role"
	msgNoConference   = "Neither conference nor gateway found"
	msgNoParticipant  = "Participant not found"
	msgIllegalValue   = "Illegal value"
	msgNotJSON        = "Unsupported Media Type"
	msgNotSupported   = "Command not supported on this node"
	msgNoPresentation = "No presentation"
)

// Operations served under /api/services/<room>/ and their methods.
var conferenceOps = map[string]string{
	"new_session": "POST", "refresh_session": "POST", "end_session": "POST",
	"events": "GET", "presentation.jpeg": "GET",
	"dial": "POST", "service_status": "GET", "lock": "POST", "unlock": "POST",
	"start_service": "POST", "muteguests": "POST", "unmuteguests": "POST",
	"disconnect": "POST", "message": "POST", "participants": "GET", "override_layout": "POST",
}

var participantOps = map[string]bool{
	"disconnect": true, "mute": true, "unmute": true, "hard_vmute": true, "hard_uvmute": true,
	"cancel_delay": true, "resume_delay": true, "allowrxpresentation": true, "denyrxpresentation": true,
	"spotlighton": true, "spotlightoff": true, "unlock": true, "dtmf": true, "role": true,
	"transfer": true, "calls": true,
}

// anyRole lists the operations a guest may call; every other one is host-only.
var anyRole = map[string]bool{
	"new_session": true, "refresh_session": true, "end_session": true, "events": true,
	"presentation.jpeg": true, "service_status": true, "message": true, "participants": true,
}

// privateUnsupported lists what a private-cloud node does not support (section 7).
var privateUnsupported = map[string]bool{
	"override_layout": true, "participant/spotlighton": true, "participant/spotlightoff": true,
	"participant/unlock": true, "participant/role": true, "participant/transfer": true,
}

var dialProtocols = map[string]bool{"sip": true, "h323": true, "rtmp": true, "mssip": true, "phone": true, "auto": true}

var validLayouts = map[string]bool{"1:0": true, "4:0": true, "1:7": true, "1:21": true, "2:21": true}

var dtmfDigits = regexp.MustCompile(`^[0-9*#A-Da-d,]+$`)

// route is a parsed platform path.
type route struct {
	op          string // RecordedRequest.Op
	room        string
	participant string
	call        string
}

func parseRoute(r *http.Request) (route, bool) {
	p := r.URL.Path
	if p == "/api/v3/meet/checkJoin.shtml" {
		return route{op: "checkJoin"}, true
	}
	rest, ok := strings.CutPrefix(p, "/api/services/")
	if !ok {
		return route{}, false
	}
	segs := strings.Split(rest, "/")
	if segs[0] == "" {
		return route{}, false
	}
	switch {
	case len(segs) == 2:
		if _, ok := conferenceOps[segs[1]]; ok {
			return route{op: segs[1], room: segs[0]}, true
		}
	case len(segs) == 4 && segs[1] == "participants" && participantOps[segs[3]]:
		return route{op: "participant/" + segs[3], room: segs[0], participant: segs[2]}, true
	case len(segs) == 6 && segs[1] == "participants" && segs[3] == "calls" && (segs[5] == "ack" || segs[5] == "disconnect"):
		return route{op: "call/" + segs[5], room: segs[0], participant: segs[2], call: segs[4]}, true
	}
	return route{}, false
}

func methodOf(op string) string {
	if m, ok := conferenceOps[op]; ok {
		return m
	}
	return "POST"
}

func tokenOf(r *http.Request, op string) string {
	if t := r.Header.Get("token"); t != "" {
		return t
	}
	if op == "events" || op == "presentation.jpeg" {
		return r.URL.Query().Get("token")
	}
	return ""
}

// ServeHTTP serves checkJoin, the platform's commands and events, and the /_sim/ control
// surface. Any other path answers 404 with a body naming the route and logs a warning.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	if r.URL.Path == "/_sim" || strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.ctl.ServeHTTP(w, r)
		return
	}
	rt, ok := parseRoute(r)
	if !ok {
		s.notModelled(w, r)
		return
	}
	if r.Method != methodOf(rt.op) {
		s.log.Warn("sim: wrong method for a modelled route", "method", r.Method, "path", r.URL.Path)
		reply(w, http.StatusMethodNotAllowed, "Method not allowed: "+r.Method+" "+r.URL.Path+" takes "+methodOf(rt.op))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		reply(w, http.StatusBadRequest, msgIllegalValue)
		return
	}
	room := (*Room)(nil)
	if rt.room != "" {
		room = s.Room(rt.room)
	}
	tok := tokenOf(r, rt.op)
	s.record(RecordedRequest{
		Method: r.Method, Op: rt.op, Room: rt.room, Participant: rt.participant,
		Body: body, TokenValid: room != nil && room.tokenValid(tok), Time: s.now(),
	})
	s.mu.Lock()
	hook := s.hook
	s.mu.Unlock()
	if hook != nil && hook(w, r, rt.op) {
		return
	}
	status, latency := s.takeFault(rt.op)
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if status != 0 {
		reply(w, status, http.StatusText(status))
		return
	}
	if rt.op == "checkJoin" {
		s.checkJoin(w, r, body)
		return
	}
	if room == nil {
		reply(w, http.StatusNotFound, msgNoConference)
		return
	}
	switch rt.op {
	case "new_session":
		room.newSession(w, r, body)
		return
	case "events":
		room.events(w, r, tok)
		return
	}
	room.command(w, r, rt, tok, body)
}

func (s *Server) notModelled(w http.ResponseWriter, r *http.Request) {
	s.log.Warn("sim: request for a route the simulator does not model", "method", r.Method, "path", r.URL.Path)
	writeJSON(w, http.StatusNotFound, map[string]string{
		"status": "error",
		"result": "meetings/sim: route not modelled: " + r.Method + " " + r.URL.Path,
	})
}

// --- checkJoin (section 1, clarifications 7 and 8) ---

func (s *Server) checkJoin(w http.ResponseWriter, r *http.Request, body []byte) {
	fail := func(code, msg string) {
		writeJSON(w, http.StatusOK, map[string]any{
			"code": code, "message": msg, "msg": msg, "timeStamp": s.now().Format("2006-01-02 15:04:05"),
		})
	}
	var req struct {
		JoinAccount     string `json:"joinAccount"`
		JoinPwd         string `json:"joinPwd"`
		ParticipantName string `json:"participantName"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		fail("400", "The request body must be a JSON object")
		return
	}
	if req.JoinAccount == "" {
		fail("400", "joinAccount is required")
		return
	}
	if req.ParticipantName == "" {
		fail("400", "participantName is required")
		return
	}
	room := s.Room(req.JoinAccount)
	if room == nil {
		fail("404", "The meeting room does not exist")
		return
	}
	cfg := room.Config()
	role := ""
	switch {
	case cfg.HostPIN == "" || req.JoinPwd == cfg.HostPIN:
		role = "host"
	case cfg.GuestPIN != "" && req.JoinPwd == cfg.GuestPIN:
		role = "guest"
	case req.JoinPwd == "" && cfg.AllowGuest && cfg.GuestPIN == "":
		role = "guest"
	case req.JoinPwd == "":
		fail("403", "A PIN is required to join this meeting")
		return
	default:
		fail("403", "Invalid PIN")
		return
	}
	allow := "no"
	if cfg.guestsAllowed() {
		allow = "yes"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"code": "200", "timeStamp": s.now().Format("2006-01-02 15:04:05"),
		"results": map[string]any{
			"isDot": false, "sipkey": cfg.Number, "alias": cfg.Alias, "password": req.JoinPwd,
			"participantName": req.ParticipantName, "roleType": role, "mcuHost": r.Host,
			"companyId": 7, "isRecord": !cfg.NoRecord, "isLive": !cfg.NoLive, "conferenceName": cfg.Name,
			"allowGuest": allow,
		},
	})
}

// --- sessions (section 3) ---

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

func (r *Room) tokenValid(tok string) bool {
	if tok == "" {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sess := r.sessions[tok]
	return sess != nil && r.srv.now().Before(sess.expires)
}

// authLocked returns the live session of tok; a token past its expiry lapses here.
func (r *Room) authLocked(tok string) *session {
	if tok == "" {
		return nil
	}
	sess := r.sessions[tok]
	if sess == nil {
		return nil
	}
	if !r.srv.now().Before(sess.expires) {
		r.endSessionLocked(sess, ReasonTokenLapsed)
		return nil
	}
	return sess
}

// armLocked (re)starts the lapse timer of sess.
func (r *Room) armLocked(sess *session) {
	ttl := r.srv.opts.TokenTTL
	sess.expires = r.srv.now().Add(ttl)
	sess.gen++
	gen := sess.gen
	if sess.timer != nil {
		sess.timer.Stop()
	}
	sess.timer = time.AfterFunc(ttl, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if !sess.ended && sess.gen == gen {
			r.endSessionLocked(sess, ReasonTokenLapsed)
		}
	})
}

// decodeBody reads a JSON body into v, answering 415 for a body that is not JSON and 400 for
// malformed JSON (clarification 6). It reports whether the caller may go on.
func decodeBody(w http.ResponseWriter, r *http.Request, body []byte, v any) bool {
	ct := r.Header.Get("Content-Type")
	isJSON := false
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		isJSON = err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
		if !isJSON {
			reply(w, http.StatusUnsupportedMediaType, msgNotJSON)
			return false
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		reply(w, http.StatusBadRequest, msgIllegalValue)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		if !isJSON && !json.Valid(body) {
			reply(w, http.StatusUnsupportedMediaType, msgNotJSON)
			return false
		}
		reply(w, http.StatusBadRequest, msgIllegalValue)
		return false
	}
	return true
}

// flexBool accepts true/false, "yes"/"no", "true"/"false".
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case bool:
		*b = flexBool(x)
	case string:
		*b = flexBool(strings.EqualFold(x, "yes") || strings.EqualFold(x, "true"))
	}
	return nil
}

func (r *Room) newSession(w http.ResponseWriter, req *http.Request, body []byte) {
	var in struct {
		DisplayName string   `json:"display_name"`
		HideMe      flexBool `json:"hideme"`
	}
	if !decodeBody(w, req, body, &in) {
		return
	}
	if strings.TrimSpace(in.DisplayName) == "" {
		reply(w, http.StatusBadRequest, msgIllegalValue)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg := r.cfg
	pins := req.Header.Values("pin")
	pin := ""
	if len(pins) > 0 {
		pin = pins[0]
	}
	host := false
	switch {
	case cfg.HostPIN == "":
		host = true
	case len(pins) == 0:
		gp := "required"
		if cfg.AllowGuest && cfg.GuestPIN == "" {
			gp = "none"
		}
		reply(w, http.StatusForbidden, map[string]any{"pin": "required", "guest_pin": gp, "version": nodeVersion})
		return
	case pin == cfg.HostPIN:
		host = true
	case cfg.GuestPIN != "" && pin == cfg.GuestPIN:
	case cfg.GuestPIN == "" && cfg.AllowGuest && (pin == "none" || pin == ""):
	default:
		reply(w, http.StatusForbidden, msgInvalidPIN)
		return
	}
	role := "guest"
	if host {
		role = "chair"
	}
	sess := &session{token: newToken(), name: in.DisplayName, host: host, hidden: bool(in.HideMe), subs: map[*subscriber]struct{}{}}
	m := r.addMemberLocked(Participant{
		Name: in.DisplayName, Role: role, Protocol: "api", URI: uriFor(in.DisplayName, "api"),
		Vendor: vendorFor("api"), Hidden: sess.hidden, Session: true,
	})
	m.sess = sess
	sess.uuid = m.p.UUID
	r.sessions[sess.token] = sess
	r.armLocked(sess)
	roleWord := "GUEST"
	if host {
		roleWord = "HOST"
	}
	res := map[string]any{
		"token":            sess.token,
		"expires":          json.Number(seconds(r.srv.opts.TokenTTL)),
		"participant_uuid": sess.uuid,
		"display_name":     in.DisplayName,
		"version":          nodeVersion,
		"role":             roleWord,
		"service_type":     "conference",
		"chat_enabled":     true,
	}
	if !cfg.Private {
		res["stun"] = []map[string]string{{"url": "stun:stun.example.cn"}}
		res["analytics_enabled"] = false
		res["current_service_type"] = m.p.ServiceType
	}
	if cfg.Rich {
		res["conference_name"] = cfg.Name
		res["service_name"] = cfg.Name
		res["call_tag"] = ""
		res["turn"] = []map[string]any{{"urls": []string{"turn:turn.example.cn:3478?transport=udp"}, "username": "meetbot", "credential": "sim"}}
		res["bandwidth_in"] = 1264
		res["bandwidth_out"] = 1264
		res["fecc_enabled"] = false
		res["rtmp_enabled"] = true
		res["rtsp_enabled"] = false
		res["trickle_ice_enabled"] = true
		res["vp9_enabled"] = true
		res["allow_1080p"] = false
		res["guests_can_present"] = true
		res["direct_media"] = false
		res["breakout_rooms"] = false
		res["route_via_registrar"] = false
		res["use_relay_candidates_only"] = false
		res["client_stats_update_interval"] = 5000
		res["pex_datachannel_id"] = 5
	}
	reply(w, http.StatusOK, res)
}

// --- the event stream (section 6, clarifications 1, 4 and 5) ---

func (r *Room) events(w http.ResponseWriter, req *http.Request, tok string) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		reply(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	r.mu.Lock()
	sess := r.authLocked(tok)
	if sess == nil {
		r.mu.Unlock()
		reply(w, http.StatusForbidden, msgInvalidToken)
		return
	}
	// The sync is built and the subscriber registered under one lock, so no event falls between.
	var sync bytes.Buffer
	sync.Write(r.frameLocked("participant_sync_begin", nil))
	name := "participant_create"
	if r.cfg.Private {
		name = "participant_update"
	}
	for _, p := range r.participantsLocked(false) {
		sync.Write(r.frameLocked(name, toWire(&p, r.cfg, false)))
	}
	sync.Write(r.frameLocked("participant_sync_end", nil))
	sub := newSubscriber(sess)
	r.subs[sub] = struct{}{}
	sess.subs[sub] = struct{}{}
	r.streamsChangedLocked()
	keepAlive := r.srv.opts.KeepAlive
	r.mu.Unlock()

	defer func() {
		r.mu.Lock()
		r.closeSubLocked(sub)
		r.mu.Unlock()
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if retry := r.srv.opts.Retry; retry > 0 {
		if _, err := io.WriteString(w, "retry: "+strconv.FormatInt(retry.Milliseconds(), 10)+"\n\n"); err != nil {
			return
		}
	}
	if _, err := w.Write(sync.Bytes()); err != nil {
		return
	}
	flusher.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	ctx := req.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.wake:
			q, closed := r.take(sub)
			for _, f := range q {
				if _, err := w.Write(f); err != nil {
					return
				}
			}
			if len(q) > 0 {
				flusher.Flush()
			}
			if closed {
				return
			}
		case <-tick.C:
			if _, err := io.WriteString(w, ":\n\n"); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

// --- commands (sections 4 and 5) ---

func (r *Room) command(w http.ResponseWriter, req *http.Request, rt route, tok string, body []byte) {
	// Bodies are decoded before the lock is taken.
	var dialIn dialBody
	var msgIn struct {
		Type    string `json:"type"`
		Payload string `json:"payload"`
	}
	var layoutIn struct {
		Layouts []Layout `json:"layouts"`
	}
	var dtmfIn struct {
		Digits string `json:"digits"`
	}
	var roleIn struct {
		Role string `json:"role"`
	}
	var transferIn struct {
		Role  string `json:"role"`
		Alias string `json:"conference_alias"`
		PIN   string `json:"pin"`
	}
	var callIn struct {
		CallType string `json:"call_type"`
		SDP      string `json:"sdp"`
	}
	var target any
	switch rt.op {
	case "dial":
		target = &dialIn
	case "message":
		target = &msgIn
	case "override_layout":
		target = &layoutIn
	case "participant/dtmf":
		target = &dtmfIn
	case "participant/role":
		target = &roleIn
	case "participant/transfer":
		target = &transferIn
	case "participant/calls":
		target = &callIn
	}

	r.mu.Lock()
	locked := true
	unlock := func() {
		if locked {
			locked = false
			r.mu.Unlock()
		}
	}
	defer unlock()
	sess := r.authLocked(tok)
	if sess == nil {
		reply(w, http.StatusForbidden, msgInvalidToken)
		return
	}
	if !anyRole[rt.op] && !sess.host {
		reply(w, http.StatusForbidden, msgInvalidRole)
		return
	}
	if r.cfg.Private && privateUnsupported[rt.op] {
		reply(w, http.StatusBadRequest, msgNotSupported)
		return
	}
	var m *member
	if rt.participant != "" {
		m = r.members[rt.participant]
		if m == nil {
			reply(w, http.StatusNotFound, msgNoParticipant)
			return
		}
	}
	if target != nil && !decodeBody(w, req, body, target) {
		return
	}
	now := r.srv.now()
	if m != nil && unsupportedFor(m, rt.op) {
		reply(w, http.StatusOK, false)
		return
	}

	switch rt.op {
	case "refresh_session":
		delete(r.sessions, sess.token)
		sess.token = newToken()
		r.sessions[sess.token] = sess
		r.armLocked(sess)
		reply(w, http.StatusOK, map[string]string{"token": sess.token, "expires": seconds(r.srv.opts.TokenTTL)})
	case "end_session":
		r.endSessionLocked(sess, "")
		reply(w, http.StatusOK, true)
	case "presentation.jpeg":
		if r.presenter == "" || r.cfg.Private {
			reply(w, http.StatusNotFound, msgNoPresentation)
			return
		}
		name := ""
		if m := r.members[r.presenter]; m != nil {
			name = m.p.Name
		}
		slide := slideJPEG(name, r.slide)
		unlock()
		w.Header().Set("Content-Type", "image/jpeg")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(slide)

	case "service_status":
		reply(w, http.StatusOK, r.conferenceStateLocked())
	case "participants":
		ps := r.participantsLocked(false)
		out := make([]wireParticipant, len(ps))
		for i := range ps {
			out[i] = toWire(&ps[i], r.cfg, true)
		}
		reply(w, http.StatusOK, out)
	case "lock", "unlock":
		r.locked = rt.op == "lock"
		r.emitServiceLocked()
		reply(w, http.StatusOK, true)
	case "start_service":
		if !r.cfg.Private {
			r.startLocked()
			for _, p := range r.participantsLocked(true) {
				if mm := r.members[p.UUID]; mm.p.ServiceType == "waiting_room" {
					mm.p.ServiceType = "conference"
					r.emitUpdateLocked(mm)
				}
			}
		}
		reply(w, http.StatusOK, true)
	case "muteguests", "unmuteguests":
		r.guestsMuted = rt.op == "muteguests"
		r.emitServiceLocked()
		for _, p := range r.participantsLocked(true) {
			if mm := r.members[p.UUID]; mm.p.Role == "guest" {
				mm.p.Muted = r.guestsMuted
				r.emitUpdateLocked(mm)
			}
		}
		reply(w, http.StatusOK, true)
	case "disconnect":
		r.endLocked()
		reply(w, http.StatusOK, true)
	case "message":
		if msgIn.Type == "" {
			msgIn.Type = "text/plain"
		}
		r.chatLocked(sess.name, sess.uuid, msgIn.Type, msgIn.Payload, "")
		reply(w, http.StatusOK, true)
	case "override_layout":
		if len(layoutIn.Layouts) == 0 {
			reply(w, http.StatusBadRequest, msgIllegalValue)
			return
		}
		for _, l := range layoutIn.Layouts {
			if !validLayouts[l.Layout] || (l.Audience != "" && l.Audience != "hosts") {
				reply(w, http.StatusBadRequest, msgIllegalValue)
				return
			}
		}
		r.layouts = layoutIn.Layouts
		r.view = layoutIn.Layouts[0].Layout
		for _, l := range layoutIn.Layouts {
			if l.Audience == "" {
				r.view = l.Layout
			}
		}
		r.emitLayoutLocked()
		reply(w, http.StatusOK, true)
	case "dial":
		r.dialLocked(w, dialIn)

	case "participant/disconnect":
		r.removeMemberLocked(m, ReasonAPIKick)
		reply(w, http.StatusOK, true)
	case "participant/mute":
		if r.cfg.Private {
			r.privMute = true
			speaker := ""
			if len(r.stage) > 0 {
				speaker = r.stage[0]
			}
			for _, p := range r.participantsLocked(true) {
				mm := r.members[p.UUID]
				if mm.p.Role != "chair" && mm.p.UUID != speaker && !mm.p.Muted {
					mm.p.Muted = true
					r.emitUpdateLocked(mm)
				}
			}
		} else {
			m.p.Muted = true
			r.emitUpdateLocked(m)
		}
		reply(w, http.StatusOK, true)
	case "participant/unmute":
		r.privMute = false
		m.p.Muted = false
		r.emitUpdateLocked(m)
		reply(w, http.StatusOK, true)
	case "participant/hard_vmute", "participant/hard_uvmute":
		m.p.VideoMuted = rt.op == "participant/hard_vmute"
		r.emitUpdateLocked(m)
		reply(w, http.StatusOK, true)
	case "participant/cancel_delay", "participant/resume_delay":
		m.p.Delayed = rt.op == "participant/cancel_delay"
		reply(w, http.StatusOK, true)
	case "participant/allowrxpresentation", "participant/denyrxpresentation":
		m.p.RxPresentationAllowed = rt.op == "participant/allowrxpresentation"
		r.emitUpdateLocked(m)
		reply(w, http.StatusOK, true)
	case "participant/spotlighton":
		m.p.Spotlight = now.Unix()
		r.emitUpdateLocked(m)
		reply(w, http.StatusOK, true)
	case "participant/spotlightoff":
		m.p.Spotlight = 0
		r.emitUpdateLocked(m)
		reply(w, http.StatusOK, true)
	case "participant/unlock":
		if m.p.ServiceType != "waiting_room" {
			reply(w, http.StatusOK, false)
			return
		}
		m.p.ServiceType = "conference"
		r.emitUpdateLocked(m)
		reply(w, http.StatusOK, true)
	case "participant/dtmf":
		if !dtmfDigits.MatchString(dtmfIn.Digits) {
			reply(w, http.StatusBadRequest, msgIllegalValue)
			return
		}
		m.p.DTMF += dtmfIn.Digits
		reply(w, http.StatusOK, true)
	case "participant/role":
		if roleIn.Role != "chair" && roleIn.Role != "guest" {
			reply(w, http.StatusBadRequest, msgIllegalValue)
			return
		}
		m.p.Role = roleIn.Role
		if m.sess != nil {
			m.sess.host = roleIn.Role == "chair"
		}
		r.emitUpdateLocked(m)
		reply(w, http.StatusOK, true)
	case "participant/transfer":
		unlock()
		r.transfer(w, m, transferIn.Alias, transferIn.PIN, transferIn.Role)
	case "participant/calls":
		callUUID := newUUID()
		switch strings.ToUpper(callIn.CallType) {
		case "WEBRTC":
			if callIn.SDP == "" {
				reply(w, http.StatusBadRequest, msgIllegalValue)
				return
			}
			m.p.Calls = append(m.p.Calls, callUUID)
			reply(w, http.StatusOK, map[string]string{"call_uuid": callUUID, "sdp": answerSDP})
		case "RTMP":
			m.p.Calls = append(m.p.Calls, callUUID)
			host := req.Host
			if h, _, ok := strings.Cut(host, ":"); ok {
				host = h
			}
			reply(w, http.StatusOK, map[string]string{
				"call_uuid":  callUUID,
				"url":        "rtmp://" + host + ":40002/zjcloud/" + callUUID,
				"secure_url": "rtmps://" + host + ":40003/zjcloud/" + callUUID,
			})
		default:
			reply(w, http.StatusBadRequest, msgIllegalValue)
		}
	case "call/ack", "call/disconnect":
		i := indexOf(m.p.Calls, rt.call)
		if i < 0 {
			reply(w, http.StatusNotFound, "Call not found")
			return
		}
		if rt.op == "call/disconnect" {
			m.p.Calls = append(m.p.Calls[:i], m.p.Calls[i+1:]...)
			r.broadcastLocked("call_disconnected", map[string]string{"call_uuid": rt.call, "reason": ReasonAPIKick})
			// The page does not describe this answer; Pexip's schema (disconnect_call 200) has
			// result null.
			reply(w, http.StatusOK, nil)
			return
		}
		reply(w, http.StatusOK, true)
	default:
		reply(w, http.StatusNotFound, "meetings/sim: operation not modelled: "+rt.op)
	}
}

// nodeVersion is the version object new_session and the PIN-required 403 carry.
var nodeVersion = map[string]string{"pseudo_version": "25010.0.0", "version_id": "12"}

// unsupportedFor reports whether the node refuses op for m (its mute_supported,
// disconnect_supported or transfer_supported is "NO").
func unsupportedFor(m *member, op string) bool {
	switch op {
	case "participant/mute", "participant/unmute":
		return m.p.NoMute
	case "participant/disconnect":
		return m.p.NoDisconnect
	case "participant/transfer":
		return m.p.NoTransfer
	}
	return false
}

const answerSDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// dialBody is the body of dial (section 4).
type dialBody struct {
	Role                string   `json:"role"`
	Destination         string   `json:"destination"`
	Protocol            string   `json:"protocol"`
	RemoteDisplayName   string   `json:"remote_display_name"`
	PresentationURL     string   `json:"presentation_url"`
	Streaming           flexBool `json:"streaming"`
	KeepConferenceAlive string   `json:"keep_conference_alive"`
}

var keepAliveValues = map[string]bool{"": true, "keep_conference_alive": true,
	"keep_conference_alive_if_multiple": true, "keep_conference_alive_never": true}

// rtmpURL reports whether dest is an address an RTMP call can push to.
func rtmpURL(dest string) bool {
	low := strings.ToLower(dest)
	return strings.HasPrefix(low, "rtmp://") || strings.HasPrefix(low, "rtmps://")
}

// dialLocked answers dial: the callee appears as "connecting", then answers after
// DialAnswerAfter — or, when the destination contains "noanswer", is removed after DialTimeout.
// An RTMP dial with streaming "yes" is a streaming participant (is_streaming_conference); a
// streaming fault (FailStreamingDials, DropStreamingAfter) may make it never connect or hang up
// later. An RTMP dial whose destination is no rtmp:// or rtmps:// URL never connects either.
func (r *Room) dialLocked(w http.ResponseWriter, d dialBody) {
	role, dest, protocol := d.Role, d.Destination, d.Protocol
	if role == "" {
		role = "guest"
	}
	if dest == "" || (role != "guest" && role != "chair") {
		reply(w, http.StatusBadRequest, msgIllegalValue)
		return
	}
	if r.cfg.Private {
		// Section 7: a private node dials H.323 and SIP only, so no recording or live stream.
		if protocol != "sip" && protocol != "h323" {
			reply(w, http.StatusBadRequest, msgIllegalValue)
			return
		}
	} else if !dialProtocols[protocol] {
		reply(w, http.StatusBadRequest, msgIllegalValue)
		return
	}
	rtmp := protocol == "rtmp"
	// streaming and presentation_url are RTMP-only fields (section 4); a node that received
	// them on another protocol would be talking to a confused client, so say so.
	if (bool(d.Streaming) || d.PresentationURL != "") && !rtmp || !keepAliveValues[d.KeepConferenceAlive] {
		reply(w, http.StatusBadRequest, msgIllegalValue)
		return
	}
	streaming := rtmp && bool(d.Streaming)
	keep := d.KeepConferenceAlive
	if keep == "" {
		// The page's defaults.
		keep = "keep_conference_alive"
		if streaming {
			keep = "keep_conference_alive_never"
		}
	}
	name := d.RemoteDisplayName
	if name == "" {
		name = dest
	}
	proto := protocol
	if proto == "auto" {
		proto = "webrtc"
	}
	m := r.addMemberLocked(Participant{
		Name: name, Role: role, Protocol: proto, ServiceType: "connecting", CallDirection: "out",
		URI: dest, Vendor: vendorFor(proto), Streaming: streaming, PresentationURL: d.PresentationURL,
		KeepConferenceAlive: keep,
	})
	var sf streamFault
	if streaming {
		sf = r.srv.takeStreamFault()
	}
	if sf.neverConnect || strings.Contains(strings.ToLower(dest), "noanswer") || (rtmp && !rtmpURL(dest)) {
		// Not answered within the timeout: removed from the list (section 4).
		m.timer = time.AfterFunc(r.srv.opts.DialTimeout, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.removeMemberLocked(m, "")
		})
	} else {
		m.timer = time.AfterFunc(r.srv.opts.DialAnswerAfter, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.members[m.p.UUID] != m || m.p.ServiceType != "connecting" {
				return
			}
			m.p.ServiceType = "conference"
			r.emitUpdateLocked(m)
			if sf.dropAfter > 0 {
				m.timer = time.AfterFunc(sf.dropAfter, func() {
					r.mu.Lock()
					defer r.mu.Unlock()
					r.removeMemberLocked(m, "")
				})
			}
		})
	}
	reply(w, http.StatusOK, []string{m.p.UUID})
}

// transfer moves m to another room: it leaves this room (participant_delete) and joins the
// target with the same uuid. A missing target room or a PIN the target refuses answers false.
func (r *Room) transfer(w http.ResponseWriter, m *member, alias, pin, role string) {
	switch role {
	case "":
		role = "guest"
	case "host":
		// Pexip's word for transfer (its schema allows only host and guest); the page writes
		// chair, which is accepted too.
		role = "chair"
	}
	if role != "guest" && role != "chair" {
		reply(w, http.StatusBadRequest, msgIllegalValue)
		return
	}
	dst := r.srv.Room(alias)
	if dst == nil || dst == r {
		reply(w, http.StatusOK, false)
		return
	}
	cfg := dst.Config()
	ok := cfg.HostPIN == "" || pin == cfg.HostPIN ||
		(role == "guest" && ((cfg.GuestPIN != "" && pin == cfg.GuestPIN) || (cfg.GuestPIN == "" && cfg.AllowGuest)))
	if !ok {
		reply(w, http.StatusOK, false)
		return
	}
	r.mu.Lock()
	if r.members[m.p.UUID] != m {
		r.mu.Unlock()
		reply(w, http.StatusNotFound, msgNoParticipant)
		return
	}
	p := m.p
	r.removeMemberLocked(m, "Participant transferred")
	r.mu.Unlock()

	dst.mu.Lock()
	p.Role = role
	p.ServiceType = ""
	p.StartTime = 0
	p.Session = false
	p.Presenting = false
	p.Muted = false
	dst.addMemberLocked(p)
	dst.mu.Unlock()
	reply(w, http.StatusOK, true)
}

// closeAll ends every session and stream of the room (Server.Close).
func (r *Room) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sess := range r.sessions {
		r.endSessionLocked(sess, "")
	}
	for sub := range r.subs {
		r.closeSubLocked(sub)
	}
	for _, m := range r.members {
		if m.timer != nil {
			m.timer.Stop()
		}
	}
}

// Close ends every session and closes every event stream, so an httptest.Server wrapping s can
// shut down promptly. The rooms and their people stay.
func (s *Server) Close() {
	s.init()
	for _, r := range s.Rooms() {
		r.closeAll()
	}
}
