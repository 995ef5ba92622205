package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/meetings/sim"
)

const testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// consoleRun is one `bot console` process in-process: its input, its output lines, its exit code.
type consoleRun struct {
	t      *testing.T
	sim    *sim.Server
	room   *sim.Room
	in     *io.PipeWriter
	lines  chan string
	stderr *syncBuffer
	exit   chan struct{} // closed when Main has returned
	code   int
	seen   []string
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// startConsole serves srv on loopback and runs `bot console` against it with a fresh in-memory
// store. env adds or overrides settings.
func startConsole(t *testing.T, srv *sim.Server, room *sim.Room, env map[string]string) *consoleRun {
	t.Helper()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	settings := map[string]string{
		"MEET_API_SERVER":    hs.URL,
		"STORE_URL":          "sqlite::memory:",
		"MEETBOT_SECRET_KEY": testKey,
		"LOG_LEVEL":          "warn",
	}
	for k, v := range env {
		settings[k] = v
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	r := &consoleRun{t: t, sim: srv, room: room, in: inW, lines: make(chan string, 4096), stderr: &syncBuffer{}, exit: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		r.code = Main(ctx, []string{"console"}, inR, outW, r.stderr, envOf(settings))
		outW.Close()
		close(r.exit)
	}()
	t.Cleanup(func() {
		inW.Close()
		cancel()
		select {
		case <-r.exit:
		case <-time.After(20 * time.Second):
			t.Errorf("bot console did not stop after its input closed")
		}
	})
	return r
}

func (r *consoleRun) send(cmd string) {
	r.t.Helper()
	if _, err := fmt.Fprintln(r.in, cmd); err != nil {
		r.t.Fatalf("type %q: %v", cmd, err)
	}
}

// expect waits for an output line matching re and returns it. Waiting is bounded only so that a
// broken bot fails the test instead of hanging it; the bound is not a speed requirement.
func (r *consoleRun) expect(re string) string {
	r.t.Helper()
	pat := regexp.MustCompile(re)
	deadline := time.After(15 * time.Second)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("output ended waiting for %q; stderr:\n%s", re, r.stderr.String())
			}
			r.seen = append(r.seen, line)
			if pat.MatchString(line) {
				return line
			}
		case <-deadline:
			r.t.Fatalf("no line matching %q; got:\n%s\nstderr:\n%s", re, strings.Join(r.seen, "\n"), r.stderr.String())
		}
	}
}

// expectAll waits until every one of res has matched an output line, in any order.
func (r *consoleRun) expectAll(res ...string) {
	r.t.Helper()
	pats := make([]*regexp.Regexp, len(res))
	for i, re := range res {
		pats[i] = regexp.MustCompile(re)
	}
	deadline := time.After(15 * time.Second)
	for len(pats) > 0 {
		select {
		case line, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("output ended waiting for %q; stderr:\n%s", res, r.stderr.String())
			}
			r.seen = append(r.seen, line)
			pats = slices.DeleteFunc(pats, func(p *regexp.Regexp) bool { return p.MatchString(line) })
		case <-deadline:
			r.t.Fatalf("no lines matching all of %q; got:\n%s\nstderr:\n%s", res, strings.Join(r.seen, "\n"), r.stderr.String())
		}
	}
}

// do types cmd and waits for the reply line matching re.
func (r *consoleRun) do(cmd, re string) string {
	r.t.Helper()
	r.send(cmd)
	return r.expect(re)
}

// quit closes the input and returns the exit status.
func (r *consoleRun) quit() int {
	r.t.Helper()
	r.in.Close()
	for range r.lines {
	}
	select {
	case <-r.exit:
		return r.code
	case <-time.After(20 * time.Second):
		r.t.Fatal("bot console did not exit at end of input")
		return -1
	}
}

func newSim(opts sim.Options, private bool) (*sim.Server, *sim.Room) {
	srv := sim.New(opts)
	room := srv.AddRoom(sim.RoomConfig{Number: "1061", Alias: "standup@example.com", Name: "Stand-up", HostPIN: "4321", GuestPIN: "8765", Private: private})
	return srv, room
}

func participantByName(t *testing.T, room *sim.Room, name string) sim.Participant {
	t.Helper()
	for _, p := range room.Participants() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("%s is not in the meeting", name)
	return sim.Participant{}
}

