package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/internal/pgtest"
	"github.com/meetbot/meetbot/meetings/sim"
)

// slackStandIn is Slack's side for `bot run`: the Web API methods it calls and response_url,
// where it counts the replies each command got.
type slackStandIn struct {
	mu      sync.Mutex
	replies int
}

func (s *slackStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/response/") {
		io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.replies++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
		return
	}
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	switch strings.TrimPrefix(r.URL.Path, "/api/") {
	case "users.info":
		fmt.Fprintf(w, `{"ok":true,"user":{"id":%q,"name":"u"}}`, r.Form.Get("user"))
	case "auth.test":
		fmt.Fprint(w, `{"ok":true,"team_id":"T1","user_id":"UBOT","bot_id":"BBOT"}`)
	default:
		fmt.Fprint(w, `{"ok":true}`)
	}
}

func (s *slackStandIn) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replies
}

// startBotRun runs `bot run` in-process with env on a free loopback address, returning the
// address once /healthz answers. It stops when the test ends.
func startBotRun(t *testing.T, env map[string]string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env["HTTP_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	var stderr syncBuffer
	go func() { exit <- Main(ctx, []string{"run"}, strings.NewReader(""), io.Discard, &stderr, envOf(env)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exit:
		case <-time.After(20 * time.Second):
			t.Error("bot run did not stop")
		}
	})
	waitHealthy(t, addr, &stderr)
	return addr
}

// signedCommand posts a slash command signed with secret at ts to addr, with the signature
// passed through sigCase, and returns the status.
func signedCommand(t *testing.T, addr, secret string, ts time.Time, body string, sigCase func(string) string) int {
	t.Helper()
	return signedRequest(t, addr, "/slack/commands", secret, ts, body, sigCase)
}

// signedRequest posts body to path on addr as Slack does, signed with secret at ts and the
// signature passed through sigCase, and returns the status.
func signedRequest(t *testing.T, addr, path, secret string, ts time.Time, body string, sigCase func(string) string) int {
	t.Helper()
	s := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", s, body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", s)
	req.Header.Set("X-Slack-Signature", "v0="+sigCase(hex.EncodeToString(mac.Sum(nil))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestSlackReplayToAnotherReplica: two `bot run` replicas share one database; a signed command
// run by one is refused by the other when replayed there, in either case of its hex. Before, each
// process kept its own replay cache and the replay ran the command again.
func TestSlackReplayToAnotherReplica(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"SQLiteFile": func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "bot.db") },
		"PostgreSQL": func(t *testing.T) string { return pgtest.SchemaURL(t, "replay") },
	}
	for name, storeURL := range stores {
		t.Run(name, func(t *testing.T) {
			platform, _ := newSim(sim.Options{}, false)
			ps := httptest.NewServer(platform)
			defer ps.Close()
			slackSide := &slackStandIn{}
			ss := httptest.NewServer(slackSide)
			defer ss.Close()
			const secret = "replay-test-signing-secret"
			env := func(id string) map[string]string {
				return map[string]string{
					"MEET_API_SERVER": ps.URL, "MEETBOT_SECRET_KEY": testKey, "STORE_URL": "", "REPLICA_ID": id,
					"LOG_LEVEL": "error", "SLACK_BOT_TOKEN": "xoxb-replay", "SLACK_SIGNING_SECRET": secret,
					"SLACK_API_URL": ss.URL + "/api/",
				}
			}
			u := storeURL(t)
			e1, e2 := env("one"), env("two")
			e1["STORE_URL"], e2["STORE_URL"] = u, u
			one := startBotRun(t, e1)
			two := startBotRun(t, e2)

			body := url.Values{
				"team_id": {"T1"}, "channel_id": {"C1"}, "user_id": {"U1"}, "user_name": {"u"},
				"command": {"/meet"}, "text": {"help"}, "response_url": {ss.URL + "/response/1"},
			}.Encode()
			now := time.Now()
			same := func(s string) string { return s }
			if got := signedCommand(t, one, secret, now, body, same); got != http.StatusOK {
				t.Fatalf("first request: status %d, want 200", got)
			}
			for name, sigCase := range map[string]func(string) string{"Same": same, "Upper": strings.ToUpper} {
				if got := signedCommand(t, two, secret, now, body, sigCase); got != http.StatusUnauthorized {
					t.Errorf("%s-case replay to the other replica: status %d, want 401", name, got)
				}
			}
			resp, err := http.Get("http://" + two + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			metrics, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(metrics), `meetbot_slack_refused_total{endpoint="/slack/commands",status="401"} 2`) {
				t.Errorf("/metrics does not count the two refused replays:\n%s", grepLines(string(metrics), "slack_refused"))
			}
			// The one accepted command is answered once; the refused ones never reach the core.
			deadline := time.Now().Add(10 * time.Second)
			for slackSide.count() < 1 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := slackSide.count(); n != 1 {
				t.Errorf("the command was answered %d times, want once", n)
			}
		})
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
