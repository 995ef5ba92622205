//go:build goolm

package matrix

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/dendritetest"
)

// recoveryKeyRE finds a recovery key (base58 in groups of four) in what the operator saw.
var recoveryKeyRE = regexp.MustCompile(`(?m)^ {4}((?:[1-9A-HJ-NP-Za-km-z]{4} ){11}[1-9A-HJ-NP-Za-km-z]{4})$`)

// masterKey asks the homeserver for user's cross-signing master key.
func masterKey(t *testing.T, user id.UserID) id.Ed25519 {
	t.Helper()
	cli, err := mautrix.NewClient(needHomeserver(t).URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	u := newUser(t, "observer")
	cli.UserID, cli.AccessToken = u.UserID, u.AccessToken
	resp, err := cli.QueryKeys(context.Background(), &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{user: {}}})
	if err != nil {
		t.Fatal(err)
	}
	mk := resp.MasterKeys[user]
	return mk.FirstKey()
}

// jsRoom makes user (on matrix-js-sdk) create an encrypted room with the bot and waits until both
// are in it and the js client knows it.
func jsRoom(t *testing.T, js *dendritetest.JSClient, b *bot) id.RoomID {
	t.Helper()
	room := id.RoomID(js.MustCall(t, "createRoom", map[string]any{"encrypted": true, "invite": []string{b.user.UserID.String()}})["room_id"].(string))
	waitFor(t, "matrix-js-sdk to see the bot join", func() bool {
		return js.MustCall(t, "members", map[string]any{"room": room, "user": b.user.UserID})["membership"] == "join"
	})
	return room
}

// jsReplyTo matches the bot's notice replying to cmd, as matrix-js-sdk decrypted it.
func jsReplyTo(bot id.UserID, cmd id.EventID) func(dendritetest.JSEvent) bool {
	return func(e dendritetest.JSEvent) bool {
		if e.Sender != bot || e.Type != "m.room.message" || e.DecryptionFailure != "" {
			return false
		}
		rel, _ := e.Content["m.relates_to"].(map[string]any)
		irt, _ := rel["m.in_reply_to"].(map[string]any)
		return irt["event_id"] == cmd.String()
	}
}

// checkTrusted asserts, from matrix-js-sdk's side, that a command is answered and the answer
// decrypts with no shield, and that the bot's device is cross-signed by its owner.
func checkTrusted(t *testing.T, js *dendritetest.JSClient, b *bot, room id.RoomID, text string) {
	t.Helper()
	// The js client refetches the bot's keys when the homeserver says they changed.
	waitFor(t, "matrix-js-sdk to see the bot's device "+b.cli.DeviceID.String()+" signed by its owner", func() bool {
		return js.MustCall(t, "trust", map[string]any{"user": b.user.UserID, "device": b.cli.DeviceID})["signed_by_owner"] == true
	})
	cmd := id.EventID(js.MustCall(t, "send", map[string]any{"room": room, "body": "!meet " + text})["event_id"].(string))
	b.rec.waitFor(t, text)
	reply := js.WaitFor(t, wait, "the bot's decrypted reply to "+text, jsReplyTo(b.user.UserID, cmd))
	if !reply.Encrypted || reply.Shield != "NONE" || reply.ShieldReason != "" {
		t.Errorf("the reply to %q shows shield %s (%s), encrypted %v; want no shield", text, reply.Shield, reply.ShieldReason, reply.Encrypted)
	}
}