func TestConsoleRunsMeetingEndToEnd(t *testing.T) {
	srv, room := newSim(sim.Options{DialAnswerAfter: 50 * time.Millisecond}, false)
	room.Join(sim.ParticipantSpec{Name: "Alice Zhang", Role: "chair"})
	room.Join(sim.ParticipantSpec{Name: "Bob Smith"})
	room.Join(sim.ParticipantSpec{Name: "Bobby Tables"})
	room.Join(sim.ParticipantSpec{Name: "张伟"})
	bot := startConsole(t, srv, room, nil)

	t.Run("WrongPINStoresNothing", func(t *testing.T) {
		bot.do("link 1061 0000", `(?i)invalid pin`)
		bot.do("status", `(?i)not linked`)
	})
	t.Run("LinkNamesWhoIsPresentWithoutAnnouncingThem", func(t *testing.T) {
		line := bot.do("/meet link 1061 4321", `(?i)linked`)
		if strings.Contains(line, "4321") {
			t.Errorf("the reply to link shows the PIN: %q", line)
		}
		for _, name := range []string{"Alice Zhang", "Bob Smith", "张伟"} {
			if !strings.Contains(line, name) {
				t.Errorf("link reply %q does not name %s, who is present", line, name)
			}
		}
	})
	t.Run("MuteByUniquePrefix", func(t *testing.T) {
		bot.do("mute Bob S", `(?i)muted Bob Smith`)
		if !participantByName(t, room, "Bob Smith").Muted {
			t.Error("Bob Smith is not muted on the platform")
		}
	})
	t.Run("AmbiguousNameChangesNothing", func(t *testing.T) {
		bot.do("kick bob", `(?i)(which|more than one|several|matches)`)
		bot.expect(`Bobby Tables`)
		participantByName(t, room, "Bob Smith")
		participantByName(t, room, "Bobby Tables")
	})
	t.Run("UnknownNameChangesNothing", func(t *testing.T) {
		before := len(room.Participants())
		bot.do("mute Zed", `(?i)(no one|nobody|not in the meeting|no participant)`)
		if got := len(room.Participants()); got != before {
			t.Errorf("participants %d → %d after an unknown name", before, got)
		}
	})
	t.Run("MuteGuests", func(t *testing.T) {
		bot.do("mute guests", `(?i)muted (all )?guests`)
		if !room.State().GuestsMuted {
			t.Error("guests are not muted on the platform")
		}
	})
	t.Run("Lock", func(t *testing.T) {
		bot.do("lock", `(?i)locked`)
		if !room.State().Locked {
			t.Error("the meeting is not locked on the platform")
		}
	})
	t.Run("DialSIPAsGuest", func(t *testing.T) {
		bot.do("dial carol@example.com sip as guest", `(?i)(dial|calling)`)
		// The call is answered and announced before the next joins, which would otherwise be
		// coalesced with it into one line on a busy machine.
		bot.expect(`^\* carol@example.com joined`)
		var found bool
		for _, p := range room.Participants() {
			if strings.Contains(p.URI, "carol@example.com") {
				found = true
				if p.Role != "guest" || p.Protocol != "sip" {
					t.Errorf("dialled participant has role %q protocol %q, want guest over sip", p.Role, p.Protocol)
				}
			}
		}
		if !found {
			t.Errorf("no participant was dialled; participants: %+v", room.Participants())
		}
	})
	t.Run("Say", func(t *testing.T) {
		bot.do("say Starting in 5 minutes", `(?i)(sent|said)`)
		msgs := room.State().Messages
		if len(msgs) == 0 || !strings.HasSuffix(msgs[len(msgs)-1].Payload, "Starting in 5 minutes") {
			t.Errorf("meeting chat = %+v, want the message said", msgs)
		}
	})
	t.Run("Layout", func(t *testing.T) {
		bot.do("layout 1:7", `(?i)layout`)
		if got := room.State().View; got != "1:7" {
			t.Errorf("layout view = %q, want 1:7", got)
		}
	})
	t.Run("KickByCJKPrefix", func(t *testing.T) {
		bot.do("kick 张", `(?i)(kicked|disconnected|removed) 张伟`)
		for _, p := range room.Participants() {
			if p.Name == "张伟" {
				t.Error("张伟 is still in the meeting")
			}
		}
	})
	t.Run("WaitingGuestIsAdmitted", func(t *testing.T) {
		room.Join(sim.ParticipantSpec{Name: "Dana Ito"})
		bot.expect(`^\* Dana Ito joined \(waiting\)$`)
		bot.do("admit Dana", `(?i)admitted Dana Ito`)
		if p := participantByName(t, room, "Dana Ito"); p.ServiceType != "conference" {
			t.Errorf("Dana Ito is %q after admit, want in the conference", p.ServiceType)
		}
		bot.do("unlock", `(?i)unlocked`)
	})
	t.Run("JoinAndLeaveArePosted", func(t *testing.T) {
		uuid := room.Join(sim.ParticipantSpec{Name: "Eve Adams"})
		bot.expect(`^\* Eve Adams joined \(guest\)$`)
		room.Leave(uuid)
		bot.expect(`^\* Eve Adams left$`)
	})
	t.Run("DroppedStreamReportsTheGapOnce", func(t *testing.T) {
		erin := room.Join(sim.ParticipantSpec{Name: "Erin"})
		bot.expect(`^\* Erin joined`)
		room.DropStreams()
		room.Leave(erin)
		room.Join(sim.ParticipantSpec{Name: "Frank"})
		bot.expect(`Frank joined|Erin left`)
		bot.expect(`Frank joined|Erin left`)
		// Nobody who stayed is announced again: the next thing posted is what happens next.
		room.Join(sim.ParticipantSpec{Name: "Grace"})
		line := bot.expect(`^\*`)
		if !strings.Contains(line, "Grace joined") {
			t.Errorf("after the reconnect the bot posted %q, want only Grace's join", line)
		}
	})

	if code := bot.quit(); code != 0 {
		t.Errorf("exit status at end of input = %d, want 0; stderr:\n%s", code, bot.stderr.String())
	}
	if n := room.State().Sessions; n != 0 {
		t.Errorf("%d platform sessions still open after exit, want every session ended", n)
	}
}

