package recording

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The placeholders a recorder URL template may use.
const (
	PlaceholderRoom  = "{room}"  // the room's number (checkJoin's sipkey, or what the channel linked)
	PlaceholderAlias = "{alias}" // the room's email-style address
	PlaceholderDate  = "{date}"  // the start date, 2006-01-02, in Vars.Zone
	PlaceholderTime  = "{time}"  // the start time, 150405 (hours, minutes, seconds), in Vars.Zone
)

var placeholders = []string{PlaceholderRoom, PlaceholderAlias, PlaceholderDate, PlaceholderTime}

// ErrBadTemplate is matched (errors.Is) by every error ParseTemplate returns.
var ErrBadTemplate = errors.New("bad recorder URL template")

// TemplateError says why a recorder URL template was refused. Like URLError it never quotes
// the template, which may carry the recorder's stream key; it names only the placeholder at
// fault.
type TemplateError struct {
	Reason string
	Err    error // a *URLError when the URL itself is at fault
}

// Error returns the reason, prefixed for the operator's configuration.
func (e *TemplateError) Error() string { return "MEET_RECORDER_URL: " + e.Reason }

// Is makes errors.Is(err, ErrBadTemplate) true.
func (e *TemplateError) Is(target error) bool { return target == ErrBadTemplate }

// Unwrap returns the *URLError, if any.
func (e *TemplateError) Unwrap() error { return e.Err }

// ErrMissingValue is returned by Expand when the template uses a placeholder the meeting has
// no value for (an {alias} for a room linked by number only, say).
var ErrMissingValue = errors.New("recorder URL placeholder without a value")

// Template is a parsed recorder URL template such as
// rtmp://recorder.example.com/live/{room}-{date}. The zero Template is empty (Configured
// reports false). It is immutable and safe for concurrent use.
type Template struct {
	parts []part
	raw   string
}

// part is literal text, or a placeholder when ph is set.
type part struct {
	text string
	ph   bool
}

// Vars are the values a Template is expanded with.
type Vars struct {
	Room  string         // for {room}
	Alias string         // for {alias}
	At    time.Time      // for {date} and {time}
	Zone  *time.Location // the channel's time zone; nil keeps At's own
}

// ParseTemplate parses a recorder URL template. Placeholders are {room}, {alias}, {date} and
// {time}, and may appear only after the host (in the path or the query); any other {…}, an
// unmatched brace, and a URL that CheckURL would refuse once expanded are errors
// (*TemplateError, matching ErrBadTemplate), so the operator learns at start, not at the first
// recording. An empty s gives the zero Template and no error: recording is not configured.
func ParseTemplate(s string) (Template, error) {
	if s == "" {
		return Template{}, nil
	}
	var parts []part
	rest := s
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			parts = append(parts, part{text: rest})
			break
		}
		if rest[open] == '}' {
			return Template{}, &TemplateError{Reason: "a } without its {"}
		}
		if open > 0 {
			parts = append(parts, part{text: rest[:open]})
		}
		closing := strings.IndexAny(rest[open+1:], "{}")
		if closing < 0 || rest[open+1+closing] == '{' {
			return Template{}, &TemplateError{Reason: "a { without its }"}
		}
		name := rest[open : open+1+closing+1]
		if !known(name) {
			return Template{}, &TemplateError{Reason: fmt.Sprintf("unknown placeholder %s; use {room}, {alias}, {date} or {time}", quoteName(name))}
		}
		parts = append(parts, part{text: name, ph: true})
		rest = rest[open+len(name):]
	}
	t := Template{parts: parts, raw: s}
	// The host must be literal: a placeholder there would let a room's name choose the server.
	// (When the text before the first placeholder has no "://", the placeholder is in the
	// scheme, and the check of the sample below refuses it: escaped values never make "://".)
	for i, p := range parts {
		if !p.ph {
			continue
		}
		literal := ""
		for _, q := range parts[:i] {
			literal += q.text
		}
		if _, after, ok := strings.Cut(literal, "://"); ok && !strings.ContainsAny(after, "/?#") {
			return Template{}, &TemplateError{Reason: "placeholders belong in the path, after the host"}
		}
		break
	}
	sample, _ := t.expand(Vars{Room: "1061", Alias: "room@example.com", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err := CheckURL(sample); err != nil {
		return Template{}, &TemplateError{Reason: err.Error(), Err: err}
	}
	return t, nil
}

func known(name string) bool {
	for _, p := range placeholders {
		if name == p {
			return true
		}
	}
	return false
}

// quoteName shows a placeholder's name, cut short so a key pasted between braces is not
// echoed whole.
func quoteName(name string) string {
	const max = 16
	if len(name) > max {
		return name[:max-4] + "…}"
	}
	return name
}

// Configured reports whether t came from a non-empty template.
func (t Template) Configured() bool { return len(t.parts) > 0 }

// Uses reports whether t uses placeholder (PlaceholderAlias, …).
func (t Template) Uses(placeholder string) bool {
	for _, p := range t.parts {
		if p.ph && p.text == placeholder {
			return true
		}
	}
	return false
}

// String returns the template masked as Mask masks a URL: it may carry the recorder's key.
func (t Template) String() string { return Mask(t.raw) }

// Expand returns the recorder URL for v: each placeholder is replaced by its value,
// percent-escaped so that it stays within one path segment (or one query value); {date} and
// {time} are At in Zone. A placeholder whose value is empty is ErrMissingValue, naming it; a
// result longer than MaxURLLength is a *URLError.
// Expanding the zero Template returns "" and no error.
func (t Template) Expand(v Vars) (string, error) {
	out, err := t.expand(v)
	if err != nil || out == "" {
		return "", err
	}
	// Only the length can differ from what ParseTemplate checked (a very long room name).
	if err := CheckURL(out); err != nil {
		return "", err
	}
	return out, nil
}

func (t Template) expand(v Vars) (string, error) {
	at := v.At
	if v.Zone != nil {
		at = at.In(v.Zone)
	}
	var b strings.Builder
	for _, p := range t.parts {
		if !p.ph {
			b.WriteString(p.text)
			continue
		}
		var val string
		switch p.text {
		case PlaceholderRoom:
			val = v.Room
		case PlaceholderAlias:
			val = v.Alias
		case PlaceholderDate:
			if !at.IsZero() {
				val = at.Format("2006-01-02")
			}
		case PlaceholderTime:
			if !at.IsZero() {
				val = at.Format("150405")
			}
		}
		if val == "" {
			return "", fmt.Errorf("%s: %w", p.text, ErrMissingValue)
		}
		b.WriteString(escapeSegment(val))
	}
	return b.String(), nil
}

// escapeSegment percent-escapes every byte but RFC 3986's unreserved characters, so a value
// can neither end a path segment (/), start a query (?, #) nor add a query parameter (&, =).
func escapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
