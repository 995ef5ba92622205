package meetings_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

func TestNewClientRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "api.example.cn", "ftp://api.example.cn", "http://"} {
		if _, err := meetings.NewClient(u, meetings.ClientOptions{}); err == nil {
			t.Errorf("NewClient(%q) = nil error, want one", u)
		}
	}
}

// Clarification 8: checkJoin is a JSON body; code "200" is success, any other code fails with
// the platform's message.
func TestCheckJoin(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.room()
	e.sim.AddRoom(sim.RoomConfig{Number: "2000", Alias: "open@myvmr.cn", HostPIN: "1", AllowGuest: true})
	ctx := context.Background()

	t.Run("HostPIN", func(t *testing.T) {
		got, err := e.c.CheckJoin(ctx, "1061", "1234", "meetbot")
		if err != nil {
			t.Fatal(err)
		}
		want := meetings.JoinInfo{SIPKey: "1061", Alias: "zjvmr@myvmr.cn", ParticipantName: "meetbot",
			RoleType: "host", MCUHost: e.node(), ConferenceName: "Weekly", CompanyID: 7, IsRecord: true, IsLive: true,
			AllowGuest: true}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CheckJoin (-want +got):\n%s", diff)
		}
	})
	t.Run("ByAliasAsGuest", func(t *testing.T) {
		got, err := e.c.CheckJoin(ctx, "zjvmr@myvmr.cn", "5678", "meetbot")
		if err != nil {
			t.Fatal(err)
		}
		if got.RoleType != "guest" || got.SIPKey != "1061" {
			t.Errorf("CheckJoin by alias = %+v, want guest in 1061", got)
		}
	})
	cases := []struct {
		name, room, pin string
		kind            error
	}{
		{"ErrInvalidPIN", "1061", "9999", meetings.ErrInvalidPIN},
		{"ErrPINRequired", "1061", "", meetings.ErrPINRequired},
		{"ErrNotFound", "4040", "", meetings.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.CheckJoin(ctx, tc.room, tc.pin, "meetbot")
			if !errors.Is(err, tc.kind) {
				t.Fatalf("CheckJoin = %v, want %v", err, tc.kind)
			}
			var pe *meetings.Error
			if !errors.As(err, &pe) || pe.Reason == "" || pe.Op != "checkJoin" {
				t.Errorf("error %#v: want an *Error with op checkJoin and the platform's message", err)
			}
			if strings.Contains(err.Error(), "9999") {
				t.Errorf("error %q shows the PIN", err)
			}
		})
	}
	t.Run("BodyIsJSON", func(t *testing.T) {
		reqs := e.sim.Requests()
		var body map[string]string
		if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
			t.Fatalf("checkJoin body %q is not JSON: %v", reqs[0].Body, err)
		}
		if body["joinAccount"] != "1061" || body["joinPwd"] != "1234" || body["participantName"] != "meetbot" {
			t.Errorf("checkJoin body = %v", body)
		}
	})
}

func TestCheckJoinLenientAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Clarification 9: booleans as strings, numbers as strings; allowGuest "no".
		io.WriteString(w, `{"code":200,"results":{"isDot":"true","sipkey":1061,"companyId":"7",
			"isRecord":"YES","isLive":1,"allowGuest":"no","mcuHost":"https://node1.example.cn:8443","extra":{"a":[1]}}}`)
	}))
	defer srv.Close()
	c, _ := meetings.NewClient(srv.URL, meetings.ClientOptions{})
	got, err := c.CheckJoin(context.Background(), "1061", "", "bot")
	if err != nil {
		t.Fatal(err)
	}
	want := meetings.JoinInfo{IsDot: true, SIPKey: "1061", CompanyID: 7, IsRecord: true, IsLive: true,
		MCUHost: "https://node1.example.cn:8443"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CheckJoin (-want +got):\n%s", diff)
	}
}

