package meetings_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

// attacker is a plain-HTTP server that records every request it receives and any PIN or token
// it was handed.
type attacker struct {
	*httptest.Server
	mu      sync.Mutex
	seen    []string
	secrets []string
}

func newAttacker(t *testing.T) *attacker {
	a := &attacker{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		defer a.mu.Unlock()
		a.seen = append(a.seen, r.Method+" "+r.URL.Path)
		for _, v := range []string{r.Header.Get("pin"), r.Header.Get("token"), r.URL.Query().Get("token")} {
			if v != "" {
				a.secrets = append(a.secrets, v)
			}
		}
		if strings.Contains(string(body), "joinPwd") {
			a.secrets = append(a.secrets, "checkJoin body")
		}
		io.WriteString(w, `{"status":"success","result":{"token":"stolen","expires":120}}`)
	}))
	t.Cleanup(a.Close)
	return a
}

// check fails the test if the attacker received anything at all.
func (a *attacker) check(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) > 0 || len(a.secrets) > 0 {
		t.Errorf("the plain-HTTP server received %v, with secrets %q", a.seen, a.secrets)
	}
}

func refused(t *testing.T, what string, err error, mustName string) {
	t.Helper()
	var pe *meetings.Error
	if !errors.Is(err, meetings.ErrNodeRefused) || !errors.As(err, &pe) {
		t.Errorf("%s = %v, want ErrNodeRefused", what, err)
		return
	}
	if mustName != "" && !strings.Contains(err.Error(), mustName) {
		t.Errorf("%s: error %q does not name %s", what, err, mustName)
	}
	for _, secret := range []string{"1234", "4321", "token="} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %q shows a secret (%s)", what, err, secret)
		}
	}
}

