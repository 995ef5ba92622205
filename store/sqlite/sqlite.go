// Package sqlite is the embedded Store: one SQLite file (modernc.org/sqlite, pure Go), the default
// for a single bot process.
//
// The database runs in WAL mode with a busy timeout, immediate transactions and foreign keys on,
// so concurrent writers wait for each other instead of losing writes. The store itself, its
// queries and its migrations are shared with store/postgres (store/internal/sqlstore); this
// package opens the file and says how SQLite differs. Lease expiry is judged by this process's
// clock, the only clock when one process owns the file.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlitedrv "modernc.org/sqlite" // also registers driver "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/internal/sqlstore"
)

// Memory is the path that opens a private in-memory database (STORE_URL sqlite::memory:).
const Memory = ":memory:"

// pragmas are applied to every connection: see the package comment.
const pragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// dialect is how SQLite differs: times are Unix microseconds, booleans 0 and 1, and "now" is
// this process's clock (Now empty).
var dialect = sqlstore.Dialect{
	Name:        "sqlite",
	Microsecond: "1",
	Prepare:     true,
	Time: func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UnixMicro()
	},
	IsForeignKeyViolation: func(err error) bool {
		var se *sqlitedrv.Error
		return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	},
	// The file cannot be opened (its folder is gone or not a folder, no permission) or read.
	IsUnavailable: func(err error) bool {
		var se *sqlitedrv.Error
		if !errors.As(err, &se) {
			return false
		}
		code := se.Code() & 0xff
		return code == sqlite3.SQLITE_CANTOPEN || code == sqlite3.SQLITE_IOERR
	},
}

// DB is a Store kept in one SQLite database. It is safe for concurrent use.
type DB struct {
	*sqlstore.DB
}

var _ store.Store = (*DB)(nil)

// Open opens the SQLite database at path, creating it and its folder when missing, and brings its
// schema up to date. Path Memory opens a fresh in-memory database that lives until Close. key is
// MEETBOT_SECRET_KEY decoded (store.ParseSecretKey), previous the keys PINs may still be sealed
// under (MEETBOT_SECRET_KEY_PREVIOUS); logger may be nil. If the file cannot be opened, the
// error wraps store.ErrUnavailable.
func Open(ctx context.Context, path string, key []byte, logger *slog.Logger, previous ...[]byte) (*DB, error) {
	seal, err := store.NewSealer(key, previous...)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var dsn string
	memory := path == Memory
	switch {
	case memory:
		// :memory: is per connection; a unique shared-cache name lets the pool see one database,
		// and a single connection avoids shared-cache table locks.
		var b [8]byte
		_, _ = rand.Read(b[:])
		dsn = "file:meetbot-" + hex.EncodeToString(b[:]) + "?mode=memory&cache=shared&" + pragmas
	case path == "":
		return nil, errors.New("sqlite: empty path")
	case strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("sqlite path %q: must be a plain file path without ? or #", path)
	default:
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("sqlite: create folder of %s: %w", path, err)
			}
		}
		dsn = path + "?" + pragmas
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if memory {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
	}
	if err := migrateRetryingBusy(ctx, db, logger); err != nil {
		db.Close()
		return nil, sqlstore.Errorf(dialect, "sqlite: %s: %w", path, err)
	}
	return &DB{sqlstore.New(db, dialect, seal)}, nil
}

// migrateRetryingBusy migrates, trying again while the database answers SQLITE_BUSY: when
// several processes open a fresh file at once, the one switching it to WAL can make the others
// fail at once rather than wait out busy_timeout. Each migration is its own transaction, so a
// retry starts from the version reached.
func migrateRetryingBusy(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	wait := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := sqlstore.Migrate(ctx, db, dialect, logger)
		var se *sqlitedrv.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || attempt == 10 {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}
