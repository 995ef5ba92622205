package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/meetbot/meetbot/store"
)

// previousKeys decodes MEETBOT_SECRET_KEY_PREVIOUS; a malformed key is a setting error naming
// the setting and the key's position, never the key.
func previousKeys(cfg Config) ([][]byte, error) {
	const setting = "MEETBOT_SECRET_KEY_PREVIOUS"
	keys, err := store.ParsePreviousKeys(cfg.SecretKeyPrevious.Reveal())
	if err != nil {
		return nil, settingErr(setting, "%s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), setting), " "))
	}
	return keys, nil
}

// resealLinks moves the PINs sealed under a previous key to the current one, so the previous
// key can be dropped from the settings after this start. It logs what it did (never a key or a
// PIN). A failure is only a warning: the links still read with the previous keys, and the next
// start tries again.
func resealLinks(ctx context.Context, st store.Resealer, log *slog.Logger) {
	n, err := st.ResealLinks(ctx)
	var ue *store.UnreadableLinksError
	switch {
	case errors.As(err, &ue):
		for _, ch := range ue.Channels {
			log.Warn("link sealed under a key that is neither MEETBOT_SECRET_KEY nor in MEETBOT_SECRET_KEY_PREVIOUS: it cannot be followed; unlink and link it again", "channel", ch.String())
		}
	case err != nil:
		log.Warn("resealing links under the current key failed; they still read with the previous keys, and the next start tries again", "err", err, "resealed", n)
		return
	}
	log.Info("links resealed under the current MEETBOT_SECRET_KEY; once every replica runs with it, MEETBOT_SECRET_KEY_PREVIOUS can be removed", "resealed", n)
}
