package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/pgtest"
	"github.com/meetbot/meetbot/meetings/sim"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/storeurl"
)

// TestMain lets the replicas test start this test binary as `bot run` processes: with
// MEETBOT_TEST_RUN_MAIN set, the binary is the bot.
func TestMain(m *testing.M) {
	if os.Getenv("MEETBOT_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// slackRecorder is a fake of Slack's Web API for the few methods `bot run` calls: it keeps every
// chat.postMessage so the test can count what each channel was told.
type slackRecorder struct {
	mu    sync.Mutex
	posts []slackPost
}

type slackPost struct {
	channel, text string
	at            time.Time
}

func (s *slackRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	switch strings.TrimPrefix(r.URL.Path, "/") {
	case "chat.postMessage":
		s.mu.Lock()
		s.posts = append(s.posts, slackPost{channel: r.Form.Get("channel"), text: r.Form.Get("text"), at: time.Now()})
		n := len(s.posts)
		s.mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1700000000.%06d"}`, r.Form.Get("channel"), n)
	case "chat.update":
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q}`, r.Form.Get("channel"), r.Form.Get("ts"))
	case "users.info":
		fmt.Fprintf(w, `{"ok":true,"user":{"id":%q,"name":"host","is_admin":false}}`, r.Form.Get("user"))
	case "auth.test":
		fmt.Fprint(w, `{"ok":true,"team_id":"T1","user_id":"UBOT","bot_id":"BBOT"}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"ok":false,"error":"unknown_method %s"}`, r.URL.Path)
	}
}

func (s *slackRecorder) since(t time.Time) []slackPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []slackPost
	for _, p := range s.posts {
		if !p.at.Before(t) {
			out = append(out, p)
		}
	}
	return out
}

var noticeLine = regexp.MustCompile(`^(.+) (joined|left)(?: \((?:guest|host|waiting)\))?$`)

// mentions counts, over posts, how often each person is reported to have joined or left.
func mentions(posts []slackPost) map[string]int {
	n := map[string]int{}
	for _, p := range posts {
		for _, line := range strings.Split(p.text, "\n") {
			m := noticeLine.FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				continue
			}
			for _, name := range strings.Split(strings.ReplaceAll(m[1], " and ", ", "), ", ") {
				n[name+" "+m[2]]++
			}
		}
	}
	return n
}

type replica struct {
	id     string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

// TestReplicasShareMeetingsAndSurviveKill runs three `bot run` processes on one PostgreSQL with
// twenty linked meetings, kills one with SIGKILL, and checks that every join and leave after the
// kill is posted exactly once, that people who stayed are not re-announced, and that a cron
// schedule runs once per slot across the replicas, over three slots.
func TestReplicasShareMeetingsAndSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs several processes over three schedule slots (about three minutes)")
	}
	storeURL := pgtest.SchemaURL(t, "bot")
	ctx := context.Background()

	platform := sim.New(sim.Options{})
	platformHTTP := httptest.NewServer(platform)
	defer platformHTTP.Close()
	slack := &slackRecorder{}
	slackHTTP := httptest.NewServer(slack)
	defer slackHTTP.Close()

	key, _ := store.ParseSecretKey(testKey)
	st, err := storeurl.Open(ctx, storeURL, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	node := strings.TrimPrefix(platformHTTP.URL, "http://")
	const meetingsN = 20
	rooms := make([]*sim.Room, meetingsN)
	channels := make([]chat.ChannelRef, meetingsN)
	stayers := map[string]string{} // room number → uuid of the person who leaves after the kill
	for i := range meetingsN {
		number := fmt.Sprintf("%d", 5000+i)
		rooms[i] = platform.AddRoom(sim.RoomConfig{Number: number, Name: "Room " + number, HostPIN: "1234"})
		stayers[number] = rooms[i].Join(sim.ParticipantSpec{Name: fmt.Sprintf("Leaver%02d", i)})
		rooms[i].Join(sim.ParticipantSpec{Name: fmt.Sprintf("Stayer%02d", i)})
		channels[i] = chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: fmt.Sprintf("C%02d", i)}
		if err := st.PutLink(ctx, store.Link{
			Channel: channels[i], Meeting: store.MeetingRef{APIServer: platformHTTP.URL, Room: number},
			Node: node, Name: "Room " + number, PIN: "1234", Role: "HOST", Cloud: "public", CreatedBy: "U1",
		}); err != nil {
			t.Fatal(err)
		}
		settings := store.DefaultSettings()
		settings.Threaded = false
		if err := st.PutSettings(ctx, channels[i], settings); err != nil {
			t.Fatal(err)
		}
	}
	nextMinute := time.Now().Truncate(time.Minute).Add(time.Minute)
	if _, err := st.AddSchedule(ctx, store.Schedule{
		Channel: channels[0], Spec: "* * * * *", TimeZone: "UTC", Command: "say tick",
		CreatedBy: chat.UserRef{ID: "U1", Name: "host"}, Rights: chat.Host, NextRun: nextMinute,
	}); err != nil {
		t.Fatal(err)
	}

	start := func(id string) *replica {
		cmd := exec.Command(os.Args[0], "run")
		cmd.Env = append(os.Environ(),
			"MEETBOT_TEST_RUN_MAIN=1",
			"MEET_API_SERVER="+platformHTTP.URL,
			"STORE_URL="+storeURL,
			"MEETBOT_SECRET_KEY="+testKey,
			"SLACK_BOT_TOKEN=xoxb-test",
			"SLACK_SIGNING_SECRET=test-signing-secret",
			"SLACK_API_URL="+slackHTTP.URL+"/",
			"SLACK_HOSTS=U1",
			"HTTP_ADDR=127.0.0.1:0",
			"REPLICA_ID="+id,
			"SCHEDULE_TZ=UTC",
			"LOG_LEVEL=warn",
		)
		r := &replica{id: id, cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
		cmd.Stderr = r.stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { r.done <- cmd.Wait() }()
		return r
	}
	replicas := []*replica{start("r1"), start("r2"), start("r3")}
	defer func() {
		for _, r := range replicas {
			r.cmd.Process.Kill()
		}
	}()

	holders := func() map[string][]string {
		out := map[string][]string{}
		for i := range meetingsN {
			ref := store.MeetingRef{APIServer: platformHTTP.URL, Room: fmt.Sprintf("%d", 5000+i)}
			owner, _, err := st.LeaseHolder(ctx, "relay:"+ref.Key())
			if err != nil {
				t.Fatal(err)
			}
			out[owner] = append(out[owner], ref.Room)
		}
		return out
	}
	waitFor := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !ok() {
			if time.Now().After(deadline) {
				for _, r := range replicas {
					t.Logf("%s stderr:\n%s", r.id, r.stderr.String())
				}
				t.Fatalf("gave up waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	allListened := func() bool {
		h := holders()
		if len(h[""]) > 0 {
			return false
		}
		for _, r := range rooms {
			if r.State().Streams == 0 {
				return false
			}
		}
		return true
	}
	waitFor("every meeting to be listened to", 60*time.Second, allListened)
	waitFor("the meetings to spread over all three replicas", 60*time.Second, func() bool {
		h := holders()
		return len(h["r1"]) > 0 && len(h["r2"]) > 0 && len(h["r3"]) > 0 && allListened()
	})
	t.Logf("meetings per replica: r1 %d, r2 %d, r3 %d", len(holders()["r1"]), len(holders()["r2"]), len(holders()["r3"]))
	// Resuming twenty stored links announces no one. (The schedule may have posted a run by now.)
	if told := mentions(slack.since(time.Time{})); len(told) > 0 {
		t.Errorf("starting the replicas announced %v before anyone came or went; want nothing", told)
	}

	// Steady state: one join per meeting, each posted once.
	steady := time.Now()
	for i, r := range rooms {
		r.Join(sim.ParticipantSpec{Name: fmt.Sprintf("Early%02d", i)})
	}
	waitFor("the early joins to be posted", 30*time.Second, func() bool { return len(mentions(slack.since(steady))) == meetingsN })
	time.Sleep(time.Second) // room for a duplicate to show up
	for name, n := range mentions(slack.since(steady)) {
		if n != 1 {
			t.Errorf("steady state: %q posted %d times, want once", name, n)
		}
	}

	// Kill the replica with the most meetings, as a crash would.
	h := holders()
	victim := replicas[0]
	for _, r := range replicas {
		if len(h[r.id]) > len(h[victim.id]) {
			victim = r
		}
	}
	orphaned := map[string]bool{}
	for _, room := range h[victim.id] {
		orphaned[room] = true
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	killed := time.Now()
	for i, r := range rooms {
		number := fmt.Sprintf("%d", 5000+i)
		r.Join(sim.ParticipantSpec{Name: fmt.Sprintf("Late%02d", i)})
		r.Leave(stayers[number])
	}
	waitFor("every join and leave after the kill to be posted", 60*time.Second, func() bool {
		return len(mentions(slack.since(killed))) == 2*meetingsN
	})
	time.Sleep(2 * time.Second) // room for a duplicate to show up
	got := mentions(slack.since(killed))
	for i := range meetingsN {
		for _, want := range []string{fmt.Sprintf("Late%02d joined", i), fmt.Sprintf("Leaver%02d left", i)} {
			if got[want] != 1 {
				t.Errorf("after the kill, %q posted %d times, want exactly once", want, got[want])
			}
		}
	}
	for name := range got {
		if strings.HasPrefix(name, "Stayer") || strings.HasPrefix(name, "Early") {
			t.Errorf("after the kill, %q was posted again, but that person stayed", name)
		}
	}
	var takeover time.Duration
	for _, p := range slack.since(killed) {
		var i int
		fmt.Sscanf(p.channel, "C%02d", &i)
		if orphaned[fmt.Sprintf("%d", 5000+i)] && p.at.Sub(killed) > takeover {
			takeover = p.at.Sub(killed)
		}
	}
	t.Logf("SIGKILL of %s with %d meetings: the last of them was reported again %.1f s later", victim.id, len(orphaned), takeover.Seconds())

	// The cron schedule ran once per slot, whichever replicas were alive.
	waitFor("three schedule slots to pass", 210*time.Second, func() bool {
		return len(ticks(rooms[0])) >= 3
	})
	time.Sleep(2 * time.Second)
	perSlot := map[time.Time]int{}
	for _, at := range ticks(rooms[0]) {
		perSlot[at.Truncate(time.Minute)]++
	}
	for slot, n := range perSlot {
		if n != 1 {
			t.Errorf("schedule slot %s ran %d times, want once", slot.Format("15:04"), n)
		}
	}

	// The survivors stop cleanly on SIGTERM and hand their leases back.
	for _, r := range replicas {
		if r == victim {
			continue
		}
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("%s exited with %v after SIGTERM, want status 0; stderr:\n%s", r.id, err, r.stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30 s of SIGTERM", r.id)
		}
	}
	if left := holders(); len(left[""]) != meetingsN {
		t.Errorf("after shutdown, leases still held: %v", left)
	}
}

// ticks returns when the scheduled "say tick" reached the meeting's chat.
func ticks(room *sim.Room) []time.Time {
	var out []time.Time
	for _, m := range room.State().Messages {
		if strings.HasSuffix(m.Payload, "tick") {
			out = append(out, m.Time)
		}
	}
	return out
}