// Issue 11 item 6: an https checkJoin server that names an http:// node does not get the PIN
// sent in clear.
func TestNodeNeverDowngradesToHTTP(t *testing.T) {
	evil := newAttacker(t)
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"code":"200","results":{"sipkey":"1061","roleType":"host","mcuHost":"`+evil.URL+`"}}`)
	}))
	defer api.Close()
	c, err := meetings.NewClient(api.URL, meetings.ClientOptions{HTTPClient: api.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, err := c.CheckJoin(ctx, "1061", "4321", "meetbot")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Open(ctx, meetings.Room{Node: info.MCUHost, Alias: "1061"}, meetings.SessionOptions{DisplayName: "meetbot", PIN: "4321"})
	refused(t, "Open on an http node from an https checkJoin", err, "127.0.0.1")
	_, err = c.Open(ctx, meetings.Room{Node: "https://meetbot@" + strings.TrimPrefix(api.URL, "https://"), Alias: "1061"},
		meetings.SessionOptions{DisplayName: "meetbot", PIN: "4321"})
	refused(t, "Open on a node URL with user information", err, "")
	evil.check(t)

	// An https node is fine, and so is plain http when the apiServer is plain http too.
	node := httptest.NewTLSServer(sim.New(sim.Options{}))
	defer node.Close()
	node.Config.Handler.(*sim.Server).AddRoom(sim.RoomConfig{Number: "1061", HostPIN: "4321"})
	s, err := c.Open(ctx, meetings.Room{Node: node.URL, Alias: "1061"}, meetings.SessionOptions{DisplayName: "meetbot", PIN: "4321"})
	if err != nil {
		t.Fatalf("Open on an https node: %v", err)
	}
	s.Close(ctx)
}

// Issue 11 item 6: the client never follows a redirect, so neither the pin header, the token
// (header or events query) nor checkJoin's body reach another host, nor a second path on the
// same one.
func TestNodeRedirectsAreNotFollowed(t *testing.T) {
	evil := newAttacker(t)
	s := sim.New(sim.Options{})
	room := s.AddRoom(sim.RoomConfig{Number: "1061", HostPIN: "1234"})
	f := newFaultyNode(s)
	node := httptest.NewTLSServer(f)
	defer node.Close()
	c, err := meetings.NewClient(node.URL, meetings.ClientOptions{HTTPClient: node.Client(), RetryBackoff: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	evilHost := strings.TrimPrefix(evil.URL, "http://")

	f.Redirect("/api/v3/meet/checkJoin.shtml", evil.URL+"/api/v3/meet/checkJoin.shtml")
	_, err = c.CheckJoin(ctx, "1061", "1234", "meetbot")
	refused(t, "CheckJoin redirected", err, evilHost)
	f.Redirect("/api/v3/meet/checkJoin.shtml", "")

	room1061 := meetings.Room{Alias: "1061"}
	opts := meetings.SessionOptions{DisplayName: "meetbot", PIN: "1234"}
	f.Redirect("1061/new_session", evil.URL+"/api/services/1061/new_session")
	_, err = c.Open(ctx, room1061, opts)
	refused(t, "Open redirected", err, evilHost)
	f.Redirect("1061/new_session", "")

	sess, err := c.Open(ctx, room1061, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(ctx)
	f.Redirect("lock", evil.URL+"/api/services/1061/lock")
	refused(t, "Lock redirected", sess.Lock(ctx), evilHost)
	f.Redirect("events", evil.URL+"/api/services/1061/events")
	refused(t, "Events redirected", sess.Events(ctx, func(meetings.Event) {}), evilHost)
	// A redirect to the same host is not followed either.
	f.Redirect("unlock", node.URL+"/api/services/1061/lock")
	before := len(s.Requests())
	refused(t, "Unlock redirected to lock", sess.Unlock(ctx), "")
	for _, r := range s.Requests()[before:] {
		if r.Op == "lock" {
			t.Error("the redirect to lock was followed")
		}
	}
	if room.State().Locked {
		t.Error("room locked through a redirect")
	}
	evil.check(t)
}

// Issue 11 item 6: MEET_NODE_HOSTS. With NodeHosts set, a node outside the list is refused with
// an error naming its host, before anything is sent; names and suffixes inside it work.
func TestNodeHosts(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.room()
	// Every host name leads to the simulator, as DNS would for real nodes.
	addr := e.srv.Listener.Addr().String()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	c, err := meetings.NewClient(e.srv.URL, meetings.ClientOptions{
		HTTPClient: &http.Client{Transport: tr},
		NodeHosts:  []string{".example.com", "meet.test", "*.nodes.test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := meetings.SessionOptions{DisplayName: "meetbot", PIN: "1234"}
	_, port, _ := net.SplitHostPort(addr)
	for _, node := range []string{"node1.example.com", "NODE2.Example.COM:" + port, "meet.test", "a.nodes.test", "http://b.example.com:" + port + "/", ""} {
		s, err := c.Open(ctx, meetings.Room{Node: node, Alias: "1061"}, opts)
		if err != nil {
			t.Errorf("Open on allowed node %q: %v", node, err)
			continue
		}
		s.Close(ctx)
	}
	sent := e.count("new_session")
	for _, node := range []string{"example.com", "evil-example.com", "node1.example.com.evil.test", "meet.test.evil", "localhost:" + port, "nodes.test"} {
		_, err := c.Open(ctx, meetings.Room{Node: node, Alias: "1061"}, opts)
		host, _, _ := strings.Cut(node, ":")
		refused(t, "Open on "+node, err, host)
	}
	if n := e.count("new_session") - sent; n != 0 {
		t.Errorf("%d new_session requests reached refused nodes", n)
	}
	for _, bad := range []string{"https://a.example.com", "a.example.com/x", "user@a.example.com", "a.example.com:443", "."} {
		if _, err := meetings.NewClient(e.srv.URL, meetings.ClientOptions{NodeHosts: []string{bad}}); err == nil {
			t.Errorf("NewClient accepted node host %q", bad)
		}
	}
}
