// Package joinurl expands the operator's MEET_JOIN_URL template into a meeting's web join page.
//
// A template is an http or https URL with the placeholders {alias}, {number} and {name}:
//
//	t, err := joinurl.Parse("https://meet.example.com/webapp/#/?conference={alias}")
//	u, ok := t.Expand(joinurl.FromRoom(link.Room, link.Name))
//
// Values are escaped so they stay one path segment or one query value wherever they stand. A
// guest PIN is never a placeholder: a join link is shared in channels and must not let anyone in
// by itself. It imports nothing of meetbot and is safe for concurrent use.
package joinurl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Fields are the values a template may use.
type Fields struct {
	Alias  string // the meeting's alias, e.g. "weekly"
	Number string // the meeting's number, e.g. "1234"
	Name   string // the conference name, e.g. "Weekly sync"
}

// FromRoom fills Fields from a link's room as the user typed it (all digits: a number, else an
// alias) and the conference name.
func FromRoom(room, name string) Fields {
	f := Fields{Name: name}
	if room != "" && strings.Trim(room, "0123456789") == "" {
		f.Number = room
	} else {
		f.Alias = room
	}
	return f
}

// Template is a parsed MEET_JOIN_URL. The zero value expands to nothing.
type Template struct {
	raw string
}

// placeholders are the names a template may use.
var placeholders = []string{"alias", "number", "name"}

// Parse checks s: an absolute http or https URL with a host, whose braces hold only known
// placeholders. An empty s is the zero Template (join links off).
func Parse(s string) (Template, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Template{}, nil
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return Template{}, errors.New("a URL has no spaces")
	}
	if scheme, after, ok := strings.Cut(s, "://"); ok && !strings.ContainsAny(scheme, "{}") {
		host := after
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		if strings.ContainsAny(host, "{}") {
			return Template{}, errors.New("placeholders go in the path or query, not the host: a meeting's name must not choose the server")
		}
	}
	rest := s
	used := 0
	for {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			break
		}
		if rest[i] == '}' {
			return Template{}, errors.New("a } without its {")
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return Template{}, errors.New("a { without its }")
		}
		name := rest[i+1 : i+j]
		if !known(name) {
			return Template{}, fmt.Errorf("unknown placeholder {%s}: use {alias}, {number} or {name}", name)
		}
		used++
		rest = rest[i+j+1:]
	}
	// Check the URL with every placeholder filled, as it will be used.
	u, err := url.Parse(expand(s, Fields{Alias: "a", Number: "1", Name: "n"}))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Template{}, errors.New("want an http:// or https:// URL with a host")
	}
	if u.User != nil {
		return Template{}, errors.New("a join URL carries no user or password")
	}
	if used == 0 {
		return Template{}, errors.New("use at least one of {alias}, {number} or {name}, or every meeting gets the same link")
	}
	return Template{raw: s}, nil
}

func known(name string) bool {
	for _, p := range placeholders {
		if name == p {
			return true
		}
	}
	return false
}

// IsZero reports whether t is unset (join links off).
func (t Template) IsZero() bool { return t.raw == "" }

// String returns the template as configured.
func (t Template) String() string { return t.raw }

// Expand fills t with f. ok is false, and the URL empty, when t is unset or uses a field that f
// leaves empty: no link is better than one to the wrong page.
func (t Template) Expand(f Fields) (u string, ok bool) {
	if t.raw == "" {
		return "", false
	}
	for _, p := range placeholders {
		if strings.Contains(t.raw, "{"+p+"}") && value(f, p) == "" {
			return "", false
		}
	}
	return expand(t.raw, f), true
}

func value(f Fields, name string) string {
	switch name {
	case "alias":
		return f.Alias
	case "number":
		return f.Number
	case "name":
		return f.Name
	}
	return ""
}

// expand substitutes every placeholder with its escaped value.
func expand(s string, f Fields) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(escape(value(f, s[i+1:i+j])))
		s = s[i+j+1:]
	}
}

// escape makes v safe as a path segment and as a query value alike: QueryEscape escapes / ? # &
// = + and the rest, and a space becomes %20, which both read as a space.
func escape(v string) string {
	return strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
}
