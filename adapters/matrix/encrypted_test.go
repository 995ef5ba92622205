//go:build goolm

package matrix

import (
	"context"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/dendritetest"
)

// In an encrypted room the bot reads commands and its replies and notifications are readable by
// the members' own clients.
func TestEncryptedRoom(t *testing.T) {
	srv := needHomeserver(t)
	alice := srv.NewHuman(t, newUser(t, "alice"), dendritetest.HumanOptions{Encrypted: true})
	b := newBot(t, botOptions{pickleKey: "bot pickle key", reply: func(r chat.Request) chat.Reply {
		return chat.Reply{Text: "1 person", Table: &chat.Table{Columns: []string{"Name"}, Rows: []chat.Row{{Cells: []string{"Alice"}}}}}
	}})
	room := b.room(t, alice, mautrix.ReqCreateRoom{InitialState: []*event.Event{{
		Type:    event.StateEncryption,
		Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
	}}})
	ctx := context.Background()
	// Alice's client must know the bot is in the room before it shares its room key.
	deadline := time.Now().Add(wait)
	for !alice.StateStore.IsInRoom(ctx, room, b.user.UserID) {
		if time.Now().After(deadline) {
			t.Fatal("alice's client never learned the bot joined")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if enc, err := alice.StateStore.IsEncrypted(ctx, room); err != nil || !enc {
		t.Fatalf("room not encrypted for alice: %v %v", enc, err)
	}

	cmd := alice.Say(t, room, "!meet who")
	b.rec.waitFor(t, "who")
	reply := alice.WaitFor(t, wait, "the decrypted reply", replyTo(room, b.user.UserID, cmd))
	if reply.Mautrix.EventSource&event.SourceDecrypted == 0 {
		t.Error("the reply was not encrypted")
	}
	if !strings.Contains(notice(reply).FormattedBody, "<td>Alice</td>") {
		t.Errorf("reply %q lacks the table", notice(reply).FormattedBody)
	}

	if err := b.Post(ctx, chat.ChannelRef{Platform: "matrix", Channel: room.String()}, chat.Notification{Text: "Bob joined (guest)"}); err != nil {
		t.Fatal(err)
	}
	isNotice := dendritetest.NoticeIn(room, b.user.UserID)
	n := alice.WaitFor(t, wait, "the decrypted notification", func(e *event.Event) bool {
		return isNotice(e) && notice(e).Body == "Bob joined (guest)"
	})
	if n.Mautrix.EventSource&event.SourceDecrypted == 0 {
		t.Error("the notification was not encrypted")
	}
}
