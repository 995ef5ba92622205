package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// controlHelp is what GET /_sim/ answers: the control surface at a glance.
const controlHelp = `meetings/sim control surface (JSON in, JSON out)

GET  /_sim/rooms                          rooms with their state (no PINs)
POST /_sim/rooms                          {"number","alias","name","host_pin","guest_pin","allow_guest","private","rich","wait_for_host","no_record","no_live"}
GET  /_sim/rooms/{room}                   state and participants of one room
POST /_sim/rooms/{room}/join              {"name","role":"guest|chair","protocol","waiting","unsupported":{"mute","disconnect","transfer"}} -> {"uuid"}
POST /_sim/rooms/{room}/leave             {"who": uuid or display name}
POST /_sim/rooms/{room}/present           {"who", "on": true|false}
POST /_sim/rooms/{room}/speak             {"who"}
POST /_sim/rooms/{room}/chat              {"who", "text"}
POST /_sim/rooms/{room}/message           {"who", "type": "text/plain|application/json", "text", "to": uuid for a direct message}
POST /_sim/rooms/{room}/revoke            revoke the presentation (presentation_start about nobody)
POST /_sim/rooms/{room}/unsupported       {"who", "mute", "disconnect", "transfer"} commands the node refuses for them
POST /_sim/rooms/{room}/end               a host ends the meeting
POST /_sim/rooms/{room}/admin_disconnect  {"who"} an administrator disconnects them
POST /_sim/rooms/{room}/lock              {"locked": true|false}
POST /_sim/rooms/{room}/frame             a new presentation_frame of the same slide
POST /_sim/rooms/{room}/next_slide        the next slide, and its presentation_frame
POST /_sim/rooms/{room}/drop_streams      close every event stream abruptly -> {"closed": n}
POST /_sim/rooms/{room}/bye               send bye and close every event stream -> {"closed": n}
POST /_sim/rooms/{room}/refresh           send refresh_token on every event stream
POST /_sim/rooms/{room}/inject            {"frame": "event: x\ndata: {bad"} raw text to every stream
POST /_sim/rooms/{room}/emit              {"event", "data"} a well-formed event
POST /_sim/rooms/{room}/hangup_streaming  every streaming participant hangs up -> {"dropped": n}
POST /_sim/streaming/fail                 {"n": 1} the next n streaming dials never connect (removed after the dial timeout)
POST /_sim/streaming/drop                 {"ms": 5000, "n": 1} the next n streaming dials hang up ms after connecting
POST /_sim/fail                           {"op": "lock"|"*"|…, "status": 503, "n": 1}
POST /_sim/slow                           {"op": "mute"|"*"|…, "ms": 1500, "n": 1}
POST /_sim/latency                        {"ms": 1500}
POST /_sim/expire_tokens                  lapse every session now
POST /_sim/clear_faults                   forget queued failures and latency
GET  /_sim/requests                       platform requests recorded so far
`

type roomView struct {
	Number       string        `json:"number"`
	Alias        string        `json:"alias,omitempty"`
	Name         string        `json:"name"`
	HasHostPIN   bool          `json:"has_host_pin"`
	HasGuestPIN  bool          `json:"has_guest_pin"`
	AllowGuest   bool          `json:"allow_guest"`
	Private      bool          `json:"private"`
	Rich         bool          `json:"rich"`
	NoRecord     bool          `json:"no_record"`
	NoLive       bool          `json:"no_live"`
	State        RoomState     `json:"state"`
	Participants []Participant `json:"participants,omitempty"`
}

func viewOf(r *Room, withPeople bool) roomView {
	cfg := r.Config()
	v := roomView{
		Number: cfg.Number, Alias: cfg.Alias, Name: cfg.Name, HasHostPIN: cfg.HostPIN != "",
		HasGuestPIN: cfg.GuestPIN != "", AllowGuest: cfg.AllowGuest, Private: cfg.Private, Rich: cfg.Rich,
		NoRecord: cfg.NoRecord, NoLive: cfg.NoLive, State: r.State(),
	}
	if withPeople {
		v.Participants = r.Participants()
	}
	return v
}

type ctlError struct {
	Error string `json:"error"`
}

