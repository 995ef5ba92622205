package matrix

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Prefix starts every command typed in a room.
const Prefix = "!meet"

// botNames are the ways a user can address the bot at the start of a message.
type botNames struct {
	UserID      string // @meetbot:example.org
	Localpart   string // meetbot
	DisplayName string // Meetbot
}

// parseCommand finds the command in a message body: "!meet mute Bob", or a mention of the bot
// followed by a command ("Meetbot: mute Bob", "@meetbot:example.org !meet who"). It returns the
// command text without prefix or mention ("" for a bare "!meet") and whether the message was meant
// for the bot at all.
func parseCommand(body string, names botNames) (string, bool) {
	body = strings.TrimSpace(body)
	if rest, ok := cutWord(body, Prefix); ok {
		return strings.TrimSpace(rest), true
	}
	for _, name := range []string{names.UserID, names.DisplayName, "@" + names.Localpart, names.Localpart} {
		if name == "" || name == "@" {
			continue
		}
		rest, ok := cutWord(body, name)
		if !ok {
			continue
		}
		rest = strings.TrimLeftFunc(rest, func(r rune) bool { return r == ':' || r == ',' || unicode.IsSpace(r) })
		if r, ok := cutWord(rest, Prefix); ok {
			rest = r
		}
		return strings.TrimSpace(rest), true
	}
	return "", false
}

// cutWord removes prefix (compared case-insensitively) from the start of s when it is followed by
// the end of s, white space or punctuation ':' and ','.
func cutWord(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	rest := s[len(prefix):]
	if rest == "" {
		return "", true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	if unicode.IsSpace(r) || r == ':' || r == ',' {
		return rest, true
	}
	return "", false
}

// splitLinkTarget reads the direct-message form of link, "link <room> [pin] in <!room:server or
// #alias:server>", and returns the command without its target and the Matrix room it names. ok is
// false when text is not that form.
func splitLinkTarget(text string) (cmd, target string, ok bool) {
	fields := strings.Fields(text)
	if len(fields) < 4 || !strings.EqualFold(fields[0], "link") || !strings.EqualFold(fields[len(fields)-2], "in") {
		return "", "", false
	}
	target = fields[len(fields)-1]
	if !isRoomRef(target) {
		return "", "", false
	}
	// fields[len-2] is "in": cut the text at its last occurrence before the target.
	t := strings.LastIndex(text, target)
	i := t - 1
	for ; i >= 1; i-- {
		if strings.EqualFold(text[i-1:i+1], "in") {
			break
		}
	}
	i--
	if i < 0 {
		return "", "", false
	}
	return strings.TrimSpace(text[:i]), target, true
}

// isRoomRef reports whether s looks like a Matrix room id (!opaque:server) or alias (#name:server).
func isRoomRef(s string) bool {
	if len(s) < 4 || (s[0] != '!' && s[0] != '#') {
		return false
	}
	i := strings.IndexByte(s, ':')
	return i > 1 && i < len(s)-1 && !strings.ContainsFunc(s, unicode.IsSpace)
}

// linkHasPIN reports whether a command is a link that carries a PIN: "link <room> <pin>".
func linkHasPIN(cmd string) bool {
	fields := strings.Fields(cmd)
	return len(fields) >= 3 && strings.EqualFold(fields[0], "link")
}
