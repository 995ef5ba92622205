// Package storeurl opens the Store the STORE_URL setting names:
//
//	sqlite:PATH        an SQLite file (its folder is made if missing); the default is DefaultURL
//	sqlite::memory:    a private in-memory SQLite database, for tests and demos
//	postgres://…       PostgreSQL (also postgresql://…), for several replicas
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/postgres"
	"github.com/meetbot/meetbot/store/sqlite"
)

// DefaultURL is the STORE_URL used when the setting is empty.
const DefaultURL = "sqlite:data/meetbot.db"

// URLError reports a STORE_URL that names no store Open can open: the setting itself is wrong,
// not the database behind it. Reason never repeats the URL, which may hold a password.
type URLError struct {
	Reason string // e.g. `unsupported scheme "mysql": want sqlite:PATH, sqlite::memory: or postgres://…`
	Err    error  // the cause, if any
}

// Error names the setting and the reason.
func (e *URLError) Error() string { return "STORE_URL: " + e.Reason }

// Unwrap returns the cause.
func (e *URLError) Unwrap() error { return e.Err }

const want = "want sqlite:PATH, sqlite::memory: or postgres://…"

// Open opens the store url names, sealing PINs under key (MEETBOT_SECRET_KEY decoded with
// store.ParseSecretKey) and still reading PINs sealed under any of previous
// (MEETBOT_SECRET_KEY_PREVIOUS, store.ParsePreviousKeys), and brings its schema up to date. If url itself is wrong, the error is
// a *URLError; other errors (the database cannot be reached, its schema is newer) name STORE_URL
// too. No error repeats a URL that could hold a password. logger may be nil.
func Open(ctx context.Context, url string, key []byte, logger *slog.Logger, previous ...[]byte) (store.Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, err := store.NewSealer(key, previous...); err != nil {
		return nil, err // names MEETBOT_SECRET_KEY
	}
	url = strings.TrimSpace(url)
	switch {
	case url == "":
		return nil, &URLError{Reason: "empty: " + want}
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		s, err := postgres.Open(ctx, url, key, logger.With("store", "postgres"), previous...)
		if errors.Is(err, postgres.ErrBadURL) {
			return nil, &URLError{Reason: "not a valid PostgreSQL URL (not shown: it may hold a password)", Err: err}
		}
		if err != nil {
			return nil, fmt.Errorf("STORE_URL (postgres): %w", err)
		}
		logger.Info("store opened", "backend", "postgres")
		return s, nil
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if path == "" {
			return nil, &URLError{Reason: "sqlite: names no file: want sqlite:PATH or sqlite::memory:"}
		}
		if path != sqlite.Memory && (strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:")) {
			return nil, &URLError{Reason: fmt.Sprintf("sqlite path %q: want a plain file path without ? or #", path)}
		}
		s, err := sqlite.Open(ctx, path, key, logger.With("store", "sqlite"), previous...)
		if err != nil {
			return nil, fmt.Errorf("STORE_URL (sqlite): %w", err)
		}
		logger.Info("store opened", "backend", "sqlite", "path", path)
		return s, nil
	}
	scheme, _, ok := strings.Cut(url, ":")
	if !ok || strings.ContainsAny(scheme, "/@") {
		return nil, &URLError{Reason: "no scheme: " + want}
	}
	return nil, &URLError{Reason: fmt.Sprintf("unsupported scheme %q: %s", scheme, want)}
}
