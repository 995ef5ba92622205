package commands

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	"golang.org/x/text/unicode/norm"
)

// person is what name resolution looks at in a participant.
type person struct {
	uuid string
	name string
}

// fold prepares a name for case- and width-insensitive comparison.
func fold(s string) string {
	return strings.ToLower(norm.NFKC.String(s))
}

// match finds who query means among people, trying in order: the exact display name, the name in
// any case or width, a prefix of the name, a part of the name. The first rule that matches anyone
// decides: one index is a match, several are ambiguous, none means no one is called that.
//
// A query that may be the start of a uuid (4 hex digits or more) also matches the people whose
// uuid starts with it, alongside the exact names: a guest who names a device after someone's uuid
// prefix makes that prefix ambiguous (the user gets both as choices) rather than taking it over.
// Commands the bot writes itself never come here: they name people by idRef.
func match(query string, people []person) []int {
	if query == "" {
		return nil
	}
	var out []int
	collect := func(ok func(p person, f string) bool) []int {
		out = out[:0]
		for i, p := range people {
			if ok(p, fold(p.name)) {
				out = append(out, i)
			}
		}
		return out
	}
	q := fold(query)
	uuidLike := isUUIDPrefix(q)
	rules := []func(p person, f string) bool{
		func(p person, _ string) bool {
			return p.name == query || uuidLike && strings.HasPrefix(strings.ToLower(p.uuid), q)
		},
		func(_ person, f string) bool { return f == q },
		func(_ person, f string) bool { return strings.HasPrefix(f, q) },
		func(_ person, f string) bool { return strings.Contains(f, q) },
	}
	for _, rule := range rules {
		if m := collect(rule); len(m) > 0 {
			return m
		}
	}
	// Typing leaves marks around a name: "@Bob", "张伟。", " Bob ". Try once more without them.
	if t := strings.TrimFunc(query, func(r rune) bool { return isSep(r) || unicode.IsPunct(r) }); t != "" && t != query {
		return match(t, people)
	}
	return nil
}

// isUUIDPrefix reports whether q (folded) may be the start of a participant uuid.
func isUUIDPrefix(q string) bool {
	if len(q) < 4 {
		return false
	}
	for _, r := range q {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r == '-') {
			return false
		}
	}
	return true
}

// idPrefix starts the participant reference the bot writes into the commands of buttons, choices
// and confirmations: id:<full uuid>.
const idPrefix = "id:"

// idRef returns the word that names the participant with uuid in a command the bot writes. It
// names them by their whole uuid and is never compared with display names, so no one can take
// over a button by choosing a name. People type names or uuid prefixes; a person called "id:…"
// is named in quotes.
func idRef(uuid string) string { return idPrefix + uuid }

// parseIDRef returns the uuid an unquoted id:<uuid> word names.
func parseIDRef(t Token) (string, bool) {
	if t.Quoted {
		return "", false
	}
	if uuid, ok := strings.CutPrefix(keyword(t.Text), idPrefix); ok {
		return uuid, true
	}
	return "", false
}

// roleName is how replies name a participant's role.
func roleName(p meetings.Participant) string {
	if p.IsHost() {
		return "host"
	}
	return "guest"
}

// label names a participant in a list of choices: "Bob Smith (guest)".
func label(p meetings.Participant) string {
	extra := roleName(p)
	if p.Waiting() {
		extra += ", waiting"
	}
	return fmt.Sprintf("%s (%s)", p.DisplayName, extra)
}

// resolveArg finds the participant argument i of c names in the live roster. An unknown or
// ambiguous name is an error the user sees (the choices, for an ambiguous one); nothing changes.
func (r *Router) resolveArg(ctx context.Context, c *call, i int) (meetings.Participant, error) {
	roster, err := r.roster(ctx, c)
	if err != nil {
		return meetings.Participant{}, err
	}
	query := c.word(i)
	if uuid, ok := parseIDRef(c.args[i]); ok {
		// Written by the bot (a button, a choice, a confirmation): the whole uuid, and nothing else.
		for _, p := range roster {
			if uuid != "" && strings.EqualFold(p.UUID, uuid) {
				return p, nil
			}
		}
		return meetings.Participant{}, userErrorf("That participant is no longer in the meeting. Try: who")
	}
	people := make([]person, len(roster))
	for j, p := range roster {
		people[j] = person{uuid: p.UUID, name: p.DisplayName}
	}
	m := match(query, people)
	switch len(m) {
	case 1:
		return roster[m[0]], nil
	case 0:
		if len(roster) == 0 {
			return meetings.Participant{}, userErrorf("No one called %q is in the meeting: it is empty.", query)
		}
		return meetings.Participant{}, userErrorf("No one called %q is in the meeting. Try: who", query)
	}
	choices := make([]chat.Action, 0, len(m))
	for _, j := range m {
		line := c.line(map[int]string{i: idRef(roster[j].UUID)}, c.confirmed)
		choices = append(choices, chat.Action{Label: label(roster[j]), Command: line})
	}
	text := fmt.Sprintf("%q matches %d people; which one?", query, len(m))
	return meetings.Participant{}, &replyError{
		reply:   chat.Reply{Text: text, Choices: choices, Failed: true},
		outcome: fmt.Sprintf("%q is ambiguous", query),
	}
}
