package matrix

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/dendritetest"
)

func TestInvites(t *testing.T) {
	alice := human(t, "alice")
	mallory := human(t, "mallory")
	b := newBot(t, botOptions{allow: []string{alice.User.UserID.String()}})
	ctx := context.Background()

	t.Run("allowed user", func(t *testing.T) {
		b.room(t, alice, mautrix.ReqCreateRoom{}) // waits for the join
	})
	t.Run("other user", func(t *testing.T) {
		resp, err := mallory.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{b.user.UserID}})
		if err != nil {
			t.Fatal(err)
		}
		mallory.WaitFor(t, wait, "the bot decline", dendritetest.MembershipOf(resp.RoomID, b.user.UserID, event.MembershipLeave))
	})
}

// Rights come from power levels: state level → channel admin, kick level → host, others members.
func TestRightsFromPowerLevels(t *testing.T) {
	alice, carol, bob := human(t, "alice"), human(t, "carol"), human(t, "bob")
	b := newBot(t, botOptions{reply: func(r chat.Request) chat.Reply {
		return chat.Reply{Text: "2 people", Table: &chat.Table{Columns: []string{"Name", "Role"}, Rows: []chat.Row{
			{Cells: []string{"Alice", "host"}}, {Cells: []string{"<Bob>", "guest"}},
		}}}
	}})
	state := 60
	room := b.room(t, alice, mautrix.ReqCreateRoom{PowerLevelOverride: &event.PowerLevelsEventContent{
		Users:           map[id.UserID]int{alice.User.UserID: 100, carol.User.UserID: 50},
		StateDefaultPtr: &state,
	}})
	join(t, alice, carol, room)
	join(t, alice, bob, room)

	for _, tc := range []struct {
		who  *dendritetest.Human
		want chat.Rights
	}{{alice, chat.Admin}, {carol, chat.Host}, {bob, chat.Member}} {
		cmd := tc.who.Say(t, room, "!meet who")
		r := b.rec.waitFor(t, "who")
		b.rec.mu.Lock()
		b.rec.reqs = nil // the next waitFor sees only the next command
		b.rec.mu.Unlock()
		if r.User.ID != tc.who.User.UserID.String() || r.Rights != tc.want || r.Channel != (chat.ChannelRef{Platform: "matrix", Channel: room.String()}) {
			t.Errorf("request %+v, want %s with %v in %s", r, tc.who.User.UserID, tc.want, room)
		}
		got, err := b.Rights(context.Background(), r.Channel, r.User)
		if err != nil || got != tc.want {
			t.Errorf("Rights(%s) = %v, %v; want %v", tc.who.User.UserID, got, err, tc.want)
		}
		reply := tc.who.WaitFor(t, wait, "the reply", replyTo(room, b.user.UserID, cmd))
		c := notice(reply)
		if !strings.Contains(c.FormattedBody, "<table>") || !strings.Contains(c.FormattedBody, "<td>&lt;Bob&gt;</td>") || c.Format != event.FormatHTML {
			t.Errorf("reply HTML %q lacks an escaped table", c.FormattedBody)
		}
		if !strings.Contains(c.Body, `\<Bob\>`) {
			t.Errorf("reply body %q lacks the plain table", c.Body)
		}
	}
	outsider := newUser(t, "outsider")
	if got, err := b.Rights(context.Background(), chat.ChannelRef{Platform: "matrix", Channel: room.String()}, chat.UserRef{ID: outsider.UserID.String()}); err != nil || got != chat.Anyone {
		t.Errorf("Rights(non-member) = %v, %v; want anyone", got, err)
	}
}

