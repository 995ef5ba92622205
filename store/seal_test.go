package store

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/meetbot/meetbot/chat"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestParseSecretKey(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i * 7)
	}
	good := map[string]string{
		"hex":             hex.EncodeToString(key),
		"hex upper":       strings.ToUpper(hex.EncodeToString(key)),
		"base64":          base64.StdEncoding.EncodeToString(key),
		"base64 raw":      base64.RawStdEncoding.EncodeToString(key),
		"base64 url":      base64.URLEncoding.EncodeToString(key),
		"base64 url raw":  base64.RawURLEncoding.EncodeToString(key),
		"with whitespace": "  " + hex.EncodeToString(key) + "\n",
	}
	for name, s := range good {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSecretKey(s)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, key) {
				t.Errorf("ParseSecretKey decoded another key")
			}
		})
	}
	bad := map[string]string{
		"missing":      "",
		"blank":        "   ",
		"short hex":    hex.EncodeToString(key[:16]),
		"long base64":  base64.StdEncoding.EncodeToString(append(key, 1)),
		"not encoded":  "correct horse battery staple!!",
		"hex with bad": strings.Repeat("zz", KeySize),
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSecretKey(s)
			if err == nil {
				t.Fatalf("ParseSecretKey(%q) accepted it", s)
			}
			if !strings.Contains(err.Error(), "MEETBOT_SECRET_KEY") {
				t.Errorf("error %q does not name MEETBOT_SECRET_KEY", err)
			}
			if strings.TrimSpace(s) != "" && strings.Contains(err.Error(), strings.TrimSpace(s)) {
				t.Errorf("error %q repeats the key", err)
			}
		})
	}
}

func FuzzParseSecretKey(f *testing.F) {
	f.Add(hex.EncodeToString(testKey(1)))
	f.Add(base64.StdEncoding.EncodeToString(testKey(2)))
	f.Add("")
	f.Add("====")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseSecretKey(s)
		if err != nil {
			if len(s) > 8 && strings.Contains(err.Error(), s) {
				t.Errorf("error repeats the key: %v", err)
			}
			return
		}
		if len(k) != KeySize {
			t.Errorf("ParseSecretKey(%q) gave %d bytes, want %d", s, len(k), KeySize)
		}
		if _, err := NewSealer(k); err != nil {
			t.Errorf("a parsed key makes no Sealer: %v", err)
		}
	})
}

func TestSealer(t *testing.T) {
	ch := chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C1"}
	s, err := NewSealer(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	const pin = chat.Secret("31415926")
	sealed, err := s.Seal(ch, pin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(pin)) {
		t.Fatal("sealed PIN holds the PIN in clear")
	}
	again, _ := s.Seal(ch, pin)
	if bytes.Equal(sealed, again) {
		t.Error("sealing the same PIN twice gave the same bytes: the nonce must be random")
	}
	if got, err := s.Open(ch, sealed); err != nil || got != pin {
		t.Fatalf("Open of a sealed PIN: err %v, same PIN %v", err, got == pin)
	}

	other, _ := NewSealer(testKey(2))
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	cases := map[string]struct {
		s      *Sealer
		ch     chat.ChannelRef
		sealed []byte
	}{
		"another key":       {other, ch, sealed},
		"another channel":   {s, chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C2"}, sealed},
		"another workspace": {s, chat.ChannelRef{Platform: "slack", Workspace: "T2", Channel: "C1"}, sealed},
		"tampered":          {s, ch, tampered},
		"truncated":         {s, ch, sealed[:10]},
		"unknown version":   {s, ch, append([]byte{9}, sealed[1:]...)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := c.s.Open(c.ch, c.sealed)
			if !errors.Is(err, ErrWrongKey) {
				t.Fatalf("Open = %v, want ErrWrongKey", err)
			}
			if got != "" || strings.Contains(err.Error(), pin.Reveal()) {
				t.Errorf("Open leaked the PIN: %q, %v", got, err)
			}
		})
	}

	if sealed, err := s.Seal(ch, ""); err != nil || sealed != nil {
		t.Errorf("Seal of no PIN = %v, %v; want nil", sealed, err)
	}
	if got, err := other.Open(ch, nil); err != nil || got != "" {
		t.Errorf("Open of no PIN = %q, %v; want empty under any key", got, err)
	}
}

func TestNewSealerKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := NewSealer(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "MEETBOT_SECRET_KEY") {
			t.Errorf("NewSealer with %d bytes: %v, want an error naming MEETBOT_SECRET_KEY", n, err)
		}
	}
}