// TestTokensLivingTwoSeconds runs commands for several token lifetimes: no request may carry a
// dead token, and nothing the user sees may fail. (Clarification 5.)
func TestTokensLivingTwoSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for several token lifetimes")
	}
	srv, room := newSim(sim.Options{TokenTTL: 2 * time.Second}, false)
	room.Join(sim.ParticipantSpec{Name: "Alice Zhang", Role: "chair"})
	bob := room.Join(sim.ParticipantSpec{Name: "Bob Smith"})
	bot := startConsole(t, srv, room, nil)
	bot.do("link 1061 4321", `(?i)linked`)
	for i := range 8 {
		time.Sleep(900 * time.Millisecond)
		if i%2 == 0 {
			bot.do("mute Bob", `(?i)muted Bob Smith`)
		} else {
			bot.do("unmute Bob", `(?i)unmuted Bob Smith`)
		}
	}
	room.Leave(bob)
	bot.expect(`^\* Bob Smith left$`)
	for _, req := range srv.Requests() {
		if !req.TokenValid && req.Op != "checkJoin" && req.Op != "new_session" && req.Op != "end_session" {
			t.Errorf("%s %s at %s carried a dead token", req.Method, req.Op, req.Time.Format(time.StampMilli))
		}
	}
	bot.quit()
}

var joinedCount = regexp.MustCompile(`^\* (.+) joined`)
var othersCount = regexp.MustCompile(`and (\d+) others`)

// TestJoinStormIsCoalescedAndComplete joins 500 people at once: the channel gets a few messages
// that together name every one of them exactly once.
func TestJoinStormIsCoalescedAndComplete(t *testing.T) {
	srv, room := newSim(sim.Options{StreamBuffer: 4096}, false)
	room.Join(sim.ParticipantSpec{Name: "Alice Zhang", Role: "chair"})
	bot := startConsole(t, srv, room, nil)
	bot.do("link 1061 4321", `(?i)linked`)
	const storm = 500
	for i := range storm {
		room.Join(sim.ParticipantSpec{Name: fmt.Sprintf("Guest %03d", i)})
	}
	total, messages := 0, 0
	for total < storm {
		line := bot.expect(`^\* .* joined`)
		messages++
		m := joinedCount.FindStringSubmatch(line)
		names := m[1]
		if o := othersCount.FindStringSubmatch(names); o != nil {
			n, _ := strconv.Atoi(o[1])
			total += n
			names = names[:strings.LastIndex(names, " and ")]
		}
		total += len(strings.Split(strings.ReplaceAll(names, " and ", ", "), ", "))
	}
	if total != storm {
		t.Errorf("messages account for %d joins, want exactly %d", total, storm)
	}
	if messages > 20 {
		t.Errorf("%d messages for a storm of %d; want it coalesced into a few", messages, storm)
	}
	bot.quit()
}

