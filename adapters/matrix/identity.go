package matrix

import (
	"errors"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/id"
)

// ErrIdentity marks a start refused because the bot's Matrix identity and its settings disagree
// (a recovery key that unlocks nothing, a device whose keys were lost); the message says what to do.
var ErrIdentity = errors.New("matrix identity")

// showRecoveryKey prints the new recovery key for the operator, once, on Config.Stderr: never in
// a room, never in the log, since it unlocks the bot's identity.
func (a *Adapter) showRecoveryKey(recovery string) {
	var b strings.Builder
	rule := strings.Repeat("=", 78)
	fmt.Fprintf(&b, "\n%s\nmeetbot: Matrix recovery key for %s (shown this once)\n\n", rule, a.cli.UserID)
	fmt.Fprintf(&b, "    %s\n\n", recovery)
	b.WriteString("The bot has created its cross-signing identity and verified its own device, so\n" +
		"Element shows its messages without a red shield. Keep this key secret, beside\n" +
		"MATRIX_PICKLE_KEY, and set MATRIX_RECOVERY_KEY to it: a new data folder, a new\n" +
		"machine or a second deployment of this account then keeps the same identity.\n" +
		"Without it, losing the data folder makes the bot an unverified stranger to its users.\n")
	fmt.Fprintf(&b, "%s\n\n", rule)
	_, _ = a.cfg.Stderr.Write([]byte(b.String()))
}

// warnUnsignedDevice tells the operator, on Config.Stderr, that the device is outside the bot's
// identity and how to bring it back.
func (a *Adapter) warnUnsignedDevice(master id.Ed25519) {
	var b strings.Builder
	rule := strings.Repeat("!", 78)
	fmt.Fprintf(&b, "\n%s\nmeetbot: the Matrix device %s of %s is NOT verified by the bot's identity\n\n", rule, a.cli.DeviceID, a.cli.UserID)
	fmt.Fprintf(&b, "The account's cross-signing identity (master key %s) did not sign this device:\n", master)
	b.WriteString("its data folder was lost or replaced, or the bot runs on a new machine, without\n" +
		"MATRIX_RECOVERY_KEY. Element marks the bot's messages with a red shield, and clients\n" +
		"that exclude unverified devices neither read them nor send the bot their commands.\n\n" +
		"Fix: set MATRIX_RECOVERY_KEY to the recovery key printed when the identity was\n" +
		"created, and restart. If that key is lost, see the README (Matrix troubleshooting).\n")
	fmt.Fprintf(&b, "%s\n\n", rule)
	_, _ = a.cfg.Stderr.Write([]byte(b.String()))
}
