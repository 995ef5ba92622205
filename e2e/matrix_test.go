//go:build goolm

package e2e

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/adapters/matrix"
	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/commands"
	"github.com/meetbot/meetbot/internal/dendritetest"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
	"github.com/meetbot/meetbot/relay"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/sqlite"
)

const wait = 20 * time.Second

// TestMatrixEndToEnd drives the whole bot from Matrix rooms on a real homeserver: link with a PIN,
// who, mute, a join in the meeting posted to the room, a member without power refused, and the
// same in an encrypted room.
func TestMatrixEndToEnd(t *testing.T) {
	hs := dendritetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	platform := sim.New(sim.Options{})
	meeting := platform.AddRoom(sim.RoomConfig{Number: "1061", Name: "Stand-up", HostPIN: "4321", GuestPIN: "8765"})
	meeting.Join(sim.ParticipantSpec{Name: "Alice Zhang", Role: "chair"})
	meeting.Join(sim.ParticipantSpec{Name: "Bob Smith"})
	api := httptest.NewServer(platform)
	defer api.Close()

	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := sqlite.Open(ctx, sqlite.Memory, make([]byte, 32), log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	client, err := meetings.NewClient(api.URL, meetings.ClientOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	posters := chat.PosterMux{}
	sup := &relay.Supervisor{Store: st, Client: client, Poster: posters, ReplicaID: "e2e", BotName: "meetbot", Logger: log,
		Resync: 200 * time.Millisecond, Pace: 100 * time.Millisecond}
	router := commands.New(commands.Config{Store: st, Client: client, Meetings: sup, APIServer: api.URL, BotName: "meetbot", Logger: log})

	botUser := register(t, hs, "meetbot")
	bot, err := matrix.New(ctx, matrix.Config{
		Homeserver: hs.URL, UserID: botUser.UserID.String(), Password: chat.Secret(botUser.Password),
		PickleKey: "e2e pickle key", DataDir: t.TempDir(), Stderr: io.Discard,
		IsNotFound: func(err error) bool { return errors.Is(err, store.ErrNotFound) },
	}, router, st, log)
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	posters["matrix"] = bot
	done := make(chan struct{}, 2)
	go func() { _ = sup.Run(ctx); done <- struct{}{} }()
	go func() { _ = bot.Run(ctx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()

	alice := hs.NewHuman(t, register(t, hs, "alice"), dendritetest.HumanOptions{Encrypted: true})
	bob := hs.NewHuman(t, register(t, hs, "bob"), dendritetest.HumanOptions{Encrypted: true})

	plain := createRoom(t, alice, botUser.UserID, false)
	encrypted := createRoom(t, alice, botUser.UserID, true)
	for _, room := range []id.RoomID{plain, encrypted} {
		if _, err := alice.InviteUser(ctx, room, &mautrix.ReqInviteUser{UserID: bob.User.UserID}); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.JoinRoomByID(ctx, room); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name string
		room id.RoomID
	}{{"plain room", plain}, {"encrypted room", encrypted}} {
		t.Run(tc.name, func(t *testing.T) {
			room := tc.room
			waitMember(t, alice, room, bob.User.UserID)
			waitMember(t, bob, room, botUser.UserID)
			cmd := alice.Say(t, room, "!meet link 1061 4321")
			reply := answer(t, alice, room, botUser.UserID, cmd, `(?i)linked`)
			if strings.Contains(reply, "4321") {
				t.Errorf("the link reply shows the PIN: %q", reply)
			}
			bob.WaitFor(t, wait, "the PIN message redacted", func(e *event.Event) bool {
				return e.Type == event.EventRedaction && e.Redacts == cmd
			})

			cmd = alice.Say(t, room, "!meet who")
			who := alice.WaitFor(t, wait, "the who reply", replyTo(room, botUser.UserID, cmd))
			if html := who.Content.AsMessage().FormattedBody; !strings.Contains(html, "<table>") || !strings.Contains(html, "Bob Smith") {
				t.Errorf("who reply %q is no table naming Bob Smith", html)
			}

			cmd = alice.Say(t, room, "!meet mute Bob")
			answer(t, alice, room, botUser.UserID, cmd, `(?i)muted Bob Smith`)
			if !participant(t, meeting, "Bob Smith").Muted {
				t.Error("Bob Smith is not muted on the platform")
			}

			// Bob has no power in the room: a host command is refused and changes nothing.
			cmd = bob.Say(t, room, "!meet unmute Bob")
			answer(t, bob, room, botUser.UserID, cmd, `(?i)need host rights`)
			if !participant(t, meeting, "Bob Smith").Muted {
				t.Error("a member without power unmuted Bob Smith")
			}
		})
	}

	// Someone joining the meeting is posted to both linked rooms.
	meeting.Join(sim.ParticipantSpec{Name: "Carol @room <b>Jones</b>"})
	for _, room := range []id.RoomID{plain, encrypted} {
		e := alice.WaitFor(t, wait, "the join notice", func(e *event.Event) bool {
			return dendritetest.NoticeIn(room, botUser.UserID)(e) && strings.Contains(e.Content.AsMessage().FormattedBody, "joined")
		})
		m := e.Content.AsMessage()
		if !strings.Contains(m.FormattedBody, "&lt;b&gt;Jones&lt;/b&gt;") || strings.Contains(m.Body, "@room") {
			t.Errorf("join notice %q / %q is not escaped or mentions the room", m.Body, m.FormattedBody)
		}
		if room == encrypted && e.Mautrix.EventSource&event.SourceDecrypted == 0 {
			t.Error("the notice in the encrypted room was not encrypted")
		}
	}

	// An ambiguous name is answered with numbered candidates; "!meet <n>" picks one.
	bobby := meeting.Join(sim.ParticipantSpec{Name: "Bobby Tables"})
	alice.WaitFor(t, wait, "Bobby's join notice", func(e *event.Event) bool {
		return dendritetest.NoticeIn(plain, botUser.UserID)(e) && strings.Contains(e.Content.AsMessage().Body, "Bobby Tables joined")
	})
	cmd := alice.Say(t, plain, "!meet vmute bob")
	choices := answer(t, alice, plain, botUser.UserID, cmd, `Bobby Tables`)
	m := regexp.MustCompile(`(\d+)\. Bobby Tables`).FindStringSubmatch(choices)
	if m == nil {
		t.Fatalf("no numbered choice for Bobby Tables in %q", choices)
	}
	if p, _ := meeting.Participant(bobby); p.VideoMuted {
		t.Fatal("an ambiguous name changed something")
	}
	cmd = alice.Say(t, plain, "!meet "+m[1])
	answer(t, alice, plain, botUser.UserID, cmd, `(?i)Bobby Tables`)
	if p, _ := meeting.Participant(bobby); !p.VideoMuted {
		t.Error("picking Bobby Tables by number did not video-mute him")
	}
}

func register(t *testing.T, hs *dendritetest.Server, name string) dendritetest.User {
	t.Helper()
	u, err := hs.RegisterUser(context.Background(), name, false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// createRoom makes a room where alice has full power and the bot can redact, and waits for the bot.
func createRoom(t *testing.T, alice *dendritetest.Human, bot id.UserID, encrypted bool) id.RoomID {
	t.Helper()
	req := &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bot},
		PowerLevelOverride: &event.PowerLevelsEventContent{Users: map[id.UserID]int{alice.User.UserID: 100, bot: 50}}}
	if encrypted {
		req.InitialState = []*event.Event{{Type: event.StateEncryption,
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}}}}
	}
	resp, err := alice.CreateRoom(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	alice.WaitFor(t, wait, "the bot join", dendritetest.MembershipOf(resp.RoomID, bot, event.MembershipJoin))
	waitMember(t, alice, resp.RoomID, bot)
	return resp.RoomID
}

// waitMember waits until h's client state knows user joined room, so it shares room keys with them.
func waitMember(t *testing.T, h *dendritetest.Human, room id.RoomID, user id.UserID) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !h.StateStore.IsInRoom(context.Background(), room, user) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never saw %s join", h.User.UserID, user)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func replyTo(room id.RoomID, bot id.UserID, cmd id.EventID) func(*event.Event) bool {
	isNotice := dendritetest.NoticeIn(room, bot)
	return func(e *event.Event) bool {
		if !isNotice(e) {
			return false
		}
		rel := e.Content.AsMessage().RelatesTo
		return rel != nil && rel.InReplyTo != nil && rel.InReplyTo.EventID == cmd
	}
}

// answer waits for the bot's reply to cmd and checks it matches re.
func answer(t *testing.T, h *dendritetest.Human, room id.RoomID, bot id.UserID, cmd id.EventID, re string) string {
	t.Helper()
	body := h.WaitFor(t, wait, "the reply", replyTo(room, bot, cmd)).Content.AsMessage().Body
	if !regexp.MustCompile(re).MatchString(body) {
		t.Errorf("reply %q does not match %s", body, re)
	}
	return body
}

func participant(t *testing.T, room *sim.Room, name string) sim.Participant {
	t.Helper()
	for _, p := range room.Participants() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("%s is not in the meeting", name)
	return sim.Participant{}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestMatrixAsElementUser drives the whole bot from an encrypted room as a user on matrix-js-sdk
// with its Rust crypto (Element's stack) and "exclude insecure devices" on: link with a PIN (the
// message redacted), who, and a join in the meeting posted to the room, every answer decrypted
// with no shield.
func TestMatrixAsElementUser(t *testing.T) {
	hs := dendritetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	platform := sim.New(sim.Options{})
	meeting := platform.AddRoom(sim.RoomConfig{Number: "1061", Name: "Stand-up", HostPIN: "4321", GuestPIN: "8765"})
	meeting.Join(sim.ParticipantSpec{Name: "Bob Smith"})
	api := httptest.NewServer(platform)
	defer api.Close()

	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := sqlite.Open(ctx, sqlite.Memory, make([]byte, 32), log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	client, err := meetings.NewClient(api.URL, meetings.ClientOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	posters := chat.PosterMux{}
	sup := &relay.Supervisor{Store: st, Client: client, Poster: posters, ReplicaID: "e2e", BotName: "meetbot", Logger: log,
		Resync: 200 * time.Millisecond, Pace: 100 * time.Millisecond}
	router := commands.New(commands.Config{Store: st, Client: client, Meetings: sup, APIServer: api.URL, BotName: "meetbot", Logger: log})

	alice := hs.NewJSClient(t, register(t, hs, "alice"))
	alice.MustCall(t, "isolation", map[string]any{"mode": "exclude"})
	botUser := register(t, hs, "meetbot")
	bot, err := matrix.New(ctx, matrix.Config{
		Homeserver: hs.URL, UserID: botUser.UserID.String(), Password: chat.Secret(botUser.Password),
		PickleKey: "e2e pickle key", DataDir: t.TempDir(), Stderr: io.Discard,
		IsNotFound: func(err error) bool { return errors.Is(err, store.ErrNotFound) },
	}, router, st, log)
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	posters["matrix"] = bot
	done := make(chan struct{}, 2)
	go func() { _ = sup.Run(ctx); done <- struct{}{} }()
	go func() { _ = bot.Run(ctx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()

	room := id.RoomID(alice.MustCall(t, "createRoom", map[string]any{"encrypted": true, "invite": []string{botUser.UserID.String()},
		"power_levels": map[string]any{"users": map[string]int{alice.User.UserID.String(): 100, botUser.UserID.String(): 50}}})["room_id"].(string))
	deadline := time.Now().Add(wait)
	for alice.MustCall(t, "members", map[string]any{"room": room, "user": botUser.UserID})["membership"] != "join" {
		if time.Now().After(deadline) {
			t.Fatal("matrix-js-sdk never saw the bot join")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A third member, so the room is not a direct message with the bot.
	alice.MustCall(t, "invite", map[string]any{"room": room, "user": register(t, hs, "bob").UserID})
	fromBot := func(re string) func(dendritetest.JSEvent) bool {
		return func(e dendritetest.JSEvent) bool {
			return e.Sender == botUser.UserID && e.DecryptionFailure == "" && regexp.MustCompile(re).MatchString(e.Body())
		}
	}
	clean := func(e dendritetest.JSEvent) {
		t.Helper()
		if !e.Encrypted || e.Shield != "NONE" {
			t.Errorf("%q: encrypted %v, shield %s (%s); want encrypted with no shield", e.Body(), e.Encrypted, e.Shield, e.ShieldReason)
		}
	}
	send := func(body string) id.EventID {
		return id.EventID(alice.MustCall(t, "send", map[string]any{"room": room, "body": body})["event_id"].(string))
	}

	cmd := send("!meet link 1061 4321")
	clean(alice.WaitFor(t, wait, "the link reply", fromBot(`(?i)linked`)))
	alice.WaitFor(t, wait, "the PIN message redacted", func(e dendritetest.JSEvent) bool {
		return e.Type == "m.room.redaction" && e.Redacts == cmd
	})
	send("!meet who")
	clean(alice.WaitFor(t, wait, "the who reply", fromBot(`Bob Smith`)))
	meeting.Join(sim.ParticipantSpec{Name: "Carol Jones"})
	clean(alice.WaitFor(t, wait, "the join notice", fromBot(`Carol Jones joined`)))
	for _, e := range alice.Events() {
		if e.Sender == botUser.UserID && e.DecryptionFailure != "" {
			t.Errorf("a message from the bot did not decrypt: %s", e.DecryptionFailure)
		}
	}
}
