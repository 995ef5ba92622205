package matrix

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
)

// Config holds the Matrix account and behaviour of the adapter. Homeserver, UserID and one of
// AccessToken or Password are required.
type Config struct {
	// Homeserver is the client-server API base URL (MATRIX_HOMESERVER), e.g. https://matrix.example.org.
	Homeserver string
	// UserID is the bot's full user id (MATRIX_USER_ID), e.g. @meetbot:example.org.
	UserID string
	// AccessToken logs in with an existing device (MATRIX_ACCESS_TOKEN).
	AccessToken chat.Secret
	// Password logs in when AccessToken is empty (MATRIX_PASSWORD). The device id is kept in the
	// SyncStore, so later starts log in to the same device and keep its encryption keys.
	Password chat.Secret
	// PickleKey protects the bot's encryption keys at rest (MATRIX_PICKLE_KEY). Empty disables
	// end-to-end encryption: the bot then cannot read or post in encrypted rooms. Encryption needs a
	// binary built with -tags goolm.
	PickleKey chat.Secret
	// RecoveryKey unlocks the account's cross-signing keys kept on the homeserver (secret storage,
	// MATRIX_RECOVERY_KEY). With it, a new device or a fresh data folder takes over the bot's
	// existing identity instead of appearing as an unverified one. Empty: the bot creates the
	// identity at its first encrypted start and shows the new recovery key once on Stderr.
	RecoveryKey chat.Secret
	// RequireVerified refuses commands from devices not cross-signed by their owner
	// (MATRIX_REQUIRE_VERIFIED); the sender gets one notice saying why. Commands in unencrypted
	// rooms are then refused too, since nothing there says which device sent them.
	RequireVerified bool
	// Stderr receives what only the operator may see, once: the recovery key when the identity is
	// created, and the banner when the device lost its identity. Nil means os.Stderr.
	Stderr io.Writer
	// Allow lists who may invite and command the bot: user ids ("@alice:example.org"), homeserver
	// domains ("example.org"), or "*" for anyone. Empty allows users of the bot's own homeserver.
	Allow []string
	// DataDir holds the bot's Matrix database (room state and encryption keys), matrix.db, unless
	// DB is set.
	DataDir string
	// DB optionally holds the room state and encryption keys in an existing database instead of
	// DataDir, e.g. PostgreSQL through pgx's stdlib driver. DBDialect is then "postgres" or "sqlite".
	DB        *sql.DB
	DBDialect string
	// DeviceName names the device created by a password login ("meetbot").
	DeviceName string
	// IsNotFound recognises the SyncStore's not-found error (store.ErrNotFound). When nil, only an
	// empty value counts as none and every error from GetValue stops start-up.
	IsNotFound func(error) bool
	// ChoiceTTL is how long a numbered choice or a confirmation can be picked up with "!meet 2" or
	// "!meet confirm". Default five minutes.
	ChoiceTTL time.Duration
	// HandlerTimeout bounds one command. Default one minute.
	HandlerTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SyncStore keeps small values across restarts: the sync token and the device id. store.KV
// satisfies it.
type SyncStore interface {
	GetValue(ctx context.Context, key string) (string, error)
	PutValue(ctx context.Context, key, value string) error
}

// ErrConfig marks a configuration the adapter cannot start with; the message names the setting.
var ErrConfig = errors.New("matrix configuration")

func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	if c.Homeserver == "" {
		return bad("MATRIX_HOMESERVER is not set")
	}
	u, err := url.Parse(c.Homeserver)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("MATRIX_HOMESERVER %q is not an http(s) URL", c.Homeserver)
	}
	if _, _, err := id.UserID(c.UserID).Parse(); err != nil || !strings.HasPrefix(c.UserID, "@") {
		return bad("MATRIX_USER_ID %q is not a user id like @meetbot:example.org", c.UserID)
	}
	if c.AccessToken == "" && c.Password == "" {
		return bad("set MATRIX_ACCESS_TOKEN or MATRIX_PASSWORD")
	}
	if c.DB == nil && c.DataDir == "" {
		return bad("no data folder for the Matrix database")
	}
	if c.DB != nil && c.DBDialect != "postgres" && c.DBDialect != "sqlite" {
		return bad("database dialect %q: want postgres or sqlite", c.DBDialect)
	}
	for _, a := range c.Allow {
		a = strings.TrimSpace(a)
		if a == "" {
			return bad("empty entry in the allow-list")
		}
		if strings.HasPrefix(a, "@") {
			if _, _, err := id.UserID(a).Parse(); err != nil {
				return bad("allow-list entry %q is not a user id", a)
			}
		} else if a != "*" && strings.ContainsAny(a, "@/ ") {
			return bad("allow-list entry %q is neither a user id nor a homeserver domain", a)
		}
	}
	if c.DeviceName == "" {
		c.DeviceName = "meetbot"
	}
	if c.ChoiceTTL <= 0 {
		c.ChoiceTTL = 5 * time.Minute
	}
	if c.HandlerTimeout <= 0 {
		c.HandlerTimeout = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.RecoveryKey != "" && c.PickleKey == "" {
		return bad("MATRIX_RECOVERY_KEY is set but MATRIX_PICKLE_KEY is not: the identity needs encryption on")
	}
	if c.RequireVerified && c.PickleKey == "" {
		return bad("MATRIX_REQUIRE_VERIFIED needs encryption (MATRIX_PICKLE_KEY): only encrypted messages say which device sent them")
	}
	return nil
}

// allowed reports whether user may invite and command the bot. ownServer is the bot's homeserver.
func allowed(allow []string, ownServer string, user id.UserID) bool {
	server := user.Homeserver()
	if len(allow) == 0 {
		return server != "" && strings.EqualFold(server, ownServer)
	}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		switch {
		case a == "*":
			return true
		case strings.HasPrefix(a, "@"):
			if id.UserID(a) == user {
				return true
			}
		case server != "" && strings.EqualFold(a, server):
			return true
		}
	}
	return false
}
