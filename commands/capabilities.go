package commands

import "github.com/meetbot/meetbot/meetings"

// capability is an operation on one participant that a node may refuse for that participant:
// newer nodes say per participant whether it can be muted, disconnected or transferred (a
// gateway call or a streaming participant often cannot). The registry names the capability each
// participant command needs; the dispatcher refuses with one line, before any call, when the
// participant lacks it, so the user learns why instead of reading a platform error.
type capability int

const (
	anyParticipant capability = iota // no capability needed
	canMute                          // mute_supported
	canDisconnect                    // disconnect_supported
	canTransfer                      // transfer_supported
)

// verb is how the refusal names the operation.
func (c capability) verb() string {
	switch c {
	case canMute:
		return "mute or unmute"
	case canDisconnect:
		return "disconnect"
	case canTransfer:
		return "transfer"
	}
	return ""
}

// refuseUnsupported returns the refusal when p's node says op cannot be done to p, else nil.
func refuseUnsupported(p meetings.Participant, op capability) error {
	if op == anyParticipant || supports(p, op) {
		return nil
	}
	return userErrorf("The meeting's platform does not let anyone %s %s (their connection does not support it), so nothing was done.",
		op.verb(), p.DisplayName)
}
