package sim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func stdRoom(e *env) *Room {
	return e.sim.AddRoom(RoomConfig{Number: "1061", Alias: "zjvmr@myvmr.cn", Name: "Weekly", HostPIN: "1234", GuestPIN: "5678"})
}

func TestCheckJoin(t *testing.T) {
	e := newEnv(t, Options{})
	stdRoom(e)
	e.sim.AddRoom(RoomConfig{Number: "2000", Alias: "open", HostPIN: "1111", AllowGuest: true})
	type res struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Results map[string]any `json:"results"`
	}
	check := func(account, pwd string) (int, res) {
		a := e.do("POST", "/api/v3/meet/checkJoin.shtml", nil, map[string]string{"joinAccount": account, "joinPwd": pwd, "participantName": "meetbot"})
		var r res
		if err := json.Unmarshal(a.Body, &r); err != nil {
			t.Fatalf("checkJoin body %s: %v", a.Body, err)
		}
		return a.Status, r
	}
	t.Run("Host", func(t *testing.T) {
		status, r := check("1061", "1234")
		if status != 200 || r.Code != "200" {
			t.Fatalf("status %d code %q", status, r.Code)
		}
		// Clarification 7: mcuHost is the host the request came to, so a loopback server works.
		want := map[string]any{
			"isDot": false, "sipkey": "1061", "alias": "zjvmr@myvmr.cn", "password": "1234",
			"participantName": "meetbot", "roleType": "host", "mcuHost": strings.TrimPrefix(e.ts.URL, "http://"),
			"companyId": float64(7), "isRecord": true, "isLive": true, "conferenceName": "Weekly", "allowGuest": "yes",
		}
		if d := cmp.Diff(want, r.Results); d != "" {
			t.Errorf("results (-want +got):\n%s", d)
		}
	})
	t.Run("GuestByAlias", func(t *testing.T) {
		_, r := check("ZJVMR@myvmr.cn", "5678")
		if r.Code != "200" || r.Results["roleType"] != "guest" {
			t.Errorf("code %q role %v, want 200 guest", r.Code, r.Results["roleType"])
		}
	})
	t.Run("GuestWithoutPIN", func(t *testing.T) {
		_, r := check("open", "")
		if r.Code != "200" || r.Results["roleType"] != "guest" {
			t.Errorf("code %q role %v, want 200 guest", r.Code, r.Results["roleType"])
		}
	})
	// Clarification 8: failures answer HTTP 200 with another code and a message.
	for _, c := range []struct{ name, account, pwd, code string }{
		{"WrongPIN", "1061", "0000", "403"},
		{"PINRequired", "1061", "", "403"},
		{"UnknownRoom", "9999", "1234", "404"},
		{"NoAccount", "", "1234", "400"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, r := check(c.account, c.pwd)
			if status != 200 || r.Code != c.code || r.Message == "" || r.Results != nil {
				t.Errorf("status %d code %q message %q results %v; want 200, %s, a message, no results", status, r.Code, r.Message, r.Results, c.code)
			}
		})
	}
	t.Run("NotJSON", func(t *testing.T) {
		a := e.do("POST", "/api/v3/meet/checkJoin.shtml", nil, "joinAccount=1061")
		if a.Status != 200 || !strings.Contains(string(a.Body), `"code":"400"`) {
			t.Errorf("got %d %s", a.Status, a.Body)
		}
	})
}