// Notifications are m.notice with escaped HTML and empty m.mentions; the bot ignores its own
// messages, edits and other bots' notices.
func TestNotificationsAndIgnoredMessages(t *testing.T) {
	alice := human(t, "alice")
	b := newBot(t, botOptions{})
	room := b.room(t, alice, mautrix.ReqCreateRoom{})
	ch := chat.ChannelRef{Platform: "matrix", Channel: room.String()}
	ctx := context.Background()

	if err := b.Post(ctx, ch, chat.Notification{Text: "@room <b>x</b> joined", Kinds: []chat.NoticeKind{chat.Joined}}); err != nil {
		t.Fatal(err)
	}
	e := alice.WaitFor(t, wait, "the notification", dendritetest.NoticeIn(room, b.user.UserID))
	c := notice(e)
	if c.FormattedBody != "@room &lt;b&gt;x&lt;/b&gt; joined" || strings.Contains(c.Body, "@room") {
		t.Errorf("notification body %q / HTML %q: not escaped or still a room mention", c.Body, c.FormattedBody)
	}
	if m, ok := e.Content.Raw["m.mentions"].(map[string]any); !ok || len(m) != 0 {
		t.Errorf("m.mentions = %#v, want {}", e.Content.Raw["m.mentions"])
	}

	// The bot's own message that looks like a command.
	if err := b.Post(ctx, ch, chat.Notification{Text: "!meet mute Bob"}); err != nil {
		t.Fatal(err)
	}
	// An edit into a command.
	orig := alice.Say(t, room, "hello")
	edit := &event.MessageEventContent{MsgType: event.MsgText, Body: "* !meet edited",
		NewContent: &event.MessageEventContent{MsgType: event.MsgText, Body: "!meet edited"}}
	edit.SetEdit(orig)
	if _, err := alice.SendMessageEvent(ctx, room, event.EventMessage, edit); err != nil {
		t.Fatal(err)
	}
	// A notice, as other bots send.
	if _, err := alice.SendNotice(ctx, room, "!meet from another bot"); err != nil {
		t.Fatal(err)
	}
	// A mention of the bot, then a sentinel: everything before it has been seen by then.
	alice.Say(t, room, localpart(b.user.UserID)+": status")
	b.rec.waitFor(t, "status")
	alice.Say(t, room, "!meet sentinel")
	b.rec.waitFor(t, "sentinel")
	if got := strings.Join(b.rec.texts(), "|"); got != "status|sentinel" {
		t.Errorf("handler saw %q, want only status and sentinel", got)
	}
}

// A restart with the saved sync token neither replays old commands nor misses those sent while
// the bot was down; the very first start ignores what came before it.
func TestRestartKeepsSyncToken(t *testing.T) {
	alice := human(t, "alice")
	b := newBot(t, botOptions{password: true})
	room := b.room(t, alice, mautrix.ReqCreateRoom{})
	alice.Say(t, room, "!meet one")
	b.rec.waitFor(t, "one")
	device := b.cli.DeviceID
	b.stop()

	alice.Say(t, room, "!meet two") // while the bot is down
	b.rec = newRecorder(nil)
	b.start(t, botOptions{password: true})
	if b.cli.DeviceID != device {
		t.Errorf("password login made a new device %s, want the kept %s", b.cli.DeviceID, device)
	}
	b.rec.waitFor(t, "two")
	alice.Say(t, room, "!meet three")
	b.rec.waitFor(t, "three")
	if got := strings.Join(b.rec.texts(), "|"); got != "two|three" {
		t.Errorf("after restart the handler saw %q, want two|three", got)
	}

	// A fresh bot (no token) in a room with history: nothing old runs.
	b.stop()
	b.rec, b.kv = newRecorder(nil), &memKV{}
	b.start(t, botOptions{password: true})
	alice.Say(t, room, "!meet four")
	b.rec.waitFor(t, "four")
	if got := strings.Join(b.rec.texts(), "|"); got != "four" {
		t.Errorf("a first start saw %q, want only four", got)
	}
}

func TestSyncSurvivesHomeserverRestart(t *testing.T) {
	srv := needHomeserver(t)
	alice := human(t, "alice")
	b := newBot(t, botOptions{})
	room := b.room(t, alice, mautrix.ReqCreateRoom{})
	alice.Say(t, room, "!meet before")
	b.rec.waitFor(t, "before")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	alice.Say(t, room, "!meet after")
	b.rec.waitFor(t, "after")
}

// Kicking the bot unlinks the room's meeting, on the kicker's behalf.
func TestKickUnlinks(t *testing.T) {
	alice := human(t, "alice")
	b := newBot(t, botOptions{})
	room := b.room(t, alice, mautrix.ReqCreateRoom{})
	if _, err := alice.KickUser(context.Background(), room, &mautrix.ReqKickUser{UserID: b.user.UserID, Reason: "bye"}); err != nil {
		t.Fatal(err)
	}
	r := b.rec.waitFor(t, "unlink")
	want := chat.Request{Channel: chat.ChannelRef{Platform: "matrix", Channel: room.String()},
		User: chat.UserRef{ID: alice.User.UserID.String(), Name: r.User.Name}, Rights: chat.Admin, Text: "unlink"}
	if r != want {
		t.Errorf("kick gave %+v, want %+v", r, want)
	}
	var rl *chat.RateLimitError
	if err := b.Post(context.Background(), want.Channel, chat.Notification{Text: "x"}); !errors.Is(err, chat.ErrChannelGone) || errors.As(err, &rl) {
		t.Errorf("Post after the kick = %v, want ErrChannelGone", err)
	}
}

