package matrix

import (
	"strings"
	"testing"
)

var testNames = botNames{UserID: "@meetbot:example.org", Localpart: "meetbot", DisplayName: "Meet Bot"}

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		body string
		want string
		ok   bool
	}{
		{"!meet mute Bob", "mute Bob", true},
		{"  !MEET   who  ", "who", true},
		{"!meet", "", true},
		{"!meeting now", "", false},
		{"!meetmute", "", false},
		{"hello !meet who", "", false},
		{"Meet Bot: who", "who", true},
		{"meet bot, mute guests", "mute guests", true},
		{"@meetbot:example.org !meet who", "who", true},
		{"@meetbot:example.org: status", "status", true},
		{"meetbot: !meet lock", "lock", true},
		{"@meetbot who", "who", true},
		{"meetbotx: who", "", false},
		{"Meet Botany is fun", "", false},
		{"", "", false},
		{"!meet 会議 参加者", "会議 参加者", true},
	} {
		got, ok := parseCommand(tc.body, testNames)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseCommand(%q) = %q, %v; want %q, %v", tc.body, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSplitLinkTarget(t *testing.T) {
	for _, tc := range []struct {
		text, cmd, target string
		ok                bool
	}{
		{"link 1234 5678 in !abc:example.org", "link 1234 5678", "!abc:example.org", true},
		{"link meet.alice@example.com IN #team:example.org", "link meet.alice@example.com", "#team:example.org", true},
		{"link in in !abc:example.org", "link in", "!abc:example.org", true},
		{"link 1234 in team", "", "", false},
		{"link 1234 !abc:example.org", "", "", false},
		{"mute Bob in !abc:example.org", "", "", false},
		{"link in !abc:example.org", "", "", false},
	} {
		cmd, target, ok := splitLinkTarget(tc.text)
		if cmd != tc.cmd || target != tc.target || ok != tc.ok {
			t.Errorf("splitLinkTarget(%q) = %q, %q, %v; want %q, %q, %v", tc.text, cmd, target, ok, tc.cmd, tc.target, tc.ok)
		}
	}
}

func TestLinkHasPIN(t *testing.T) {
	for text, want := range map[string]bool{
		"link 1234 5678":  true,
		"LINK room pin x": true,
		"link 1234":       false,
		"mute 1234 5678":  false,
		"":                false,
	} {
		if got := linkHasPIN(text); got != want {
			t.Errorf("linkHasPIN(%q) = %v, want %v", text, got, want)
		}
	}
}

// FuzzParseCommand checks that any message body parses without panicking, and that a command found
// is part of the body.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"!meet mute Bob", "Meet Bot: who", "@meetbot:example.org !meet", "!meet link 1 2 in !a:b", "\xff!meet"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		cmd, ok := parseCommand(body, testNames)
		if !ok && cmd != "" {
			t.Fatalf("no command but text %q", cmd)
		}
		if ok && !strings.Contains(body, cmd) {
			t.Fatalf("command %q is not in body %q", cmd, body)
		}
		if c, target, ok := splitLinkTarget(cmd); ok {
			if !isRoomRef(target) || !strings.HasPrefix(strings.ToLower(c), "link") {
				t.Fatalf("splitLinkTarget(%q) = %q, %q", cmd, c, target)
			}
			if got := strings.Fields(c + " in " + target); strings.Join(got, " ") != strings.Join(strings.Fields(cmd), " ") {
				t.Fatalf("splitLinkTarget(%q) = %q, %q: does not rebuild the command", cmd, c, target)
			}
		}
		_ = linkHasPIN(cmd)
	})
}