func TestNewSession(t *testing.T) {
	e := newEnv(t, Options{})
	stdRoom(e)
	t.Run("HostFields", func(t *testing.T) {
		s := e.open("1061", "Alice", "1234")
		for _, k := range []string{"token", "expires", "participant_uuid", "display_name", "stun", "analytics_enabled", "version", "role", "service_type", "chat_enabled", "current_service_type"} {
			if _, ok := s.info[k]; !ok {
				t.Errorf("new_session answer lacks %q", k)
			}
		}
		if s.info["role"] != "HOST" || s.info["expires"] != float64(120) || s.info["display_name"] != "Alice" {
			t.Errorf("role %v expires %v (want the number 120) name %v", s.info["role"], s.info["expires"], s.info["display_name"])
		}
	})
	t.Run("GuestByAlias", func(t *testing.T) {
		s := e.open("zjvmr@myvmr.cn", "Gus", "5678")
		if s.info["role"] != "GUEST" {
			t.Errorf("role %v, want GUEST", s.info["role"])
		}
	})
	// Clarification 6: the exact error shapes.
	t.Run("InvalidPIN", func(t *testing.T) {
		_, a := e.tryOpen("1061", "Mallory", "0000", false)
		if a.Status != 403 || a.str() != "Invalid PIN" {
			t.Errorf("got %d %s, want 403 Invalid PIN", a.Status, a.Body)
		}
	})
	t.Run("PINRequired", func(t *testing.T) {
		_, a := e.tryOpen("1061", "Mallory", "", false)
		want := map[string]any{"pin": "required", "guest_pin": "required", "version": map[string]any{"pseudo_version": "25010.0.0", "version_id": "12"}}
		if a.Status != 403 || !cmp.Equal(a.obj(), want) {
			t.Errorf("got %d %s, want 403 %v", a.Status, a.Body, want)
		}
	})
	t.Run("GuestPINNone", func(t *testing.T) {
		e.sim.AddRoom(RoomConfig{Number: "3000", HostPIN: "1111", AllowGuest: true})
		_, a := e.tryOpen("3000", "Gus", "", false)
		want := map[string]any{"pin": "required", "guest_pin": "none", "version": map[string]any{"pseudo_version": "25010.0.0", "version_id": "12"}}
		if a.Status != 403 || !cmp.Equal(a.obj(), want) {
			t.Fatalf("got %d %s, want 403 %v", a.Status, a.Body, want)
		}
		s := e.open("3000", "Gus", "none")
		if s.info["role"] != "GUEST" {
			t.Errorf("role %v with pin none, want GUEST", s.info["role"])
		}
	})
	t.Run("NoPINRoomMakesHosts", func(t *testing.T) {
		e.sim.AddRoom(RoomConfig{Number: "4000"})
		if s := e.open("4000", "Anyone", ""); s.info["role"] != "HOST" {
			t.Errorf("role %v, want HOST", s.info["role"])
		}
	})
	t.Run("UnknownRoom", func(t *testing.T) {
		_, a := e.tryOpen("nowhere", "Alice", "1234", false)
		if a.Status != 404 || a.str() != "Neither conference nor gateway found" {
			t.Errorf("got %d %s", a.Status, a.Body)
		}
	})
	t.Run("NotJSON", func(t *testing.T) {
		a := e.do("POST", "/api/services/1061/new_session", map[string]string{"pin": "1234", "Content-Type": "text/plain"}, "display_name=Alice")
		if a.Status != http.StatusUnsupportedMediaType {
			t.Errorf("got %d %s, want 415", a.Status, a.Body)
		}
	})
	t.Run("MalformedJSON", func(t *testing.T) {
		a := e.do("POST", "/api/services/1061/new_session", map[string]string{"pin": "1234", "Content-Type": "application/json"}, `{"display_name":`)
		if a.Status != 400 || a.str() != "Illegal value" {
			t.Errorf("got %d %s, want 400 Illegal value", a.Status, a.Body)
		}
	})
}

func TestRefreshAndEndSession(t *testing.T) {
	e := newEnv(t, Options{})
	stdRoom(e)
	s := e.open("1061", "Alice", "1234")
	old := s.token
	a := s.post("refresh_session", nil)
	if a.Status != 200 {
		t.Fatalf("refresh: %d %s", a.Status, a.Body)
	}
	m := a.obj()
	// The page's example sends expires as a string here.
	if m["expires"] != "120" {
		t.Errorf("refresh expires = %#v, want the string \"120\"", m["expires"])
	}
	s.token = m["token"].(string)
	if s.token == old {
		t.Fatal("refresh returned the same token")
	}
	if a := s.get("service_status"); a.Status != 200 {
		t.Errorf("new token: %d %s", a.Status, a.Body)
	}
	oldS := *s
	oldS.token = old
	if a := oldS.get("service_status"); a.Status != 403 || a.str() != "Invalid token" {
		t.Errorf("old token after refresh: %d %s, want 403 Invalid token", a.Status, a.Body)
	}
	if a := s.post("end_session", nil); a.Status != 200 {
		t.Errorf("end_session: %d %s", a.Status, a.Body)
	}
	if a := s.get("service_status"); a.Status != 403 || a.str() != "Invalid token" {
		t.Errorf("after end_session: %d %s, want 403 Invalid token", a.Status, a.Body)
	}
	if _, ok := e.sim.Room("1061").Participant(s.uuid); ok {
		t.Error("the tsession's participant stayed after end_session")
	}
	if a := e.do("GET", "/api/services/1061/service_status", nil, nil); a.Status != 403 || a.str() != "Invalid token" {
		t.Errorf("no token: %d %s", a.Status, a.Body)
	}
}

