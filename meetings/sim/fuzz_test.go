package sim

import (
	"encoding/json"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
)

// FuzzCommandBodies sends any body to every command: the simulator must answer with the
// platform's JSON shape and a status the API page names, never panic.
func FuzzCommandBodies(f *testing.F) {
	f.Add(0, `{"role":"guest","destination":"bob@example.com","protocol":"sip"}`, "application/json")
	f.Add(0, `{"role":"guest","destination":"rtmp://x/live/k","protocol":"rtmp","streaming":"yes","presentation_url":"rtmp://x/p","keep_conference_alive":"keep_conference_alive_never"}`, "application/json")
	f.Add(1, `{"layouts":[{"audience":"","layout":"1:7"}]}`, "application/json")
	f.Add(2, `{"digits":"12#"}`, "")
	f.Add(3, `{"call_type":"RTMP","streaming":"yes"}`, "text/plain")
	f.Add(4, `[`, "application/json; charset=utf-8")
	f.Add(5, `{"display_name":"张伟","hideme":true}`, "application/json")
	var ops []string
	for op := range conferenceOps {
		if op != "events" {
			ops = append(ops, op)
		}
	}
	for op := range participantOps {
		ops = append(ops, "participants/{p}/"+op)
	}
	sort.Strings(ops)
	allowed := map[int]bool{200: true, 400: true, 403: true, 404: true, 405: true, 415: true}
	f.Fuzz(func(t *testing.T, n int, body, ct string) {
		// A fresh room each time, so what one input leaves behind cannot slow the next.
		s := New(Options{})
		room := s.AddRoom(RoomConfig{Number: "1061", HostPIN: "1234", GuestPIN: "5678"})
		s.AddRoom(RoomConfig{Number: "2000", Private: true})
		bob := room.Join(ParticipantSpec{Name: "Bob"})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/api/services/1061/new_session", strings.NewReader(`{"display_name":"fuzz"}`))
		req.Header.Set("pin", "1234")
		s.ServeHTTP(rec, req)
		var ns struct {
			Result struct {
				Token string `json:"token"`
			} `json:"result"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &ns); err != nil || ns.Result.Token == "" {
			t.Fatalf("new_session: %s", rec.Body)
		}
		defer s.Close()
		op := strings.ReplaceAll(ops[int(uint(n)%uint(len(ops)))], "{p}", bob)
		method := methodOf(op)
		if strings.HasPrefix(op, "participants/") {
			method = "POST"
		}
		req = httptest.NewRequest(method, "/api/services/1061/"+op, strings.NewReader(body))
		req.Header.Set("token", ns.Result.Token)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec = httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if !allowed[rec.Code] {
			t.Fatalf("%s %q: status %d", op, body, rec.Code)
		}
		if rec.Header().Get("Content-Type") == "application/json" && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s: answer is not JSON: %s", op, rec.Body)
		}
	})
}
