package commands

import "strings"

// dialSchemes are the destination forms that say their own protocol. A scheme the platform does
// not take in the destination (sip:, h323:, tel:) is removed from it; an RTMP URL is the
// destination itself.
var dialSchemes = []struct {
	prefix   string
	protocol string
	keep     bool // the prefix belongs to the destination
}{
	{"sip:", "sip", false},
	{"sips:", "sip", true},
	{"h323:", "h323", false},
	{"rtmp://", "rtmp", true},
	{"rtmps://", "rtmp", true},
	{"tel:", "phone", false},
}

// inferDialProtocol reads the protocol a destination names ("sip:bob@example.com",
// "rtmp://live.example.com/x", "tel:+155501234", "+861012345678") and returns the destination as
// the platform wants it. ok is false when the destination names none: then it is dialled over
// auto, unless the user named a protocol.
func inferDialProtocol(dest string) (destination, protocol string, ok bool) {
	lower := strings.ToLower(dest)
	for _, s := range dialSchemes {
		if strings.HasPrefix(lower, s.prefix) && len(dest) > len(s.prefix) {
			if s.keep {
				return dest, s.protocol, true
			}
			return dest[len(s.prefix):], s.protocol, true
		}
	}
	if len(dest) > 1 && dest[0] == '+' && strings.Trim(dest[1:], "0123456789 -()") == "" {
		return dest, "phone", true
	}
	return dest, "", false
}
