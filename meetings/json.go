package meetings

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds a small, allocation-light JSON reader for the objects on the event stream's hot
// path (participants, deletes, service updates). It is lenient where the platform is loose
// (clarification 9) and strict enough never to misread a value: malformed input is an error,
// never a panic.

var errSyntax = errors.New("malformed JSON")

const maxDepth = 10000 // as encoding/json

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

func firstNonSpace(data []byte) byte {
	i := skipSpace(data, 0)
	if i < len(data) {
		return data[i]
	}
	return 0
}

// scanString returns the index just past the string starting at data[i] == '"', and whether it
// holds escapes. Control characters inside are tolerated (leniency costs nothing here).
func scanString(data []byte, i int) (end int, escaped bool, err error) {
	i++
	j := bytes.IndexByte(data[i:], '"')
	if j < 0 {
		return 0, false, errSyntax
	}
	if bytes.IndexByte(data[i:i+j], '\\') < 0 {
		return i + j + 1, false, nil
	}
	for i < len(data) {
		switch data[i] {
		case '"':
			return i + 1, true, nil
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return 0, false, errSyntax
}

// scanValue returns the index just past the JSON value starting at data[i] (no leading space).
func scanValue(data []byte, i, depth int) (int, error) {
	if i >= len(data) {
		return 0, errSyntax
	}
	switch c := data[i]; {
	case c == '"':
		end, _, err := scanString(data, i)
		return end, err
	case c == '{':
		if depth >= maxDepth {
			return 0, errSyntax
		}
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == '}' {
			return i + 1, nil
		}
		for {
			if i >= len(data) || data[i] != '"' {
				return 0, errSyntax
			}
			end, _, err := scanString(data, i)
			if err != nil {
				return 0, err
			}
			i = skipSpace(data, end)
			if i >= len(data) || data[i] != ':' {
				return 0, errSyntax
			}
			i = skipSpace(data, i+1)
			if i, err = scanValue(data, i, depth+1); err != nil {
				return 0, err
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return 0, errSyntax
			}
			if data[i] == '}' {
				return i + 1, nil
			}
			if data[i] != ',' {
				return 0, errSyntax
			}
			i = skipSpace(data, i+1)
		}
	case c == '[':
		if depth >= maxDepth {
			return 0, errSyntax
		}
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = scanValue(data, i, depth+1); err != nil {
				return 0, err
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return 0, errSyntax
			}
			if data[i] == ']' {
				return i + 1, nil
			}
			if data[i] != ',' {
				return 0, errSyntax
			}
			i = skipSpace(data, i+1)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(data) {
			d := data[j]
			if (d >= '0' && d <= '9') || d == '.' || d == 'e' || d == 'E' || d == '+' || d == '-' {
				j++
				continue
			}
			break
		}
		return j, nil
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit {
				return i + len(lit), nil
			}
		}
		return 0, errSyntax
	}
}

// eachMember calls fn with each member of the JSON object in data: the key (unescaped) and the
// raw value. It fails on anything but one well-formed object.
func eachMember(data []byte, fn func(key, val []byte) error) error {
	m := members{data: data}
	for m.next() {
		if err := fn(m.key, m.val); err != nil {
			return err
		}
	}
	return m.err
}

// members iterates the members of one JSON object without allocating:
//
//	m := members{data: data}
//	for m.next() { use(m.key, m.val) }
//	if m.err != nil { … }
type members struct {
	data     []byte
	i        int
	key, val []byte
	err      error
	started  bool
	done     bool
}

func (m *members) fail() bool {
	m.err = errSyntax
	return false
}

// next advances to the next member; it returns false at the end of the object or on an error.
func (m *members) next() bool {
	data := m.data
	i := m.i
	if !m.started {
		m.started = true
		i = skipSpace(data, 0)
		if i >= len(data) || data[i] != '{' {
			return m.fail()
		}
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == '}' {
			if skipSpace(data, i+1) != len(data) {
				return m.fail()
			}
			m.done = true
			return false
		}
	} else {
		if m.err != nil || m.done {
			return false
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return m.fail()
		}
		if data[i] == '}' {
			if skipSpace(data, i+1) != len(data) {
				return m.fail()
			}
			m.done = true
			return false
		}
		if data[i] != ',' {
			return m.fail()
		}
		i = skipSpace(data, i+1)
	}
	if i >= len(data) || data[i] != '"' {
		return m.fail()
	}
	end, esc, err := scanString(data, i)
	if err != nil {
		return m.fail()
	}
	m.key = data[i+1 : end-1]
	if esc {
		k, err := unquote(data[i:end])
		if err != nil {
			return m.fail()
		}
		m.key = []byte(k)
	}
	i = skipSpace(data, end)
	if i >= len(data) || data[i] != ':' {
		return m.fail()
	}
	i = skipSpace(data, i+1)
	vend, err := scanValue(data, i, 1)
	if err != nil {
		return m.fail()
	}
	m.val = data[i:vend]
	m.i = vend
	return true
}

// eachElement calls fn with each raw element of the JSON array in data.
func eachElement(data []byte, fn func(val []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return errSyntax
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		if skipSpace(data, i+1) != len(data) {
			return errSyntax
		}
		return nil
	}
	for {
		end, err := scanValue(data, i, 1)
		if err != nil {
			return err
		}
		if err := fn(data[i:end]); err != nil {
			return err
		}
		i = skipSpace(data, end)
		if i >= len(data) {
			return errSyntax
		}
		if data[i] == ']' {
			if skipSpace(data, i+1) != len(data) {
				return errSyntax
			}
			return nil
		}
		if data[i] != ',' {
			return errSyntax
		}
		i = skipSpace(data, i+1)
	}
}

func unquote(raw []byte) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errSyntax
	}
	return s, nil
}

