package matrix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/dendritetest"
)

// BenchmarkRenderWho renders a who reply for a 200-person meeting.
func BenchmarkRenderWho(b *testing.B) {
	t := &chat.Table{Columns: []string{"Name", "Role", "Muted"}}
	for i := range 200 {
		t.Rows = append(t.Rows, chat.Row{Cells: []string{fmt.Sprintf("Person <%d> & co", i), "guest", "no"}})
	}
	r := chat.Reply{Text: "200 people", Table: t}
	b.ReportAllocs()
	for b.Loop() {
		renderReply(r)
	}
}

// BenchmarkParseCommand parses a room message addressed to the bot by mention.
func BenchmarkParseCommand(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		parseCommand("Meet Bot: !meet mute Bob Smith", testNames)
	}
}

// BenchmarkCommandRoundTrip measures one command from a user's message to the bot's reply seen by
// the user, through a real homeserver (Dendrite on loopback): mostly the homeserver's time.
func BenchmarkCommandRoundTrip(b *testing.B) {
	if hs == nil {
		b.Skipf("SKIP: %v", hsMissing)
	}
	ctx := context.Background()
	au, err := hs.RegisterUser(ctx, fmt.Sprintf("benchalice%d", userSeq.Add(1)), false)
	if err != nil {
		b.Fatal(err)
	}
	alice := hs.NewHuman(b, au, dendritetest.HumanOptions{})
	bu, err := hs.RegisterUser(ctx, fmt.Sprintf("benchbot%d", userSeq.Add(1)), false)
	if err != nil {
		b.Fatal(err)
	}
	rec := newRecorder(nil)
	a, err := New(ctx, Config{Homeserver: hs.URL, UserID: bu.UserID.String(), AccessToken: chat.Secret(bu.AccessToken), DataDir: b.TempDir(),
		IsNotFound: func(err error) bool { return errors.Is(err, errNotFound) }}, rec, &memKV{}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = a.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done; a.Close() }()
	resp, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bu.UserID}})
	if err != nil {
		b.Fatal(err)
	}
	alice.WaitFor(b, wait, "the bot join", dendritetest.MembershipOf(resp.RoomID, bu.UserID, event.MembershipJoin))
	b.ResetTimer()
	for b.Loop() {
		cmd, err := alice.SendText(ctx, resp.RoomID, "!meet who")
		if err != nil {
			b.Fatal(err)
		}
		alice.WaitFor(b, wait, "the reply", replyTo(resp.RoomID, bu.UserID, cmd.EventID))
	}
}