// TestLinkNeverPrintsPIN checks that a Link printed or logged whole shows no PIN.
func TestLinkNeverPrintsPIN(t *testing.T) {
	l := Link{Channel: chat.ChannelRef{Platform: "console", Channel: "console"}, PIN: "27182818"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("linked", "link", l, "pin", l.PIN)
	for _, out := range []string{fmt.Sprint(l), fmt.Sprintf("%+v", l), fmt.Sprintf("%#v", l), buf.String()} {
		if strings.Contains(out, "27182818") {
			t.Errorf("the PIN shows in %s", out)
		}
	}
}

func TestMeetingRefKey(t *testing.T) {
	a := MeetingRef{APIServer: "https://api.example.com/", Room: "1234"}
	b := MeetingRef{APIServer: "https://api.example.com", Room: "1234"}
	if a.Key() != b.Key() {
		t.Errorf("keys differ by a trailing slash: %q, %q", a.Key(), b.Key())
	}
	for _, other := range []MeetingRef{
		{APIServer: "https://api.example.com", Room: "12345"},
		{APIServer: "https://other.example.com", Room: "1234"},
	} {
		if other.Key() == b.Key() {
			t.Errorf("%+v and %+v share key %q", other, b, b.Key())
		}
	}
}

func TestParsePreviousKeys(t *testing.T) {
	a, b := strings.Repeat("ab", KeySize), base64.StdEncoding.EncodeToString(make([]byte, KeySize))
	keys, err := ParsePreviousKeys(" " + a + " , " + b)
	if err != nil || len(keys) != 2 || len(keys[0]) != KeySize || len(keys[1]) != KeySize {
		t.Fatalf("ParsePreviousKeys(two keys) = %d keys, %v", len(keys), err)
	}
	if keys, err := ParsePreviousKeys("  "); err != nil || keys != nil {
		t.Errorf("ParsePreviousKeys(empty) = %v, %v; want none", keys, err)
	}
	const secret = "c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0"
	for _, in := range []string{secret, a + "," + secret, a + ","} {
		_, err := ParsePreviousKeys(in)
		if err == nil {
			t.Errorf("ParsePreviousKeys accepted a malformed list")
			continue
		}
		if !strings.HasPrefix(err.Error(), "MEETBOT_SECRET_KEY_PREVIOUS") || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), a) {
			t.Errorf("error %q: want it to name MEETBOT_SECRET_KEY_PREVIOUS and no key", err)
		}
	}
}

func TestSealerPreviousKeys(t *testing.T) {
	ch := chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C1"}
	oldKey, newKey := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	old, _ := NewSealer(oldKey)
	sealedOld, err := old.Seal(ch, "1234")
	if err != nil {
		t.Fatal(err)
	}
	rotating, err := NewSealer(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	pin, previous, err := rotating.OpenKey(ch, sealedOld)
	if err != nil || pin.Reveal() != "1234" || !previous {
		t.Errorf("OpenKey of a PIN sealed under the previous key = previous %v, %v", previous, err)
	}
	sealedNew, _ := rotating.Seal(ch, "1234")
	if _, previous, err := rotating.OpenKey(ch, sealedNew); err != nil || previous {
		t.Errorf("OpenKey of a PIN sealed under the current key = previous %v, %v", previous, err)
	}
	if _, err := old.Open(ch, sealedNew); !errors.Is(err, ErrWrongKey) {
		t.Errorf("a rotating Sealer sealed under the old key: %v", err)
	}
	if _, err := NewSealer(newKey, []byte("short")); err == nil || !strings.Contains(err.Error(), "MEETBOT_SECRET_KEY_PREVIOUS") {
		t.Errorf("NewSealer with a short previous key: %v", err)
	}
}
