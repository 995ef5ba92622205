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

// Open opens the store url names, sealing PINs under key (MEETBOT_SECRET_KEY decoded with
// store.ParseSecretKey), and brings its schema up to date. Errors name the STORE_URL setting and
// never repeat a URL that could hold a password. logger may be nil.
func Open(ctx context.Context, url string, key []byte, logger *slog.Logger) (store.Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, err := store.NewSealer(key); err != nil {
		return nil, err // names MEETBOT_SECRET_KEY
	}
	url = strings.TrimSpace(url)
	switch {
	case url == "":
		return nil, errors.New("STORE_URL is empty: want sqlite:PATH, sqlite::memory: or postgres://…")
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		s, err := postgres.Open(ctx, url, key, logger.With("store", "postgres"))
		if err != nil {
			return nil, fmt.Errorf("STORE_URL (postgres): %w", err)
		}
		logger.Info("store opened", "backend", "postgres")
		return s, nil
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if path == "" {
			return nil, errors.New("STORE_URL sqlite: names no file: want sqlite:PATH or sqlite::memory:")
		}
		s, err := sqlite.Open(ctx, path, key, logger.With("store", "sqlite"))
		if err != nil {
			return nil, fmt.Errorf("STORE_URL (sqlite): %w", err)
		}
		logger.Info("store opened", "backend", "sqlite", "path", path)
		return s, nil
	}
	scheme, _, ok := strings.Cut(url, ":")
	if !ok || strings.ContainsAny(scheme, "/@") {
		scheme = "(none)"
	}
	return nil, fmt.Errorf("STORE_URL has unsupported scheme %q: want sqlite:PATH, sqlite::memory: or postgres://…", scheme)
}