// Ambiguous names come back as numbered choices; "!meet 2" and "!meet confirm" pick them.
func TestChoicesAndConfirm(t *testing.T) {
	alice := human(t, "alice")
	b := newBot(t, botOptions{reply: func(r chat.Request) chat.Reply {
		switch r.Text {
		case "mute bob":
			return chat.Reply{Text: "Which one?", Choices: []chat.Action{{Label: "Bob A", Command: "mute uuid-a"}, {Label: "Bob B", Command: "mute uuid-b"}}}
		case "end":
			return chat.Reply{Confirm: &chat.Confirm{Prompt: "End for all?", Command: "end confirm", Label: "End meeting"}}
		}
		return chat.Reply{Text: "done: " + r.Text, Public: true}
	}})
	room := b.room(t, alice, mautrix.ReqCreateRoom{})
	cmd := alice.Say(t, room, "!meet mute bob")
	e := alice.WaitFor(t, wait, "the choices", replyTo(room, b.user.UserID, cmd))
	if c := notice(e); !strings.Contains(c.FormattedBody, "<ol><li>Bob A") || !strings.Contains(c.Body, "2. Bob B — !meet 2") {
		t.Errorf("choices rendered as %q / %q", c.Body, c.FormattedBody)
	}
	alice.Say(t, room, "!meet 2")
	b.rec.waitFor(t, "mute uuid-b")
	alice.Say(t, room, "!meet end")
	b.rec.waitFor(t, "end")
	alice.Say(t, room, "!meet confirm")
	b.rec.waitFor(t, "end confirm")
}

// A PIN typed in a shared room is redacted when the bot has the power, else the bot warns; in a
// direct message, "link … in <room>" links the named room with the sender's rights there.
func TestLinkWithPIN(t *testing.T) {
	alice, bob := human(t, "alice"), human(t, "bob")
	// The core says which requests held a secret; the adapter knows no command's grammar.
	secrets := botOptions{reply: func(r chat.Request) chat.Reply {
		return chat.Reply{Text: "ok: " + r.Text, CarriedSecret: strings.Contains(r.Text, "5678") || strings.Contains(r.Text, "4321")}
	}}
	t.Run("redacted with power", func(t *testing.T) {
		b := newBot(t, secrets)
		room := b.room(t, alice, mautrix.ReqCreateRoom{PowerLevelOverride: &event.PowerLevelsEventContent{
			Users: map[id.UserID]int{alice.User.UserID: 100, b.user.UserID: 50},
		}})
		join(t, alice, bob, room)
		cmd := alice.Say(t, room, "!meet link 1234 5678")
		if r := b.rec.waitFor(t, "link 1234 5678"); r.Rights != chat.Admin {
			t.Errorf("link rights %v, want channel admin", r.Rights)
		}
		bob.WaitFor(t, wait, "the redaction", func(e *event.Event) bool { return e.Type == event.EventRedaction && e.Redacts == cmd })
		reply := alice.WaitFor(t, wait, "the reply", replyTo(room, b.user.UserID, cmd))
		if !strings.Contains(notice(reply).Body, "I removed your message") {
			t.Errorf("reply %q does not say the message was removed", notice(reply).Body)
		}
		// Any command whose text held a secret, in any word order, not only link.
		cmd = alice.Say(t, room, "!meet transfer Bob 1062 4321")
		b.rec.waitFor(t, "transfer Bob 1062 4321")
		bob.WaitFor(t, wait, "the transfer's redaction", func(e *event.Event) bool { return e.Type == event.EventRedaction && e.Redacts == cmd })
		// And nothing else is redacted: a sentinel after a plain command.
		plain := alice.Say(t, room, "!meet who")
		b.rec.waitFor(t, "who")
		bob.WaitFor(t, wait, "the reply to who", replyTo(room, b.user.UserID, plain)) // after any redaction
		for _, e := range bob.Events() {
			if e.Type == event.EventRedaction && e.Redacts == plain {
				t.Error("a command without a secret was redacted")
			}
		}
	})
	t.Run("warned without power", func(t *testing.T) {
		b := newBot(t, secrets)
		room := b.room(t, alice, mautrix.ReqCreateRoom{})
		join(t, alice, bob, room)
		cmd := alice.Say(t, room, "!meet link 1234 5678")
		b.rec.waitFor(t, "link 1234 5678")
		reply := alice.WaitFor(t, wait, "the reply", replyTo(room, b.user.UserID, cmd))
		body := notice(reply).Body
		if !strings.Contains(body, "do not have the power") || !strings.Contains(body, "in "+room.String()) {
			t.Errorf("reply %q lacks the warning and the direct-message hint", body)
		}
	})
	t.Run("from a direct message", func(t *testing.T) {
		b := newBot(t, secrets)
		team := b.room(t, alice, mautrix.ReqCreateRoom{})
		join(t, alice, bob, team)
		dm := b.room(t, alice, mautrix.ReqCreateRoom{IsDirect: true, Preset: "trusted_private_chat"})
		cmd := alice.Say(t, dm, "!meet link 1234 5678 in "+team.String())
		r := b.rec.waitFor(t, "link 1234 5678")
		if r.Channel.Channel != team.String() || r.Rights != chat.Admin {
			t.Errorf("DM link request %+v, want channel %s with admin rights", r, team)
		}
		reply := alice.WaitFor(t, wait, "the reply", replyTo(dm, b.user.UserID, cmd))
		if strings.Contains(notice(reply).Body, "PIN") {
			t.Errorf("a direct message got a PIN warning: %q", notice(reply).Body)
		}
		// By alias, and an alias that does not exist.
		alias := id.NewRoomAlias(fmt.Sprintf("team%d", userSeq.Add(1)), "localhost")
		if _, err := alice.CreateAlias(context.Background(), alias, team); err != nil {
			t.Fatal(err)
		}
		alice.Say(t, dm, "!meet link 42 4242 in "+alias.String())
		if r := b.rec.waitFor(t, "link 42 4242"); r.Channel.Channel != team.String() {
			t.Errorf("link by alias went to %s, want %s", r.Channel.Channel, team)
		}
		cmd = alice.Say(t, dm, "!meet link 1 2 in #nope:localhost")
		if body := notice(alice.WaitFor(t, wait, "the reply", replyTo(dm, b.user.UserID, cmd))).Body; !strings.Contains(body, "There is no room #nope:localhost") {
			t.Errorf("unknown alias answered %q", body)
		}
		// Bob has no power in the team room: the core gets his real rights.
		bobDM := b.room(t, bob, mautrix.ReqCreateRoom{IsDirect: true, Preset: "trusted_private_chat"})
		bob.Say(t, bobDM, "!meet link 1 2 in "+team.String())
		if r := b.rec.waitFor(t, "link 1 2"); r.Rights != chat.Member || r.Channel.Channel != team.String() {
			t.Errorf("bob's DM link %+v, want member rights in %s", r, team)
		}
	})
}

