package commands

import (
	"strings"
	"unicode"

	"github.com/meetbot/meetbot/recording"
)

// Masking secrets
//
// A PIN must never reach the audit log, a log line or a message, whatever order the user typed the
// words in and whether or not the command parsed. Masking "the third argument" fails as soon as a
// name is typed without quotes (transfer Alice Zhang 1062 9933) or an optional word comes first
// (link 1061 private 9966). So masking does not ask where the PIN is, but which words could be
// it: for each command that can carry one, every word the grammar does not pin down as something
// else is masked. For link that is every word after the room except private|public; for transfer
// every word after the name's first word and the room except as and the role words. schedule
// masks its inner command by that command's rule; a word that is not a command but is close to
// link or transfer (a typo) is masked by that command's rule, and when schedule's spec cannot be
// told apart from its command, the words after anything that names link or transfer are. dial's
// destination, when it is an RTMP URL, is shown without its stream key (its last path segment,
// the query and any user info), as live's URL is.
//
// The same rule decides chat.Reply.CarriedSecret, so an adapter with history removes every
// message whose words were masked.

// mask is what a masked word is shown as.
const mask = "****"

// secretWords maps the index of each argument that could be a secret to what is shown instead.
type secretWords map[int]string

// add masks argument i.
func (m *secretWords) add(i int, shown string) {
	if *m == nil {
		*m = secretWords{}
	}
	(*m)[i] = shown
}

// linkSecrets marks every word after link's room except the node kind: link <room> [pin]
// [private|public] in any order after the room.
func linkSecrets(_ *registry, args []Token) secretWords {
	var out secretWords
	for i := 1; i < len(args); i++ {
		if !args[i].Quoted && isCloudWord(args[i].Text) {
			continue
		}
		out.add(i, mask)
	}
	return out
}

// dialSecrets masks the stream key of an RTMP destination.
func dialSecrets(_ *registry, args []Token) secretWords {
	var out secretWords
	if len(args) > 0 {
		if shown := maskStreamURL(args[0].Text); shown != args[0].Text {
			out.add(0, shown)
		}
	}
	return out
}

// maskStreamURL returns dest with its stream key hidden (recording.Mask) when it is an RTMP URL,
// and anything else as it is. The key may be any segment after the host, the first one included
// (rtmp://host/key), so the last one is hidden whatever the path's depth.
func maskStreamURL(dest string) string {
	scheme, _, ok := strings.Cut(dest, "://")
	if !ok || !strings.HasPrefix(keyword(scheme), "rtmp") {
		return dest
	}
	return recording.Mask(dest)
}

// transferSecrets marks every word after transfer's second except the role clause: transfer
// <name> <room> [pin] [as chair|guest]. The second word is the room or, for a name typed without
// quotes, part of the name; from the third on any word may be the PIN.
func transferSecrets(_ *registry, args []Token) secretWords {
	var out secretWords
	for i := 2; i < len(args); i++ {
		if !args[i].Quoted {
			switch keyword(args[i].Text) {
			case "as", "chair", "host", "guest":
				continue
			}
		}
		out.add(i, mask)
	}
	return out
}

// scheduleSecrets marks the secrets of schedule's inner command, shifted past the spec.
func scheduleSecrets(g *registry, args []Token) secretWords {
	if _, rest, ok := splitSpec(args); ok && len(rest) > 0 {
		off := len(args) - len(rest) + 1
		return shift(g.secretsOf(rest[0], rest[1:]), off)
	}
	// The spec and the command cannot be told apart: mask after the first word that names (or
	// nearly names) a command that carries secrets.
	for i, t := range args {
		if idx := g.secretsOf(t, args[i+1:]); len(idx) > 0 {
			return shift(idx, i+1)
		}
	}
	return nil
}

// secretsOf returns the indexes in args that could be secrets when word is the command: its own
// rule when it is a command, else the rule of the command it is nearest to.
func (g *registry) secretsOf(word Token, args []Token) secretWords {
	c, ok := g.lookup(word.Text)
	if !ok {
		if near := g.nearest(word.Text); near != "" {
			c, ok = g.lookup(near)
		}
	}
	if !ok || c.secrets == nil {
		return nil
	}
	return c.secrets(g, args)
}

func shift(m secretWords, by int) secretWords {
	var out secretWords
	for i, w := range m {
		out.add(i+by, w)
	}
	return out
}

// carriesSecret reports whether a request's words (without /meet) hold what could be a secret.
func (g *registry) carriesSecret(toks []Token) bool {
	if len(toks) == 0 {
		return false
	}
	if toks[0].Quoted {
		// A whole command in quotes ("link 1061 9966") is an unknown command word; judge its words.
		toks = append(Tokenize(toks[0].Text), toks[1:]...)
		if len(toks) == 0 {
			return false
		}
	}
	return len(g.secretsOf(toks[0], toks[1:])) > 0
}

// maskDigits replaces every run of digits in s (of any script) with ****. It is for words echoed
// back that are not in any grammar, such as an unknown command word, which never holds a digit
// legitimately.
func maskDigits(s string) string {
	if strings.IndexFunc(s, unicode.IsDigit) < 0 {
		return s
	}
	var b strings.Builder
	inRun := false
	for _, r := range s {
		if unicode.IsDigit(r) {
			if !inRun {
				b.WriteString(mask)
			}
			inRun = true
			continue
		}
		inRun = false
		b.WriteRune(r)
	}
	return b.String()
}