func TestBadSettingStopsStartWithOneLine(t *testing.T) {
	for _, tc := range []struct {
		name, setting string
		env           map[string]string
	}{
		{"cloud", "MEET_CLOUD", map[string]string{"MEET_CLOUD": "hybrid"}},
		{"schedules", "SCHEDULE_MAX_PER_CHANNEL", map[string]string{"SCHEDULE_MAX_PER_CHANNEL": "0"}},
		{"interval", "SCHEDULE_MIN_INTERVAL", map[string]string{"SCHEDULE_MIN_INTERVAL": "10s"}},
		{"retention", "AUDIT_RETENTION", map[string]string{"AUDIT_RETENTION": "forever"}},
		{"store", "STORE_URL", map[string]string{"STORE_URL": "mysql://db/meetbot"}},
		{"key", "MEETBOT_SECRET_KEY", map[string]string{"MEETBOT_SECRET_KEY": "short"}},
		{"level", "LOG_LEVEL", map[string]string{"LOG_LEVEL": "loud"}},
		{"rejoin", "REJOIN_AFTER_END", map[string]string{"REJOIN_AFTER_END": "soon"}},
		{"snapshots", "SNAPSHOT_INTERVAL", map[string]string{"SNAPSHOT_INTERVAL": "1s"}},
		{"slack", "SLACK_SIGNING_SECRET", map[string]string{"SLACK_BOT_TOKEN": "xoxb-very-secret-token"}},
		{"slackReads", "SLACK_MAX_UNVERIFIED_READS", map[string]string{"SLACK_BOT_TOKEN": "xoxb-very-secret-token",
			"SLACK_SIGNING_SECRET": "s", "SLACK_MAX_UNVERIFIED_READS": "lots"}},
		{"matrix", "MATRIX_PICKLE_KEY", map[string]string{"MATRIX_HOMESERVER": "http://127.0.0.1:1", "MATRIX_USER_ID": "@bot:localhost", "MATRIX_PASSWORD": "hunter2hunter2"}},
		{"matrix verified", "MATRIX_REQUIRE_VERIFIED", map[string]string{"MATRIX_HOMESERVER": "http://127.0.0.1:1", "MATRIX_USER_ID": "@bot:localhost",
			"MATRIX_PASSWORD": "hunter2hunter2", "MATRIX_PICKLE_KEY": "pickle", "MATRIX_REQUIRE_VERIFIED": "maybe"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"MEET_API_SERVER": "http://127.0.0.1:1", "MEETBOT_SECRET_KEY": testKey, "STORE_URL": "sqlite::memory:"}
			for k, v := range tc.env {
				env[k] = v
			}
			var stderr strings.Builder
			code := Main(context.Background(), []string{"console"}, strings.NewReader(""), io.Discard, &stderr, envOf(env))
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			out := strings.TrimSpace(stderr.String())
			if strings.Count(out, "\n") != 0 || !strings.Contains(out, tc.setting) {
				t.Errorf("stderr = %q, want one line naming %s", out, tc.setting)
			}
			for _, secret := range []string{"xoxb-very-secret-token", "hunter2hunter2"} {
				if strings.Contains(out, secret) {
					t.Errorf("stderr shows a secret: %q", out)
				}
			}
		})
	}
}

func TestRunServesHealthReadinessAndMetrics(t *testing.T) {
	srv, _ := newSim(sim.Options{}, false)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	var stderr syncBuffer
	go func() {
		exit <- Main(ctx, []string{"run"}, strings.NewReader(""), io.Discard, &stderr, envOf(map[string]string{
			"MEET_API_SERVER": hs.URL, "MEETBOT_SECRET_KEY": testKey, "STORE_URL": "sqlite::memory:", "HTTP_ADDR": addr, "LOG_LEVEL": "warn",
		}))
	}()
	get := func(path string) (int, string) {
		var lastErr error
		for range 100 {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				lastErr = err
				time.Sleep(50 * time.Millisecond)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		t.Fatalf("GET %s: %v; stderr:\n%s", path, lastErr, stderr.String())
		return 0, ""
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d, want 200", code)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, "meetbot_token_refreshes_total") {
		t.Errorf("/metrics = %d without meetbot series:\n%.300s", code, body)
	}
	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("exit status after SIGTERM-like cancel = %d, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("bot run did not stop when its context ended")
	}
}

// TestDemoNeedsNoSettings is the README's first command: with nothing configured, the bot runs
// the simulator's demo meeting and the console, keeping its files under ./data.
func TestDemoNeedsNoSettings(t *testing.T) {
	t.Chdir(t.TempDir())
	var out, stderr syncBuffer
	in := strings.NewReader("link demo 1234\nwho\nmute 张\n")
	if code := Main(context.Background(), nil, in, &out, &stderr, envOf(nil)); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr.String())
	}
	got := out.String()
	for _, want := range []string{"link demo 1234", "linked this channel to Demo stand-up", "in Demo stand-up", "muted 张伟"} {
		if !strings.Contains(got, want) {
			t.Errorf("demo output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "1234.") || strings.Contains(stderr.String(), "level=INFO") {
		t.Errorf("the demo echoed its PIN or logged below warnings:\n%s\n%s", got, stderr.String())
	}
	for _, f := range []string{"data/demo.db", "data/demo.key"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("demo did not keep %s: %v", f, err)
		}
	}
}