// Without a pickle key the bot never posts plain text into an encrypted room.
func TestEncryptedRoomWithoutEncryptionIsGone(t *testing.T) {
	alice := human(t, "alice")
	b := newBot(t, botOptions{})
	room := b.room(t, alice, mautrix.ReqCreateRoom{InitialState: []*event.Event{{
		Type:    event.StateEncryption,
		Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
	}}})
	ctx := context.Background()
	deadline := time.Now().Add(wait)
	for enc, _ := b.state.IsEncrypted(ctx, room); !enc; enc, _ = b.state.IsEncrypted(ctx, room) {
		if time.Now().After(deadline) {
			t.Fatal("the bot never learned the room is encrypted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	err := b.Post(ctx, chat.ChannelRef{Platform: "matrix", Channel: room.String()}, chat.Notification{Text: "Bob joined"})
	if !errors.Is(err, chat.ErrChannelGone) {
		t.Errorf("Post = %v, want ErrChannelGone", err)
	}
}

// A command typed in a thread is answered in that thread.
func TestThreadedCommandAnsweredInThread(t *testing.T) {
	alice := human(t, "alice")
	b := newBot(t, botOptions{})
	room := b.room(t, alice, mautrix.ReqCreateRoom{})
	root := alice.Say(t, room, "stand-up thread")
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: "!meet who",
		RelatesTo: &event.RelatesTo{Type: event.RelThread, EventID: root, IsFallingBack: true, InReplyTo: &event.InReplyTo{EventID: root}}}
	resp, err := alice.SendMessageEvent(context.Background(), room, event.EventMessage, content)
	if err != nil {
		t.Fatal(err)
	}
	reply := alice.WaitFor(t, wait, "the reply", replyTo(room, b.user.UserID, resp.EventID))
	if rel := notice(reply).RelatesTo; rel.Type != event.RelThread || rel.EventID != root {
		t.Errorf("reply relation %+v, want the thread of %s", rel, root)
	}
}

// A kick while the bot was down still unlinks the room when it starts again.
func TestKickWhileDownUnlinksAtStart(t *testing.T) {
	alice := human(t, "alice")
	b := newBot(t, botOptions{})
	room := b.room(t, alice, mautrix.ReqCreateRoom{})
	b.stop()
	if _, err := alice.KickUser(context.Background(), room, &mautrix.ReqKickUser{UserID: b.user.UserID}); err != nil {
		t.Fatal(err)
	}
	b.rec = newRecorder(nil)
	b.start(t, botOptions{})
	if r := b.rec.waitFor(t, "unlink"); r.Channel.Channel != room.String() || r.User.ID != alice.User.UserID.String() {
		t.Errorf("unlink request %+v, want %s by %s", r, room, alice.User.UserID)
	}
}

// waitFor polls cond until it holds, or fails the test after wait: for state a client keeps
// that no event announces.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
