//go:build goolm

package matrix

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
)

// setupCrypto turns on end-to-end encryption with mautrix's cryptohelper, built on the pure-Go
// goolm. Its keys live in the adapter's database, sealed with the pickle key. Messages the bot
// sends to an encrypted room are encrypted for every joined or invited member's devices. Then it
// makes sure the device is cross-signed by the bot's identity (see ensureIdentity).
func (a *Adapter) setupCrypto(ctx context.Context) error {
	stored, err := a.cryptoDevice(ctx)
	if err != nil {
		return err
	}
	if stored == "" {
		// A fresh database on a device that already has keys on the homeserver: the device's
		// keys were lost with the data folder, and mautrix would refuse with a cryptic line.
		if err := a.refuseLostDevice(ctx); err != nil {
			return err
		}
	}
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
	return a.ensureIdentity(ctx, helper.Machine())
}

// refuseLostDevice fails when the bot's device already has encryption keys on the homeserver.
// Only an access token gets here (a password login picks a new device for a fresh database).
func (a *Adapter) refuseLostDevice(ctx context.Context) error {
	resp, err := a.cli.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{a.cli.UserID: {a.cli.DeviceID}}})
	if err != nil {
		return fmt.Errorf("query the device's keys: %w", err)
	}
	if dev, ok := resp.DeviceKeys[a.cli.UserID][a.cli.DeviceID]; ok && len(dev.Keys) > 0 {
		return fmt.Errorf("%w: device %s of MATRIX_ACCESS_TOKEN already has encryption keys on the homeserver, "+
			"but the Matrix database has none (the data folder was lost or replaced); the keys cannot be recovered: "+
			"log in as a new device (a new MATRIX_ACCESS_TOKEN, or MATRIX_PASSWORD instead) and set MATRIX_RECOVERY_KEY to keep the bot's identity",
			ErrIdentity, a.cli.DeviceID)
	}
	return nil
}