// jsonString returns the string a raw JSON value holds, if it is a string.
func jsonString(val []byte) (string, bool) {
	val = trimSpace(val)
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return "", false
	}
	for _, c := range val[1 : len(val)-1] {
		if c == '\\' {
			s, err := unquote(val)
			return s, err == nil
		}
	}
	if !utf8.Valid(val) {
		s, err := unquote(val) // replaces invalid bytes as encoding/json does
		return s, err == nil
	}
	return string(val[1 : len(val)-1]), true
}

func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// valString reads a string leniently: a string as itself, a number or boolean as its text, null
// and objects as "".
func valString(val []byte) string {
	if s, ok := jsonString(val); ok {
		return s
	}
	val = trimSpace(val)
	if len(val) == 0 {
		return ""
	}
	switch c := val[0]; {
	case c == '-' || (c >= '0' && c <= '9'):
		return string(val)
	case string(val) == "true" || string(val) == "false":
		return string(val)
	}
	return ""
}

// truthy reads the platform's many spellings of a flag (clarification 9).
func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "1", "on", "y", "allow":
		return true
	}
	return false
}

// rawInner returns the bytes inside a JSON string without escapes, or ok false.
func rawInner(val []byte) ([]byte, bool) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return nil, false
	}
	inner := val[1 : len(val)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		return nil, false
	}
	return bytes.TrimSpace(inner), true
}

// valBool reads a flag leniently: true/false, "YES"/"NO", "true"/"false", numbers (non-zero).
func valBool(val []byte) bool {
	val = trimSpace(val)
	if len(val) == 0 {
		return false
	}
	switch val[0] {
	case 't':
		return string(val) == "true"
	case 'f', 'n':
		return false
	case '"':
		inner, ok := rawInner(val)
		if !ok {
			s, _ := jsonString(val)
			inner = []byte(strings.TrimSpace(s))
		}
		for _, w := range [...]string{"yes", "true", "1", "on", "y", "allow"} {
			if len(inner) == len(w) && strings.EqualFold(string(inner), w) {
				return true
			}
		}
		if len(inner) > 0 && (inner[0] == '-' || inner[0] == '.' || (inner[0] >= '0' && inner[0] <= '9')) {
			f, err := strconv.ParseFloat(string(inner), 64)
			return err == nil && f != 0
		}
		return false
	}
	f, err := strconv.ParseFloat(string(val), 64)
	return err == nil && f != 0
}

// valInt reads a number leniently: integers, floats (truncated) and numeric strings; anything
// else is 0.
func valInt(val []byte) int64 {
	val = trimSpace(val)
	if len(val) == 0 {
		return 0
	}
	if val[0] == '"' {
		if inner, ok := rawInner(val); ok {
			val = inner
			if len(val) == 0 {
				return 0
			}
		} else {
			s, _ := jsonString(val)
			return parseInt(strings.TrimSpace(s))
		}
	}
	// Fast path: plain integers.
	var n int64
	neg := false
	b := val
	if b[0] == '-' {
		neg = true
		b = b[1:]
	}
	if len(b) > 0 && len(b) <= 18 {
		ok := true
		for _, c := range b {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			if neg {
				return -n
			}
			return n
		}
	}
	return parseInt(string(val))
}

func parseInt(s string) int64 {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f > 9.2e18 || f < -9.2e18 {
		return 0
	}
	return int64(f)
}

func equalFoldStr(a, b string) bool { return strings.EqualFold(strings.TrimSpace(a), b) }

// internString reads a string value like valString, without allocating for the words the
// platform repeats in every participant object.
func internString(val []byte) string {
	if inner, ok := rawInner(val); ok && len(inner) == len(val)-2 {
		switch string(inner) {
		case "guest":
			return "guest"
		case "chair":
			return "chair"
		case "conference":
			return "conference"
		case "connecting":
			return "connecting"
		case "waiting_room":
			return "waiting_room"
		case "in":
			return "in"
		case "out":
			return "out"
		case "On":
			return "On"
		case "Off":
			return "Off"
		case "webrtc":
			return "webrtc"
		case "sip":
			return "sip"
		case "api":
			return "api"
		case "ALLOW":
			return "ALLOW"
		case "DENY":
			return "DENY"
		}
	}
	return valString(val)
}
