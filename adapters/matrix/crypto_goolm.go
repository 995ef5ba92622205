//go:build goolm

package matrix

import (
	"context"

	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
)

// setupCrypto turns on end-to-end encryption with mautrix's cryptohelper, built on the pure-Go
// goolm. Its keys live in the adapter's database, sealed with the pickle key. Messages the bot
// sends to an encrypted room are encrypted for every joined or invited member's devices.
func (a *Adapter) setupCrypto(ctx context.Context) error {
	helper, err := cryptohelper.NewCryptoHelper(a.cli, []byte(a.cfg.PickleKey.Reveal()), a.db)
	if err != nil {
		return err
	}
	helper.DecryptErrorCallback = func(evt *event.Event, err error) {
		a.log.Warn("cannot decrypt a message", "room", evt.RoomID, "event", evt.ID, "sender", evt.Sender, "err", err)
	}
	if err := helper.Init(ctx); err != nil {
		return err
	}
	a.cli.Crypto = helper
	return nil
}