// The bot sets up cross-signing at its first encrypted start, so for a user on matrix-js-sdk (the
// stack Element uses) its notices carry no "unverified device" shield, also with "exclude insecure
// devices" on. A restart, and a fresh data folder with the recovery key, keep the same identity;
// a fresh data folder without it is said loudly and does not replace the identity.
func TestIdentityAsElementSeesIt(t *testing.T) {
	srv := needHomeserver(t)
	alice := srv.NewJSClient(t, newUser(t, "alice"))
	var stderr, logs syncBuffer
	opts := botOptions{pickleKey: "bot pickle key", password: true, stderr: &stderr, log: &logs}
	b := newBot(t, opts)

	shown := recoveryKeyRE.FindStringSubmatch(stderr.String())
	if shown == nil {
		t.Fatalf("no recovery key shown to the operator; stderr:\n%s", stderr.String())
	}
	recovery := shown[1]
	if strings.Contains(logs.String(), recovery) || strings.Contains(logs.String(), strings.ReplaceAll(recovery, " ", "")) {
		t.Error("the recovery key reached the log")
	}
	master := masterKey(t, b.user.UserID)
	if master == "" {
		t.Fatal("the bot published no master key")
	}

	room := jsRoom(t, alice, b)
	checkTrusted(t, alice, b, room, "who")
	alice.MustCall(t, "isolation", map[string]any{"mode": "exclude"})
	checkTrusted(t, alice, b, room, "status")
	if err := b.Post(context.Background(), chat.ChannelRef{Platform: Platform, Channel: room.String()}, chat.Notification{Text: "Bob joined"}); err != nil {
		t.Fatal(err)
	}
	n := alice.WaitFor(t, wait, "the notification", func(e dendritetest.JSEvent) bool { return e.Sender == b.user.UserID && e.Body() == "Bob joined" })
	if n.Shield != "NONE" {
		t.Errorf("notification shield %s (%s), want none", n.Shield, n.ShieldReason)
	}

	t.Run("restart", func(t *testing.T) {
		device := b.cli.DeviceID
		b.stop()
		stderr.b.Reset()
		b.rec = newRecorder(nil)
		b.start(t, opts)
		if b.cli.DeviceID != device || masterKey(t, b.user.UserID) != master {
			t.Errorf("after a restart: device %s, master %s; want %s, %s", b.cli.DeviceID, masterKey(t, b.user.UserID), device, master)
		}
		if stderr.String() != "" {
			t.Errorf("a restart showed the operator:\n%s", stderr.String())
		}
		checkTrusted(t, alice, b, room, "after-restart")
	})

	t.Run("fresh data folder with the recovery key", func(t *testing.T) {
		device := b.cli.DeviceID
		b.stop()
		b.dir, b.rec = t.TempDir(), newRecorder(nil)
		withKey := opts
		withKey.recoveryKey = chat.Secret(recovery)
		b.start(t, withKey)
		if b.cli.DeviceID == device {
			t.Fatalf("a fresh data folder reused device %s", device)
		}
		if got := masterKey(t, b.user.UserID); got != master {
			t.Errorf("master key %s after the move, want %s", got, master)
		}
		checkTrusted(t, alice, b, room, "after-move")
	})

	t.Run("fresh data folder without the recovery key", func(t *testing.T) {
		b.stop()
		stderr.b.Reset()
		b.dir, b.rec = t.TempDir(), newRecorder(nil)
		b.start(t, opts)
		if !strings.Contains(stderr.String(), "NOT verified by the bot's identity") || !strings.Contains(stderr.String(), "MATRIX_RECOVERY_KEY") {
			t.Errorf("the operator was not told; stderr:\n%s", stderr.String())
		}
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "not signed by the bot's cross-signing identity") {
			t.Errorf("no error in the log:\n%s", logs.String())
		}
		if got := masterKey(t, b.user.UserID); got != master {
			t.Errorf("the identity was replaced: master %s, want %s", got, master)
		}
		trust := alice.MustCall(t, "trust", map[string]any{"user": b.user.UserID, "device": b.cli.DeviceID})
		if trust["signed_by_owner"] != false {
			t.Errorf("the unsigned device looks signed to matrix-js-sdk: %v", trust)
		}
	})
}

// A recovery key that unlocks nothing stops the start with one clear error and changes nothing.
func TestWrongRecoveryKey(t *testing.T) {
	first := newBot(t, botOptions{pickleKey: "k", password: true})
	master := masterKey(t, first.user.UserID)
	first.stop()
	first.dir = t.TempDir()
	cfg := Config{Homeserver: needHomeserver(t).URL, UserID: first.user.UserID.String(), Password: chat.Secret(first.user.Password),
		PickleKey: "k", RecoveryKey: "EsTc 1234 5678 9abc defg hijk mnop qrst uvwx yzAB CDEF GHJK", DataDir: first.dir,
		IsNotFound: func(err error) bool { return errors.Is(err, errNotFound) }, Stderr: &syncBuffer{}}
	_, err := New(context.Background(), cfg, first.rec, first.kv, testLogger(t))
	if !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), "MATRIX_RECOVERY_KEY does not unlock") {
		t.Errorf("New with a wrong recovery key = %v, want ErrIdentity naming MATRIX_RECOVERY_KEY", err)
	}
	if strings.Contains(err.Error(), "EsTc") {
		t.Error("the error repeats the recovery key")
	}
	if got := masterKey(t, first.user.UserID); got != master {
		t.Errorf("master key changed to %s", got)
	}
}

// With only an access token, the homeserver's password prompt cannot be answered: one clear line
// says what to do, and the bot still runs.
func TestCrossSigningNeedsPassword(t *testing.T) {
	var logs syncBuffer
	b := newBot(t, botOptions{pickleKey: "k", log: &logs})
	if got := masterKey(t, b.user.UserID); got != "" {
		t.Skipf("SKIP: this homeserver accepted cross-signing keys without a password (master %s)", got)
	}
	if n := strings.Count(logs.String(), "set MATRIX_PASSWORD"); n != 1 {
		t.Errorf("%d lines say to set MATRIX_PASSWORD, want 1:\n%s", n, logs.String())
	}
}

