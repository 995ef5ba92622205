// Package recording holds the pure pieces of recording and live streaming a meeting: the
// operator's recorder URL template (MEET_RECORDER_URL), checks of the RTMP URLs a host gives,
// and masking of stream keys for display and logs. It does no I/O and imports nothing of ours.
//
// # Usage
//
// At configuration time:
//
//	tmpl, err := recording.ParseTemplate(os.Getenv("MEET_RECORDER_URL")) // refuse to start on err
//
// When a host asks to record:
//
//	dest, err := tmpl.Expand(recording.Vars{Room: "1061", Alias: "weekly@example.com", At: now, Zone: loc})
//
// When a host gives a live URL, and whenever one is shown or logged:
//
//	if err := recording.CheckURL(u); err != nil { … one line: err.Error() never shows u … }
//	reply := "Live at " + recording.Mask(u)       // rtmp://a.rtmp.youtube.com/live2/****
//	audit := recording.MaskText(commandText)      // every rtmp(s) URL in it masked
//
// # Secrets
//
// A stream URL usually carries a stream key (the last path segment, or the query): whoever has
// it can broadcast as the channel. The errors of this package never quote the URL they judge,
// Mask keeps only the scheme, host and the path up to the key, and MaskText masks every
// rtmp-like URL of a text.
//
// # Concurrency
//
// Every function is pure; a Template is immutable and safe for concurrent use.
package recording

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxURLLength bounds the URLs CheckURL accepts; real ingest URLs are well under it.
const MaxURLLength = 2048

// ErrBadURL is matched (errors.Is) by every error CheckURL and ParseTemplate return for a URL
// that is not an acceptable rtmp:// or rtmps:// URL.
var ErrBadURL = errors.New("not an rtmp:// or rtmps:// URL")

// URLError says why a stream URL was refused, in words safe to show the user: it never quotes
// the URL, which may carry a stream key.
type URLError struct {
	Reason string // e.g. "the URL must start with rtmp:// or rtmps://"
}

// Error returns the reason.
func (e *URLError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrBadURL) true.
func (e *URLError) Is(target error) bool { return target == ErrBadURL }

func badURL(format string, args ...any) error {
	return &URLError{Reason: fmt.Sprintf(format, args...)}
}

// CheckURL reports whether s is a stream URL the platform can push to: rtmp:// or rtmps://
// (any case), a host, no whitespace or control characters, valid UTF-8, at most MaxURLLength
// bytes, and no user:password part (which would be a secret outside the place Mask hides). A
// failure is a *URLError matching ErrBadURL whose text never contains s.
func CheckURL(s string) error {
	if s == "" {
		return badURL("the stream URL is empty")
	}
	if len(s) > MaxURLLength {
		return badURL("the stream URL is longer than %d characters", MaxURLLength)
	}
	if !utf8.ValidString(s) {
		return badURL("the stream URL is not valid text")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return badURL("the stream URL contains a space or a control character")
		}
	}
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || !rtmpScheme(scheme) {
		return badURL("the stream URL must start with rtmp:// or rtmps://")
	}
	u, err := url.Parse(s)
	if err != nil {
		// url's errors quote the input; say only that it did not parse.
		return badURL("the stream URL is not a valid URL")
	}
	if u.User != nil {
		return badURL("the stream URL must not contain a user name or password")
	}
	if u.Hostname() == "" {
		return badURL("the stream URL has no host")
	}
	if p := u.Port(); p != "" && !validPort(p) {
		return badURL("the stream URL has an invalid port")
	}
	return nil
}

func rtmpScheme(scheme string) bool {
	return strings.EqualFold(scheme, "rtmp") || strings.EqualFold(scheme, "rtmps")
}

func validPort(p string) bool {
	if len(p) > 5 {
		return false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n > 0 && n <= 65535
}
