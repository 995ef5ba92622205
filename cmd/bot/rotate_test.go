package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/sqlite"
)

func TestBadPreviousKeyStopsStartWithOneLine(t *testing.T) {
	const bad = "c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0"
	for _, prev := range []string{bad, testKey + "," + bad} {
		env := map[string]string{"MEET_API_SERVER": "http://127.0.0.1:1", "MEETBOT_SECRET_KEY": testKey,
			"MEETBOT_SECRET_KEY_PREVIOUS": prev, "STORE_URL": "sqlite::memory:"}
		var stderr strings.Builder
		if code := Main(context.Background(), []string{"console"}, strings.NewReader(""), io.Discard, &stderr, envOf(env)); code != 2 {
			t.Errorf("exit status %d, want 2", code)
		}
		out := strings.TrimSpace(stderr.String())
		if strings.Count(out, "\n") != 0 || !strings.Contains(out, "MEETBOT_SECRET_KEY_PREVIOUS") {
			t.Errorf("stderr = %q, want one line naming MEETBOT_SECRET_KEY_PREVIOUS", out)
		}
		if strings.Contains(out, bad) || strings.Contains(out, testKey) {
			t.Errorf("stderr shows a key: %q", out)
		}
	}
}

// TestStartReseals starts the bot with a new key and the old one as previous over a store whose
// links were sealed under the old key: start-up reseals them, says how many without a key, and
// afterwards the new key alone reads every PIN.
func TestStartReseals(t *testing.T) {
	ctx := t.Context()
	const (
		oldKey = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
		pin    = "86753091"
	)
	path := filepath.Join(t.TempDir(), "meetbot.db")
	old, _ := store.ParseSecretKey(oldKey)
	st, err := sqlite.Open(ctx, path, old, nil)
	if err != nil {
		t.Fatal(err)
	}
	chs := []chat.ChannelRef{{Platform: "console", Channel: "a"}, {Platform: "console", Channel: "b"}}
	for _, ch := range chs {
		l := store.Link{Channel: ch, Meeting: store.MeetingRef{APIServer: "http://127.0.0.1:1", Room: "1234"}, PIN: pin, Role: "HOST", Cloud: "public"}
		if err := st.PutLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	env := map[string]string{"MEET_API_SERVER": "http://127.0.0.1:1", "MEETBOT_SECRET_KEY": testKey,
		"MEETBOT_SECRET_KEY_PREVIOUS": oldKey, "STORE_URL": "sqlite:" + path, "LOG_LEVEL": "info"}
	var stderr strings.Builder
	if code := Main(ctx, []string{"console"}, strings.NewReader(""), io.Discard, &stderr, envOf(env)); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr.String())
	}
	out := stderr.String()
	if !strings.Contains(out, "links resealed") || !strings.Contains(out, "resealed=2") {
		t.Errorf("start-up log does not say 2 links were resealed:\n%s", out)
	}
	for _, secret := range []string{oldKey, testKey, pin} {
		if strings.Contains(out, secret) {
			t.Errorf("start-up log shows a key or PIN:\n%s", out)
		}
	}

	key, _ := store.ParseSecretKey(testKey)
	st, err = sqlite.Open(ctx, path, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, ch := range chs {
		if l, err := st.GetLink(ctx, ch); err != nil || l.PIN.Reveal() != pin {
			t.Errorf("link of %s under the new key alone: err %v", ch, err)
		}
	}
}
