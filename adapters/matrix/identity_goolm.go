//go:build goolm

package matrix

import (
	"context"
	"errors"
	"fmt"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/signatures"
	"maunium.net/go/mautrix/id"
)

// serverIdentity is what the homeserver says about the bot's cross-signing identity and device.
type serverIdentity struct {
	master       id.Ed25519 // "" when the account has no cross-signing keys
	deviceSigned bool       // the device is signed by a self-signing key the master key signed
}

// queryIdentity asks the homeserver for the account's cross-signing keys and checks the
// signatures that make this device part of the identity.
func (a *Adapter) queryIdentity(ctx context.Context) (serverIdentity, error) {
	me, device := a.cli.UserID, a.cli.DeviceID
	resp, err := a.cli.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{me: {}}})
	if err != nil {
		return serverIdentity{}, fmt.Errorf("query the account's keys: %w", err)
	}
	var st serverIdentity
	mk, ok := resp.MasterKeys[me]
	if !ok {
		return st, nil
	}
	st.master = mk.FirstKey()
	ssk, ok := resp.SelfSigningKeys[me]
	if !ok {
		return st, nil
	}
	sskKey := ssk.FirstKey()
	if ok, _ := signatures.VerifySignatureJSON(ssk, me, st.master.String(), st.master); !ok {
		return st, nil
	}
	dev, ok := resp.DeviceKeys[me][device]
	if !ok {
		return st, nil
	}
	st.deviceSigned, _ = signatures.VerifySignatureJSON(dev, me, sskKey.String(), sskKey)
	return st, nil
}

// ensureIdentity makes the device part of the bot's cross-signing identity, so Element shows no
// red shield on its messages and clients that exclude unverified devices still talk to it:
//
//   - no identity on the account: create one (master, self-signing and user-signing keys, their
//     private halves in secret storage under a new recovery key), sign the device, and show the
//     recovery key once on Config.Stderr;
//   - the device is already signed: nothing to do;
//   - an identity the device is not part of (a new device, a lost data folder, a second
//     deployment): with Config.RecoveryKey, fetch the keys from secret storage and sign the
//     device; without it, say loudly what is wrong and how to fix it, and go on unverified.
//
// The master key is remembered in the SyncStore, so an identity replaced behind the bot's back is
// reported too. Uploading new keys needs the account's password (user-interactive auth).
func (a *Adapter) ensureIdentity(ctx context.Context, mach *crypto.OlmMachine) error {
	st, err := a.queryIdentity(ctx)
	if err != nil {
		return err
	}
	remembered, err := a.getValue(ctx, a.key("master_key"))
	if err != nil {
		return err
	}
	log := a.log.With("device", a.cli.DeviceID)
	if st.master != "" && remembered != "" && remembered != st.master.String() {
		log.Error("the bot's cross-signing identity changed on the homeserver since the last start; if nobody reset it on purpose, someone else has the account's password",
			"previous_master_key", remembered, "master_key", st.master)
	}
	switch {
	case st.master == "":
		if a.cfg.RecoveryKey != "" {
			return fmt.Errorf("%w: MATRIX_RECOVERY_KEY is set but %s has no cross-signing identity on the homeserver to recover: "+
				"unset MATRIX_RECOVERY_KEY to create a new identity", ErrIdentity, a.cli.UserID)
		}
		if remembered != "" {
			log.Error("the bot's cross-signing identity is gone from the homeserver; creating a new one: users who verified the bot must verify it again",
				"previous_master_key", remembered)
		}
		master, recovery, err := a.createIdentity(ctx, mach)
		if err != nil {
			var herr mautrix.HTTPError
			if errors.As(err, &herr) && herr.IsStatus(401) {
				log.Error("cannot set up the bot's cross-signing identity: the homeserver asks for the account's password; " +
					"set MATRIX_PASSWORD (once is enough) and restart. Until then Element marks the bot's messages with a red shield")
				return nil
			}
			return fmt.Errorf("set up cross-signing: %w", err)
		}
		a.showRecoveryKey(recovery)
		log.Info("created the bot's cross-signing identity and signed this device", "master_key", master)
		st.master = master
	case st.deviceSigned:
	case a.cfg.RecoveryKey != "":
		if err := mach.VerifyWithRecoveryKey(ctx, a.cfg.RecoveryKey.Reveal()); err != nil {
			return fmt.Errorf("%w: MATRIX_RECOVERY_KEY does not unlock the cross-signing keys of %s (master key %s): %w",
				ErrIdentity, a.cli.UserID, st.master, err)
		}
		log.Info("signed this device with the bot's identity from MATRIX_RECOVERY_KEY", "master_key", st.master)
	default:
		a.warnUnsignedDevice(st.master)
		log.Error("this device is not signed by the bot's cross-signing identity: Element marks its messages with a red shield and clients that exclude unverified devices ignore it; "+
			"set MATRIX_RECOVERY_KEY to the recovery key shown when the identity was created and restart (README: Matrix troubleshooting)",
			"master_key", st.master)
	}
	if st.master.String() != remembered {
		if err := a.kv.PutValue(ctx, a.key("master_key"), st.master.String()); err != nil {
			return fmt.Errorf("keep the master key: %w", err)
		}
	}
	return nil
}

// createIdentity publishes new cross-signing keys (first, since that is the step that may need a
// password, so a refusal leaves nothing behind), signs the device and the master key, and keeps
// the private keys in secret storage under a new recovery key.
func (a *Adapter) createIdentity(ctx context.Context, mach *crypto.OlmMachine) (id.Ed25519, string, error) {
	keys, err := mach.GenerateCrossSigningKeys()
	if err != nil {
		return "", "", err
	}
	uia := func(resp *mautrix.RespUserInteractive) any {
		if a.cfg.Password == "" || !resp.HasSingleStageFlow(mautrix.AuthTypePassword) {
			return nil
		}
		return &mautrix.ReqUIAuthLogin{
			BaseAuthData: mautrix.BaseAuthData{Type: mautrix.AuthTypePassword, Session: resp.Session},
			User:         a.cli.UserID.String(),
			Password:     a.cfg.Password.Reveal(),
		}
	}
	if err := mach.PublishCrossSigningKeys(ctx, keys, uia); err != nil {
		return "", "", fmt.Errorf("publish the keys: %w", err)
	}
	if err := mach.SignOwnDevice(ctx, mach.OwnIdentity()); err != nil {
		return "", "", fmt.Errorf("sign the device: %w", err)
	}
	if err := mach.SignOwnMasterKey(ctx); err != nil {
		return "", "", fmt.Errorf("sign the master key: %w", err)
	}
	key, err := mach.SSSS.GenerateAndUploadKey(ctx, "")
	if err != nil {
		return "", "", fmt.Errorf("create the recovery key: %w", err)
	}
	if err := mach.UploadCrossSigningKeysToSSSS(ctx, key, keys); err != nil {
		return "", "", fmt.Errorf("store the keys in secret storage: %w", err)
	}
	if err := mach.SSSS.SetDefaultKeyID(ctx, key.ID); err != nil {
		return "", "", fmt.Errorf("make the recovery key the default: %w", err)
	}
	return keys.MasterKey.PublicKey(), key.RecoveryKey(), nil
}