func (s *Server) controlMux() *http.ServeMux {
	mux := http.NewServeMux()
	bad := func(w http.ResponseWriter, status int, msg string) {
		writeJSON(w, status, ctlError{Error: msg})
	}
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			bad(w, http.StatusBadRequest, "cannot read body")
			return false
		}
		if len(b) == 0 {
			return true
		}
		if err := json.Unmarshal(b, v); err != nil {
			bad(w, http.StatusBadRequest, "body is not the JSON expected: "+err.Error())
			return false
		}
		return true
	}
	room := func(w http.ResponseWriter, r *http.Request) *Room {
		rm := s.Room(r.PathValue("room"))
		if rm == nil {
			bad(w, http.StatusNotFound, "no room "+r.PathValue("room"))
		}
		return rm
	}
	// who resolves the "who" field of a body to a uuid.
	type whoBody struct {
		Who  string `json:"who"`
		On   *bool  `json:"on"`
		Text string `json:"text"`
		Type string `json:"type"`
		To   string `json:"to"`
		Unsupported
	}
	withWho := func(fn func(w http.ResponseWriter, rm *Room, uuid string, b whoBody)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			rm := room(w, r)
			if rm == nil {
				return
			}
			var b whoBody
			if !decode(w, r, &b) {
				return
			}
			uuid, ok := rm.Find(b.Who)
			if !ok {
				bad(w, http.StatusNotFound, "no participant "+b.Who)
				return
			}
			fn(w, rm, uuid, b)
		}
	}
	okay := func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, map[string]bool{"ok": true}) }

	mux.HandleFunc("GET /_sim/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, controlHelp)
	})
	mux.HandleFunc("GET /_sim/rooms", func(w http.ResponseWriter, r *http.Request) {
		out := []roomView{}
		for _, rm := range s.Rooms() {
			out = append(out, viewOf(rm, false))
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /_sim/rooms", func(w http.ResponseWriter, r *http.Request) {
		var cfg RoomConfig
		if !decode(w, r, &cfg) {
			return
		}
		writeJSON(w, http.StatusOK, viewOf(s.AddRoom(cfg), true))
	})
	mux.HandleFunc("GET /_sim/rooms/{room}", func(w http.ResponseWriter, r *http.Request) {
		if rm := room(w, r); rm != nil {
			writeJSON(w, http.StatusOK, viewOf(rm, true))
		}
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/join", func(w http.ResponseWriter, r *http.Request) {
		rm := room(w, r)
		if rm == nil {
			return
		}
		var spec ParticipantSpec
		if !decode(w, r, &spec) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"uuid": rm.Join(spec)})
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/leave", withWho(func(w http.ResponseWriter, rm *Room, uuid string, _ whoBody) {
		rm.Leave(uuid)
		okay(w)
	}))
	mux.HandleFunc("POST /_sim/rooms/{room}/present", withWho(func(w http.ResponseWriter, rm *Room, uuid string, b whoBody) {
		rm.Present(uuid, b.On == nil || *b.On)
		okay(w)
	}))
	mux.HandleFunc("POST /_sim/rooms/{room}/speak", withWho(func(w http.ResponseWriter, rm *Room, uuid string, _ whoBody) {
		rm.Speak(uuid)
		okay(w)
	}))
	mux.HandleFunc("POST /_sim/rooms/{room}/chat", withWho(func(w http.ResponseWriter, rm *Room, uuid string, b whoBody) {
		rm.Chat(uuid, b.Text)
		okay(w)
	}))
	mux.HandleFunc("POST /_sim/rooms/{room}/message", withWho(func(w http.ResponseWriter, rm *Room, uuid string, b whoBody) {
		if b.Type == "" {
			b.Type = "text/plain"
		}
		if !rm.Message(uuid, b.Type, b.Text, b.To) {
			bad(w, http.StatusNotFound, "no participant "+b.To)
			return
		}
		okay(w)
	}))
	mux.HandleFunc("POST /_sim/rooms/{room}/revoke", func(w http.ResponseWriter, r *http.Request) {
		if rm := room(w, r); rm != nil {
			writeJSON(w, http.StatusOK, map[string]bool{"sent": rm.RevokePresentation()})
		}
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/unsupported", withWho(func(w http.ResponseWriter, rm *Room, uuid string, b whoBody) {
		rm.SetUnsupported(uuid, b.Unsupported)
		okay(w)
	}))
	mux.HandleFunc("POST /_sim/rooms/{room}/end", func(w http.ResponseWriter, r *http.Request) {
		if rm := room(w, r); rm != nil {
			rm.End()
			okay(w)
		}
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/admin_disconnect", withWho(func(w http.ResponseWriter, rm *Room, uuid string, _ whoBody) {
		rm.AdminDisconnect(uuid)
		okay(w)
	}))
	mux.HandleFunc("POST /_sim/rooms/{room}/lock", func(w http.ResponseWriter, r *http.Request) {
		rm := room(w, r)
		if rm == nil {
			return
		}
		var b struct {
			Locked *bool `json:"locked"`
		}
		if !decode(w, r, &b) {
			return
		}
		rm.SetLocked(b.Locked == nil || *b.Locked)
		okay(w)
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/frame", func(w http.ResponseWriter, r *http.Request) {
		if rm := room(w, r); rm != nil {
			writeJSON(w, http.StatusOK, map[string]bool{"sent": rm.Frame()})
		}
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/next_slide", func(w http.ResponseWriter, r *http.Request) {
		if rm := room(w, r); rm != nil {
			writeJSON(w, http.StatusOK, map[string]bool{"sent": rm.NextSlide()})
		}
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/drop_streams", func(w http.ResponseWriter, r *http.Request) {
		if rm := room(w, r); rm != nil {
			writeJSON(w, http.StatusOK, map[string]int{"closed": rm.DropStreams()})
		}
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/bye", func(w http.ResponseWriter, r *http.Request) {
		if rm := room(w, r); rm != nil {
			writeJSON(w, http.StatusOK, map[string]int{"closed": rm.ByeStreams()})
		}
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/refresh", func(w http.ResponseWriter, r *http.Request) {
		if rm := room(w, r); rm != nil {
			rm.RequestRefresh()
			okay(w)
		}
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/inject", func(w http.ResponseWriter, r *http.Request) {
		rm := room(w, r)
		if rm == nil {
			return
		}
		var b struct {
			Frame string `json:"frame"`
		}
		if !decode(w, r, &b) {
			return
		}
		rm.InjectRaw(b.Frame)
		okay(w)
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/emit", func(w http.ResponseWriter, r *http.Request) {
		rm := room(w, r)
		if rm == nil {
			return
		}
		var b struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if !decode(w, r, &b) {
			return
		}
		if b.Event == "" {
			bad(w, http.StatusBadRequest, "event is required")
			return
		}
		var data any
		if len(b.Data) > 0 {
			data = b.Data
		}
		rm.Emit(b.Event, data)
		okay(w)
	})
	mux.HandleFunc("POST /_sim/rooms/{room}/hangup_streaming", func(w http.ResponseWriter, r *http.Request) {
		if rm := room(w, r); rm != nil {
			writeJSON(w, http.StatusOK, map[string]int{"dropped": rm.HangUpStreaming()})
		}
	})
	mux.HandleFunc("POST /_sim/streaming/fail", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			N int `json:"n"`
		}
		if !decode(w, r, &b) {
			return
		}
		if b.N == 0 {
			b.N = 1
		}
		s.FailStreamingDials(b.N)
		okay(w)
	})
	mux.HandleFunc("POST /_sim/streaming/drop", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			MS int `json:"ms"`
			N  int `json:"n"`
		}
		if !decode(w, r, &b) {
			return
		}
		if b.N == 0 {
			b.N = 1
		}
		s.DropStreamingAfter(time.Duration(b.MS)*time.Millisecond, b.N)
		okay(w)
	})
	mux.HandleFunc("POST /_sim/fail", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Op     string `json:"op"`
			Status int    `json:"status"`
			N      int    `json:"n"`
		}
		if !decode(w, r, &b) {
			return
		}
		if b.Op == "" {
			b.Op = "*"
		}
		if b.Status == 0 {
			b.Status = http.StatusServiceUnavailable
		}
		if b.N == 0 {
			b.N = 1
		}
		s.FailNext(b.Op, b.Status, b.N)
		okay(w)
	})
	mux.HandleFunc("POST /_sim/slow", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Op string `json:"op"`
			MS int    `json:"ms"`
			N  int    `json:"n"`
		}
		if !decode(w, r, &b) {
			return
		}
		if b.Op == "" {
			b.Op = "*"
		}
		if b.N == 0 {
			b.N = 1
		}
		s.SlowNext(b.Op, time.Duration(b.MS)*time.Millisecond, b.N)
		okay(w)
	})
	mux.HandleFunc("POST /_sim/latency", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			MS int `json:"ms"`
		}
		if !decode(w, r, &b) {
			return
		}
		s.SetLatency(time.Duration(b.MS) * time.Millisecond)
		okay(w)
	})
	mux.HandleFunc("POST /_sim/expire_tokens", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireTokens()
		okay(w)
	})
	mux.HandleFunc("POST /_sim/clear_faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		okay(w)
	})
	mux.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, r *http.Request) {
		type reqView struct {
			Method      string    `json:"method"`
			Op          string    `json:"op"`
			Room        string    `json:"room,omitempty"`
			Participant string    `json:"participant,omitempty"`
			TokenValid  bool      `json:"token_valid"`
			Time        time.Time `json:"time"`
		}
		out := []reqView{}
		for _, rr := range s.Requests() {
			out = append(out, reqView{rr.Method, rr.Op, rr.Room, rr.Participant, rr.TokenValid, rr.Time})
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("/_sim/", func(w http.ResponseWriter, r *http.Request) {
		s.log.Warn("sim: unknown control route", "method", r.Method, "path", r.URL.Path)
		bad(w, http.StatusNotFound, "meetings/sim: no control route "+r.Method+" "+r.URL.Path+"; GET /_sim/ lists them")
	})
	return mux
}