// With MATRIX_REQUIRE_VERIFIED, a command from a device its owner cross-signed runs; one from an
// unsigned device, or from an unencrypted room, is not run and gets one notice saying why.
func TestRequireVerified(t *testing.T) {
	srv := needHomeserver(t)
	alice := srv.NewJSClient(t, newUser(t, "alice")) // cross-signed, as Element sets itself up
	bob := srv.NewHuman(t, newUser(t, "bob"), dendritetest.HumanOptions{Encrypted: true})
	b := newBot(t, botOptions{pickleKey: "k", password: true, requireVerified: true})
	room := jsRoom(t, alice, b)
	alice.MustCall(t, "invite", map[string]any{"room": room, "user": bob.User.UserID})
	if _, err := bob.JoinRoomByID(context.Background(), room); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob's client to see the bot", func() bool { return bob.StateStore.IsInRoom(context.Background(), room, b.user.UserID) })
	waitFor(t, "alice's client to see bob", func() bool {
		return alice.MustCall(t, "members", map[string]any{"room": room, "user": bob.User.UserID})["membership"] == "join"
	})

	checkTrusted(t, alice, b, room, "who")
	cmd := bob.Say(t, room, "!meet mute Carol")
	reply := bob.WaitFor(t, wait, "the refusal", replyTo(room, b.user.UserID, cmd))
	if body := notice(reply).Body; !strings.Contains(body, "only takes commands from devices verified by their owner") {
		t.Errorf("bob's unverified command answered %q", body)
	}
	checkTrusted(t, alice, b, room, "sentinel")
	if got := strings.Join(b.rec.texts(), "|"); got != "who|sentinel" {
		t.Errorf("the handler saw %q, want who|sentinel: an unverified device's command ran", got)
	}

	plain := id.RoomID(alice.MustCall(t, "createRoom", map[string]any{"encrypted": false, "invite": []string{b.user.UserID.String()}})["room_id"].(string))
	waitFor(t, "the bot to join the plain room", func() bool {
		return alice.MustCall(t, "members", map[string]any{"room": plain, "user": b.user.UserID})["membership"] == "join"
	})
	cmd = id.EventID(alice.MustCall(t, "send", map[string]any{"room": plain, "body": "!meet end"})["event_id"].(string))
	r := alice.WaitFor(t, wait, "the refusal in a plain room", jsReplyTo(b.user.UserID, cmd))
	if !strings.Contains(r.Body(), "unencrypted room") {
		t.Errorf("a command in an unencrypted room answered %q", r.Body())
	}
	if got := strings.Join(b.rec.texts(), "|"); got != "who|sentinel" {
		t.Errorf("the handler saw %q: a command from an unencrypted room ran", got)
	}
}

// With only an access token, a data folder lost under the same device cannot come back: the start
// stops with one line saying to log in as a new device, and the recovery key to keep the identity.
func TestLostDeviceKeysWithAccessToken(t *testing.T) {
	b := newBot(t, botOptions{pickleKey: "k"})
	b.stop()
	cfg := Config{Homeserver: needHomeserver(t).URL, UserID: b.user.UserID.String(), AccessToken: chat.Secret(b.user.AccessToken),
		PickleKey: "k", DataDir: t.TempDir(), IsNotFound: func(err error) bool { return errors.Is(err, errNotFound) }, Stderr: &syncBuffer{}}
	_, err := New(context.Background(), cfg, b.rec, b.kv, testLogger(t))
	if !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), "log in as a new device") || !strings.Contains(err.Error(), "MATRIX_RECOVERY_KEY") {
		t.Errorf("New on a lost data folder = %v, want ErrIdentity saying what to do", err)
	}
	if strings.Contains(err.Error(), b.user.AccessToken) {
		t.Error("the error shows the access token")
	}
}

// An identity replaced behind the bot's back (someone with the password reset it) is said loudly
// at the next start, not taken silently.
func TestReplacedIdentityIsReported(t *testing.T) {
	var logs syncBuffer
	opts := botOptions{pickleKey: "k", password: true, log: &logs}
	b := newBot(t, opts)
	before := masterKey(t, b.user.UserID)
	b.stop()

	// Another device of the account publishes a new identity.
	ctx := context.Background()
	otherBot := &bot{user: b.user, rec: newRecorder(nil), kv: &memKV{}, dir: t.TempDir()}
	otherBot.start(t, botOptions{pickleKey: "k2", password: true, stderr: &syncBuffer{}})
	mach := otherBot.cli.Crypto.(interface{ Machine() *crypto.OlmMachine }).Machine()
	if _, _, err := otherBot.createIdentity(ctx, mach); err != nil {
		t.Fatal(err)
	}
	otherBot.stop()
	if masterKey(t, b.user.UserID) == before {
		t.Fatal("the identity was not replaced")
	}

	b.rec = newRecorder(nil)
	b.start(t, opts)
	if !strings.Contains(logs.String(), "identity changed on the homeserver since the last start") {
		t.Errorf("a replaced identity was not reported:\n%s", logs.String())
	}
}
