//go:build !meetbot_capabilities

package commands

import "github.com/meetbot/meetbot/meetings"

// supports reports whether p's node lets op be done to p. meetings.Participant does not carry the
// node's per-participant flags in this build, so every operation is allowed, as before; build
// with -tags meetbot_capabilities once it does (capabilities_fields.go).
func supports(meetings.Participant, capability) bool { return true }