// Clarification 5: a token not refreshed in time lapses and the participant is dropped.
func TestTokenLapses(t *testing.T) {
	e := newEnv(t, Options{TokenTTL: 300 * time.Millisecond})
	room := stdRoom(e)
	alice := room.Join(ParticipantSpec{Name: "Alice"})
	bot := e.open("1061", "meetbot", "1234")
	if bot.info["expires"] != 0.3 {
		t.Errorf("expires = %v, want 0.3", bot.info["expires"])
	}
	st := bot.stream()
	st.sync("participant_create")
	// The bot never refreshes: its stream ends with the lapse.
	evs := st.closed()
	last := evs[len(evs)-1]
	var body map[string]string
	if last.Name != "disconnect" || last.decode(&body) != nil || body["reason"] != "Timer expired awaiting token refresh" {
		t.Errorf("last event = %+v, want disconnect with the lapse reason", last)
	}
	if a := bot.get("participants"); a.Status != 403 || a.str() != "Invalid token" {
		t.Errorf("lapsed token: %d %s", a.Status, a.Body)
	}
	ps := room.Participants()
	if len(ps) != 1 || ps[0].UUID != alice {
		t.Errorf("participants after the lapse = %+v, want Alice alone", ps)
	}
}

func TestExpireTokens(t *testing.T) {
	e := newEnv(t, Options{})
	stdRoom(e)
	s := e.open("1061", "meetbot", "1234")
	st := s.stream()
	st.sync("participant_create")
	e.sim.ExpireTokens()
	evs := st.closed()
	if len(evs) == 0 || evs[len(evs)-1].Name != "disconnect" || !strings.Contains(evs[len(evs)-1].Data, "Timer expired awaiting token refresh") {
		t.Errorf("events = %+v, want a final disconnect with the lapse reason", evs)
	}
	if a := s.get("service_status"); a.Status != 403 || a.str() != "Invalid token" {
		t.Errorf("after ExpireTokens: %d %s", a.Status, a.Body)
	}
	if a := s.post("refresh_session", nil); a.Status != 403 {
		t.Errorf("refresh after ExpireTokens: %d %s, want 403", a.Status, a.Body)
	}
}

func TestInjectableClock(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	e := newEnv(t, Options{Now: func() time.Time { return clock() }})
	stdRoom(e)
	s := e.open("1061", "meetbot", "1234")
	now = now.Add(121 * time.Second)
	if a := s.get("service_status"); a.Status != 403 || a.str() != "Invalid token" {
		t.Errorf("121 s later by the clock: %d %s, want 403 Invalid token", a.Status, a.Body)
	}
	if _, ok := e.sim.Room("1061").Participant(s.uuid); ok {
		t.Error("the lapsed tsession's participant stayed")
	}
}

func TestRequestsBounded(t *testing.T) {
	e := newEnv(t, Options{MaxRecorded: 3})
	stdRoom(e)
	s := e.open("1061", "meetbot", "1234")
	for range 10 {
		s.get("service_status")
	}
	s.post("lock", nil)
	rs := e.sim.Requests()
	if len(rs) != 3 || rs[2].Op != "lock" || rs[1].Op != "service_status" {
		t.Errorf("requests %+v, want the newest 3 ending with lock", rs)
	}
}
