//go:build goolm

package matrix

import (
	"context"
	"database/sql"
	"fmt"
	neturl "net/url"
	"os"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/dendritetest"
)

// In an encrypted room the bot reads commands and its replies and notifications are readable by
// the members' own clients.
func TestEncryptedRoom(t *testing.T) {
	checkEncryptedRoom(t, botOptions{})
}

// With Config.DB the encryption keys and room state live in PostgreSQL.
func TestEncryptedRoomWithPostgreSQL(t *testing.T) {
	url := os.Getenv("MEETBOT_TEST_POSTGRES_URL")
	if url == "" {
		if dendritetest.Required() {
			t.Fatal("MEETBOT_TEST_POSTGRES_URL is not set")
		}
		t.Skip("SKIP: MEETBOT_TEST_POSTGRES_URL is not set")
	}
	needHomeserver(t)
	// A database of its own: mautrix's migrations look for their tables in every schema.
	name := fmt.Sprintf("matrix_test_%d_%d", os.Getpid(), time.Now().UnixNano())
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Skipf("SKIP: cannot create a database for the test: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	checkEncryptedRoom(t, botOptions{db: db, dialect: "postgres"})
	var n int
	if err := db.QueryRow("SELECT count(*) FROM crypto_account").Scan(&n); err != nil || n != 1 {
		t.Errorf("crypto accounts in PostgreSQL: %d, %v; want 1", n, err)
	}
}

func checkEncryptedRoom(t *testing.T, opts botOptions) {
	srv := needHomeserver(t)
	alice := srv.NewHuman(t, newUser(t, "alice"), dendritetest.HumanOptions{Encrypted: true})
	opts.pickleKey = "bot pickle key"
	opts.reply = func(r chat.Request) chat.Reply {
		return chat.Reply{Text: "1 person", Table: &chat.Table{Columns: []string{"Name"}, Rows: []chat.Row{{Cells: []string{"Alice"}}}}}
	}
	b := newBot(t, opts)
	room := b.room(t, alice, mautrix.ReqCreateRoom{InitialState: []*event.Event{{
		Type:    event.StateEncryption,
		Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
	}}})
	ctx := context.Background()
	// Alice's client must know the bot is in the room before it shares its room key.
	waitFor(t, "alice's client to learn the bot joined", func() bool { return alice.StateStore.IsInRoom(ctx, room, b.user.UserID) })
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

// A restart with a password login comes back on the same device with the same keys, and still
// reads and writes the encrypted room.
func TestEncryptedRoomAfterRestart(t *testing.T) {
	srv := needHomeserver(t)
	alice := srv.NewHuman(t, newUser(t, "alice"), dendritetest.HumanOptions{Encrypted: true})
	opts := botOptions{pickleKey: "bot pickle key", password: true}
	b := newBot(t, opts)
	room := b.room(t, alice, mautrix.ReqCreateRoom{InitialState: []*event.Event{{
		Type:    event.StateEncryption,
		Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
	}}})
	waitFor(t, "alice's client to see the bot", func() bool { return alice.StateStore.IsInRoom(context.Background(), room, b.user.UserID) })
	cmd := alice.Say(t, room, "!meet before")
	b.rec.waitFor(t, "before")
	alice.WaitFor(t, wait, "the reply", replyTo(room, b.user.UserID, cmd))

	device := b.cli.DeviceID
	b.stop()
	b.rec = newRecorder(nil)
	b.start(t, opts)
	if b.cli.DeviceID != device {
		t.Fatalf("restart logged in as device %s, want %s", b.cli.DeviceID, device)
	}
	cmd = alice.Say(t, room, "!meet after")
	b.rec.waitFor(t, "after")
	reply := alice.WaitFor(t, wait, "the reply after the restart", replyTo(room, b.user.UserID, cmd))
	if reply.Mautrix.EventSource&event.SourceDecrypted == 0 {
		t.Error("the reply after the restart was not encrypted")
	}
}