// Clarification 7: mcuHost may be a bare host, host:port or a full URL; a bare host takes the
// apiServer's scheme. The room alias is path-escaped.
func TestRoomURLs(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.RequestURI)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","result":{"token":"t1","expires":120,"current_service_type":"conference"}}`)
	}))
	defer srv.Close()
	c, _ := meetings.NewClient(srv.URL, meetings.ClientOptions{})
	hostPort := strings.TrimPrefix(srv.URL, "http://")
	cases := []struct {
		node, alias, want string
	}{
		{hostPort, "1061", "/api/services/1061/new_session"},
		{srv.URL, "zjvmr@myvmr.cn", "/api/services/zjvmr@myvmr.cn/new_session"},
		{srv.URL + "/", "a/b c?d", "/api/services/a%2Fb%20c%3Fd/new_session"},
		{"", "1061", "/api/services/1061/new_session"},
	}
	for _, tc := range cases {
		mu.Lock()
		paths = nil
		mu.Unlock()
		s, err := c.Open(context.Background(), meetings.Room{Node: tc.node, Alias: tc.alias}, meetings.SessionOptions{DisplayName: "bot"})
		if err != nil {
			t.Fatalf("Open(node %q, alias %q): %v", tc.node, tc.alias, err)
		}
		s.Close(context.Background())
		mu.Lock()
		if len(paths) == 0 || paths[0] != tc.want {
			t.Errorf("node %q alias %q: requested %q, want %q", tc.node, tc.alias, paths, tc.want)
		}
		mu.Unlock()
	}
	for _, bad := range []string{"ftp://x", "host/with/path"} {
		if _, err := c.Open(context.Background(), meetings.Room{Node: bad, Alias: "1"}, meetings.SessionOptions{}); err == nil {
			t.Errorf("Open with node %q succeeded", bad)
		}
	}
}

// Clarification 6: the errors of new_session, each with the platform's reason.
func TestOpenErrors(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.room()
	e.sim.AddRoom(sim.RoomConfig{Number: "2000", HostPIN: "1111", AllowGuest: true})
	open := func(alias, pin string) (*meetings.Session, error) {
		return e.c.Open(context.Background(), meetings.Room{Node: e.node(), Alias: alias},
			meetings.SessionOptions{DisplayName: "meetbot", PIN: pin})
	}
	t.Run("ErrInvalidPIN", func(t *testing.T) {
		_, err := open("1061", "0000")
		var pe *meetings.Error
		if !errors.As(err, &pe) || pe.Kind != meetings.ErrInvalidPIN || pe.Reason != "Invalid PIN" || pe.Status != 403 {
			t.Fatalf("Open = %#v, want ErrInvalidPIN with reason \"Invalid PIN\"", err)
		}
	})
	t.Run("ErrPINRequired", func(t *testing.T) {
		_, err := open("1061", "")
		var pe *meetings.Error
		if !errors.As(err, &pe) || !errors.Is(err, meetings.ErrPINRequired) || !pe.GuestPINNeeded {
			t.Fatalf("Open = %#v, want ErrPINRequired with GuestPINNeeded", err)
		}
	})
	t.Run("GuestPINNone", func(t *testing.T) {
		// guest_pin "none": the session joins as a guest with "pin: none".
		s, err := open("2000", "")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		if s.Info().IsHost() {
			t.Error("joined without a PIN as host, want guest")
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := open("4040", "")
		var pe *meetings.Error
		if !errors.As(err, &pe) || pe.Kind != meetings.ErrNotFound || pe.Reason != "Neither conference nor gateway found" {
			t.Fatalf("Open = %#v, want ErrNotFound with the platform's reason", err)
		}
	})
}

func TestOpenInfoAndCloud(t *testing.T) {
	e := newEnv(t, sim.Options{TokenTTL: 90e9}, meetings.ClientOptions{})
	e.room()
	e.sim.AddRoom(sim.RoomConfig{Number: "3000", HostPIN: "1", Private: true})
	host := e.open("1061", "1234")
	info := host.Info()
	if !info.IsHost() || info.Role != "HOST" || info.ParticipantUUID == "" || info.DisplayName != "meetbot" ||
		info.Expires != 90e9 || !info.ChatEnabled || info.Version != "25010.0.0" || info.ServiceType != "conference" {
		t.Errorf("host Info = %+v", info)
	}
	if info.Cloud() != meetings.PublicCloud {
		t.Errorf("public room: Cloud = %s", info.Cloud())
	}
	guest := e.open("zjvmr@myvmr.cn", "5678")
	if guest.Info().IsHost() || guest.Info().Role != "GUEST" {
		t.Errorf("guest Info = %+v", guest.Info())
	}
	priv := e.open("3000", "1")
	if priv.Info().Cloud() != meetings.PrivateCloud {
		t.Errorf("private room: Cloud = %s (present %v)", priv.Info().Cloud(), priv.Info().Present)
	}
	// hideme: the session is not in the participant list.
	for _, p := range e.sim.Room("1061").Participants() {
		if p.Session && !p.Hidden {
			t.Errorf("session participant %s not hidden", p.Name)
		}
	}
	if host.Room() != (meetings.Room{Node: e.node(), Alias: "1061"}) {
		t.Errorf("Room() = %+v", host.Room())
	}
}
