package recording_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/meetbot/meetbot/recording"
)

// CheckURL and Mask take what a host types. Neither panics; Mask is idempotent, never keeps a
// query, and keeps only what precedes the last path segment of a URL CheckURL accepts.
func FuzzCheckURLAndMask(f *testing.F) {
	for _, s := range []string{
		"rtmp://a.rtmp.youtube.com/live2/abcd-efgh", "rtmps://h:443/a/b?k=v#f", "rtmp://h", "rtmp://h/",
		"rtmp://u:p@h/a/k", "rtmp:///x", "RTMP://H/A/K/", "rtmp://[::1]:1935/l/k", "rtmp://h?k", "x", "",
		"rtmp://h/a%zz", "rtmp://h:0/a", "rtmp://h/\u00a0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := recording.CheckURL(s)
		m := recording.Mask(s)
		if mm := recording.Mask(m); mm != m {
			t.Fatalf("Mask(%q) = %q, but Mask of that = %q", s, m, mm)
		}
		if err != nil {
			// The reasons are fixed sentences of lower-case letters, digits, spaces, ':', '/' and "URL";
			// an input with any other character cannot be inside one unless it was quoted.
			if strings.Contains(err.Error(), s) && strings.IndexFunc(s, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == ' ' || r == ':' || r == '/' || strings.ContainsRune("URL", r))
			}) >= 0 {
				t.Fatalf("CheckURL's error %q quotes its input", err)
			}
			return
		}
		if strings.ContainsAny(m, "?#") {
			t.Fatalf("Mask(%q) = %q keeps a query", s, m)
		}
		if m != s && !strings.HasSuffix(m, recording.Masked) {
			t.Fatalf("Mask(%q) = %q changed the URL without masking its end", s, m)
		}
		_, rest, _ := strings.Cut(s, "://")
		if i := strings.IndexAny(rest, "/?#"); i >= 0 && strings.Trim(rest[i:], "/") != "" && m == s {
			t.Fatalf("Mask(%q) left a URL with a path or query as it was", s)
		}
	})
}

// MaskText runs on every audited command text. It never panics, is idempotent, leaves text
// without "rtmp" alone, and leaves no query of an rtmp URL behind.
func FuzzMaskText(f *testing.F) {
	for _, s := range []string{
		"live start rtmp://a/live2/k presentation rtmps://b/app/k2?x=y", "<rtmp://a/b/k|rtmp://a/b/k>",
		"rtmp", "rtmp:/", "xrtmp://a/b", "RTMPS://a?k", "rtmp://a/b/密钥，", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := recording.MaskText(s)
		if mm := recording.MaskText(m); mm != m {
			t.Fatalf("MaskText(%q) = %q, but MaskText of that = %q", s, m, mm)
		}
		if !strings.Contains(strings.ToLower(s), "rtmp") && m != s {
			t.Fatalf("MaskText(%q) = %q changed text without an rtmp URL", s, m)
		}
		if utf8.ValidString(s) && !utf8.ValidString(m) {
			t.Fatalf("MaskText(%q) = %q broke UTF-8", s, m)
		}
		for _, w := range strings.Fields(m) {
			if strings.HasPrefix(strings.ToLower(w), "rtmp://") && strings.ContainsAny(w, "?") && !strings.ContainsAny(w, "\"'<>`|") {
				t.Fatalf("MaskText(%q) = %q left a query in %q", s, m, w)
			}
		}
	})
}

// ParseTemplate reads the operator's setting. It never panics; a template it accepts expands
// to a URL CheckURL accepts, whatever the room's name.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{
		"rtmp://recorder.example.com/live/{room}-{date}", "rtmps://h/{alias}/{date}_{time}?n={room}",
		"rtmp://{room}/x", "rtmp://h/{x}", "rtmp://h/{room", "rtmp://h/room}", "{room}", "", "rtmp://h:{room}/",
	} {
		f.Add(s, "1061 ../x?y&z", "a@b")
	}
	f.Fuzz(func(t *testing.T, tmpl, room, alias string) {
		tm, err := recording.ParseTemplate(tmpl)
		if err != nil || !tm.Configured() {
			return
		}
		out, err := tm.Expand(recording.Vars{Room: room, Alias: alias, At: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)})
		if err != nil {
			return // a missing value, or a result too long
		}
		if cerr := recording.CheckURL(out); cerr != nil {
			t.Fatalf("ParseTemplate(%q) accepted it, but Expand gave %q: %v", tmpl, out, cerr)
		}
		// A room's name stays inside its segment: it adds no slash, query or fragment.
		for _, c := range "/?#&" {
			if strings.Count(out, string(c)) != strings.Count(tmpl, string(c)) {
				t.Fatalf("Expand(%q, room %q) = %q: the values changed the URL's structure", tmpl, room, out)
			}
		}
	})
}