// TestConsoleOnPrivateNode runs the console against the simulator's private-cloud mode: what the
// node cannot do is refused without a call, mute warns first, and joins that arrive only as
// participant_update are still announced (clarification 10).
func TestConsoleOnPrivateNode(t *testing.T) {
	srv, room := newSim(sim.Options{DialAnswerAfter: 50 * time.Millisecond}, true)
	room.Join(sim.ParticipantSpec{Name: "Alice Zhang", Role: "chair"})
	room.Join(sim.ParticipantSpec{Name: "Bob Smith"})
	bot := startConsole(t, srv, room, nil)
	bot.do("link 1061 4321", `(?i)linked.*private-cloud node`)

	before := len(srv.Requests())
	bot.do("layout 1:7", `(?i)private-cloud node, which does not support`)
	bot.do("spotlight Bob", `(?i)does not support`)
	bot.do("start", `(?i)no effect`)
	bot.do("dial rtmp://live.example.com/x rtmp", `(?i)(sip|h323|h\.323)`)
	// The relay's own session business goes on meanwhile, in the background: a resync that saw
	// the new link before its Follow ran opens a session of its own and then ends the spare one.
	// None of that is a command.
	relayOwn := map[string]bool{"new_session": true, "refresh_session": true, "end_session": true,
		"events": true, "participants": true}
	for _, req := range srv.Requests()[before:] {
		if !relayOwn[req.Op] {
			t.Errorf("a refused command still called the platform: %s %s", req.Method, req.Op)
		}
	}

	line := bot.do("mute Bob", `(?i)Type "mute id:[0-9a-f-]+ confirm" to go ahead`)
	if participantByName(t, room, "Bob Smith").Muted {
		t.Fatal("mute on a private node muted before the host confirmed")
	}
	confirm := regexp.MustCompile(`"(mute id:[0-9a-f-]+ confirm)"`).FindStringSubmatch(line)[1]
	bot.do(confirm, `(?i)muted`)
	if !participantByName(t, room, "Bob Smith").Muted {
		t.Error("Bob Smith is not muted after the host confirmed")
	}

	// The reply and the callee's join race each other; wait for both, so Dana's join is a message
	// of its own and not coalesced with the callee's.
	bot.send("dial carol@example.com sip")
	bot.expectAll(`(?i)^dialling`, `^\* carol@example.com joined`)
	room.Join(sim.ParticipantSpec{Name: "Dana Ito"})
	bot.expect(`^\* Dana Ito joined \(guest\)$`)
	if code := bot.quit(); code != 0 {
		t.Errorf("exit status %d", code)
	}
}

func TestScheduleLimitsSettings(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want ScheduleLimits
	}{
		{map[string]string{}, ScheduleLimits{MaxPerChannel: 50, MinInterval: 5 * time.Minute, AuditRetention: 90 * 24 * time.Hour}},
		{map[string]string{"SCHEDULE_MAX_PER_CHANNEL": "7", "SCHEDULE_MIN_INTERVAL": "1h", "AUDIT_RETENTION": "30d"},
			ScheduleLimits{MaxPerChannel: 7, MinInterval: time.Hour, AuditRetention: 30 * 24 * time.Hour}},
		{map[string]string{"AUDIT_RETENTION": "48h"}, ScheduleLimits{MaxPerChannel: 50, MinInterval: 5 * time.Minute, AuditRetention: 48 * time.Hour}},
	} {
		c, err := loadConfig(envOf(tc.env))
		if err != nil || c.Limits != tc.want {
			t.Errorf("loadConfig(%v) limits = %+v, %v; want %+v", tc.env, c.Limits, err, tc.want)
		}
	}
}
