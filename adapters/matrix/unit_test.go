package matrix

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
)

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		allow []string
		user  id.UserID
		want  bool
	}{
		{nil, "@alice:home.org", true},
		{nil, "@eve:other.org", false},
		{[]string{"@eve:other.org"}, "@eve:other.org", true},
		{[]string{"@eve:other.org"}, "@alice:home.org", false},
		{[]string{"Other.org"}, "@bob:other.org", true},
		{[]string{"*"}, "@x:y.z", true},
		{[]string{"other.org"}, "not-a-user", false},
	} {
		if got := allowed(tc.allow, "home.org", tc.user); got != tc.want {
			t.Errorf("allowed(%v, %s) = %v, want %v", tc.allow, tc.user, got, tc.want)
		}
	}
}

func TestConfigNamesTheBadSetting(t *testing.T) {
	good := Config{Homeserver: "https://m.example.org", UserID: "@bot:example.org", AccessToken: "t", DataDir: "d"}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Homeserver = "" }, "MATRIX_HOMESERVER"},
		{func(c *Config) { c.Homeserver = "matrix.example.org" }, "MATRIX_HOMESERVER"},
		{func(c *Config) { c.UserID = "bot" }, "MATRIX_USER_ID"},
		{func(c *Config) { c.AccessToken = "" }, "MATRIX_ACCESS_TOKEN or MATRIX_PASSWORD"},
		{func(c *Config) { c.Allow = []string{"a b"} }, "allow-list"},
		{func(c *Config) { c.RecoveryKey = "EsT…" }, "MATRIX_RECOVERY_KEY is set but MATRIX_PICKLE_KEY is not"},
		{func(c *Config) { c.RequireVerified = true }, "MATRIX_REQUIRE_VERIFIED needs encryption"},
	} {
		c := good
		tc.edit(&c)
		err := c.validate()
		if !errors.Is(err, ErrConfig) || !contains(err.Error(), tc.want) {
			t.Errorf("validate() = %v, want an ErrConfig naming %s", err, tc.want)
		}
	}
	c := good
	if err := c.validate(); err != nil {
		t.Fatalf("good config refused: %v", err)
	}
}

func contains(s, sub string) bool { return len(sub) == 0 || indexFold(s, sub) >= 0 }

func TestClassifyErrors(t *testing.T) {
	limited := mautrix.HTTPError{
		Response:  &http.Response{StatusCode: 429, Header: http.Header{}},
		RespError: &mautrix.RespError{ErrCode: "M_LIMIT_EXCEEDED", ExtraData: map[string]any{"retry_after_ms": float64(1500)}},
	}
	var rl *chat.RateLimitError
	if err := classify(limited); !errors.As(err, &rl) || rl.RetryAfter != 1500*time.Millisecond {
		t.Errorf("classify(rate limit) = %v, want RateLimitError of 1.5s", err)
	}
	forbidden := mautrix.HTTPError{Response: &http.Response{StatusCode: 403}, RespError: &mautrix.RespError{ErrCode: "M_FORBIDDEN"}}
	if err := classify(forbidden); !errors.Is(err, chat.ErrChannelGone) {
		t.Errorf("classify(forbidden) = %v, want ErrChannelGone", err)
	}
	tooLarge := mautrix.HTTPError{Response: &http.Response{StatusCode: 413}, RespError: &mautrix.RespError{ErrCode: "M_TOO_LARGE"}}
	if err := classify(tooLarge); !errors.Is(err, chat.ErrMessageRefused) || errors.Is(err, chat.ErrChannelGone) || errors.As(err, &rl) {
		t.Errorf("classify(too large) = %v, want ErrMessageRefused: retrying it forever grows the batch", err)
	}
	bad := mautrix.HTTPError{Response: &http.Response{StatusCode: 502}}
	if err := classify(bad); errors.Is(err, chat.ErrChannelGone) || errors.As(err, &rl) || !transient(err) {
		t.Errorf("classify(502) = %v, want a plain transient error", err)
	}
}

func TestPendingChoices(t *testing.T) {
	now := time.Unix(1000, 0)
	p := newPendingChoices(5*time.Minute, func() time.Time { return now })
	room, user, other := id.RoomID("!r:x"), id.UserID("@a:x"), id.UserID("@b:x")
	p.remember(room, user, room, chat.Reply{Choices: []chat.Action{{Command: "mute 1"}, {Command: "mute 2"}}})

	if _, _, _, found := p.pick(room, other, "2"); found {
		t.Error("another user picked this user's choice")
	}
	if _, _, hint, found := p.pick(room, user, "3"); !found || hint == "" {
		t.Error("out-of-range pick gave no hint")
	}
	if cmd, target, _, found := p.pick(room, user, " 2 "); !found || cmd != "mute 2" || target != room {
		t.Errorf("pick 2 = %q, %q, %v", cmd, target, found)
	}
	if _, _, _, found := p.pick(room, user, "1"); found {
		t.Error("a choice was picked twice")
	}

	p.remember(room, user, "!target:x", chat.Reply{Confirm: &chat.Confirm{Command: "end confirm"}})
	now = now.Add(6 * time.Minute)
	if _, _, _, found := p.pick(room, user, "confirm"); found {
		t.Error("an expired confirmation was picked up")
	}
	p.remember(room, user, "!target:x", chat.Reply{Confirm: &chat.Confirm{Command: "end confirm"}})
	if cmd, target, _, found := p.pick(room, user, "yes"); !found || cmd != "end confirm" || target != "!target:x" {
		t.Errorf("yes = %q, %q, %v", cmd, target, found)
	}
	p.remember(room, user, room, chat.Reply{Choices: []chat.Action{{Command: "x"}}})
	p.remember(room, user, room, chat.Reply{Text: "done"})
	if _, _, _, found := p.pick(room, user, "1"); found {
		t.Error("a later reply without choices did not clear the offer")
	}
}
