package recording

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Masked replaces what Mask hides.
const Masked = "****"

// Mask returns s with its stream key hidden, for confirmations, status lines and logs: the
// scheme, the host (and port) and the path up to its last segment stay; the last path segment
// and any query or fragment become "****", and so does a user:password part:
//
//	rtmp://a.rtmp.youtube.com/live2/abcd-efgh                → rtmp://a.rtmp.youtube.com/live2/****
//	rtmp://live-push.bilivideo.com/live-bvc/?streamname=x&key=y → rtmp://live-push.bilivideo.com/live-bvc/****
//	rtmp://host/app/key/                                     → rtmp://host/app/****
//
// A URL with nothing after its host comes back as it is; text without "://" becomes "****".
// Mask never fails and Mask(Mask(s)) == Mask(s). It works on the text, not on a parsed URL, so
// it hides the key of URLs CheckURL would refuse too.
func Mask(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Masked
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth, tail := rest[:end], rest[end:]
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		auth = Masked + "@" + auth[at+1:]
	}
	head := scheme + "://" + auth
	if tail == "" {
		return head
	}
	pathEnd := strings.IndexAny(tail, "?#")
	hasQuery := pathEnd >= 0
	if !hasQuery {
		pathEnd = len(tail)
	}
	path := tail[:pathEnd]
	if path == "" { // rtmp://host?key=…
		return head + "/" + Masked
	}
	slash := strings.LastIndexByte(path, '/')
	if path[slash+1:] != "" || hasQuery {
		return head + path[:slash+1] + Masked
	}
	// A trailing slash and no query: the key is the last segment that is not empty.
	trimmed := strings.TrimRight(path, "/")
	if trimmed == "" {
		return head + path
	}
	return head + trimmed[:strings.LastIndexByte(trimmed, '/')+1] + Masked
}

// MaskText returns text with every rtmp-like URL in it masked by Mask, for audit entries and
// log lines of commands such as `live start rtmp://… presentation rtmp://…`. A URL starts at a
// scheme beginning with "rtmp" (rtmp, rtmps, rtmpt, …, any case) followed by "://", and runs to
// the next space or one of " ' < > ` | (so Slack's <url|label> is masked on both sides). Text
// that holds a key outside such a URL (a host without a scheme, say) is not recognised: log
// a refused `live start` argument as "****" whole.
func MaskText(text string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(text); {
		start, end, ok := nextURL(text, i)
		if !ok {
			break
		}
		if b.Len() == 0 {
			b.Grow(len(text))
		}
		b.WriteString(text[last:start])
		b.WriteString(Mask(text[start:end]))
		last, i = end, end
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// nextURL finds the first rtmp-like URL in text at or after from.
func nextURL(text string, from int) (start, end int, ok bool) {
	for i := from; i+4 <= len(text); i++ {
		if !hasPrefixFold(text[i:], "rtmp") || (i > 0 && isSchemeChar(text[i-1])) {
			continue
		}
		j := i + 4
		for j < len(text) && isSchemeChar(text[j]) {
			j++
		}
		if !strings.HasPrefix(text[j:], "://") {
			continue
		}
		end := j + 3
		for end < len(text) {
			r, size := utf8.DecodeRuneInString(text[end:])
			if unicode.IsSpace(r) || strings.ContainsRune("\"'<>`|", r) {
				break
			}
			end += size
		}
		return i, end, true
	}
	return 0, 0, false
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case; prefix is lower case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}
