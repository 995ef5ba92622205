package commands

import "github.com/meetbot/meetbot/meetings"

// supports reports whether p's node lets op be done to p. The fields are true when the node does
// not send them (older nodes), so only an explicit false refuses.
func supports(p meetings.Participant, op capability) bool {
	switch op {
	case canMute:
		return !p.NoMute
	case canDisconnect:
		return !p.NoDisconnect
	case canTransfer:
		return !p.NoTransfer
	}
	return true
}
